/* eBPF maps in the shared-memory segment, with the kernel's semantics.
 *
 * A map is a bt_map header plus type-specific data, all inside one segment
 * (bt_shm.h). The header records its own offset (self_off), so code holding
 * only a bt_map pointer (a helper called from a program) finds the segment
 * base as (uint8_t *)m - m->self_off and follows offsets from there. Every
 * structure starts with magic, version and size; bt_map__check validates them.
 *
 * Two faces, as in the kernel:
 *  - program side (helpers, called while programs run; never allocate, never
 *    block for long): bt_map__lookup_elem returns a pointer into the map,
 *    per-CPU maps show the current CPU's slot only;
 *  - user side (the bpf() syscall's semantics; used by Python and the CLI):
 *    values are copied, per-CPU values are ncpu slots of round_up(value_size, 8)
 *    bytes, map-in-map values are inner map ids, prog-array values are prog ids.
 *
 * Errors are negative errno values with the kernel's meanings: -ENOENT (no such
 * key), -EEXIST (BPF_NOEXIST on an existing key), -E2BIG (full), -EINVAL (bad
 * flags or attributes), -ENOTSUP/-EOPNOTSUPP (operation not defined for the
 * type), -ENOMEM (segment full).
 *
 * Concurrency: any number of processes and threads may use a map at once.
 * Updates and deletes take the map's bt_lock (robust against holder death;
 * the map repairs its free lists and counts when a waiter takes the lock over);
 * lookups do not lock. Elements are filled completely before one store
 * publishes them, so a process killed at any moment leaves the map usable.
 * As in the kernel, array values are written in place without the lock (a
 * racing reader may see a torn value); ring buffer producers serialise on the
 * map lock, each perf ring on its own; each ring has one consumer at a time.
 */
#ifndef BT_MAP_H
#define BT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "bt_lock.h"
#include "bt_shm.h"

/* map types: the kernel's enum bpf_map_type ids */
enum {
    BT_MAP_HASH = 1,
    BT_MAP_ARRAY = 2,
    BT_MAP_PROG_ARRAY = 3,
    BT_MAP_PERF_EVENT_ARRAY = 4,
    BT_MAP_PERCPU_HASH = 5,
    BT_MAP_PERCPU_ARRAY = 6,
    BT_MAP_STACK_TRACE = 7,
    BT_MAP_LRU_HASH = 9,
    BT_MAP_LRU_PERCPU_HASH = 10,
    BT_MAP_LPM_TRIE = 11,
    BT_MAP_ARRAY_OF_MAPS = 12,
    BT_MAP_HASH_OF_MAPS = 13,
    BT_MAP_QUEUE = 22,
    BT_MAP_STACK = 23,
    BT_MAP_RINGBUF = 27,
    BT_MAP_BLOOM_FILTER = 30,
};

/* update flags (low 32 bits; higher bits must be 0) */
enum { BT_ANY = 0, BT_NOEXIST = 1, BT_EXIST = 2, BT_F_LOCK = 4 };

/* map_flags the kernel defines and we accept */
enum {
    BT_F_NO_PREALLOC = 1u << 0,
    BT_F_NO_COMMON_LRU = 1u << 1,
    BT_F_NUMA_NODE = 1u << 2,
    BT_F_RDONLY = 1u << 3,
    BT_F_WRONLY = 1u << 4,
    BT_F_STACK_BUILD_ID = 1u << 5,
    BT_F_ZERO_SEED = 1u << 6,
    BT_F_RDONLY_PROG = 1u << 7,
    BT_F_WRONLY_PROG = 1u << 8,
    BT_F_CLONE = 1u << 9,
    BT_F_MMAPABLE = 1u << 10,
    BT_F_PRESERVE_ELEMS = 1u << 11,
    BT_F_INNER_MAP = 1u << 12,
};

/* ringbuf record header bits and flags (kernel layout) */
#define BT_RINGBUF_BUSY_BIT (1u << 31)
#define BT_RINGBUF_DISCARD_BIT (1u << 30)
#define BT_RINGBUF_HDR_SZ 8
enum { BT_RB_NO_WAKEUP = 1, BT_RB_FORCE_WAKEUP = 2 };
enum { BT_RB_AVAIL_DATA = 0, BT_RB_RING_SIZE = 1, BT_RB_CONS_POS = 2, BT_RB_PROD_POS = 3 };

/* perf_event_output / get_stackid flags */
#define BT_F_INDEX_MASK 0xffffffffULL
#define BT_F_CURRENT_CPU BT_F_INDEX_MASK
#define BT_F_SKIP_FIELD_MASK 0xffULL
#define BT_F_USER_STACK (1ULL << 8)
#define BT_F_FAST_STACK_CMP (1ULL << 9)
#define BT_F_REUSE_STACKID (1ULL << 10)

#define BT_MAP_MAGIC 0x50414d5f54504230ULL /* "0BPT_MAP" */
#define BT_MAP_VERSION 1
#define BT_MAP_NAME_LEN 16

typedef struct bt_map_attr {
    uint32_t type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    uint32_t inner_map_id; /* *_OF_MAPS: a map whose shape every inner map must have */
    uint64_t map_extra;    /* BLOOM_FILTER: number of hashes in the low 4 bits */
    char name[BT_MAP_NAME_LEN];
} bt_map_attr;

typedef struct bt_map {
    uint64_t magic;
    uint32_t version;
    uint32_t struct_size;
    uint64_t self_off; /* offset of this header in the segment */
    uint32_t id;
    uint32_t type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    uint64_t map_extra;
    uint32_t ncpu;     /* slots of per-CPU values */
    uint32_t frozen;   /* user-side writes refused (bpf_map_freeze) */
    bt_lock lock;
    uint32_t inner_map_id;
    char name[BT_MAP_NAME_LEN];
    uint64_t data_off; /* type-specific data, offset from the segment base */
    uint64_t data_size;
    uint64_t aux[8];   /* type-specific small state (counts, heads, clock hand...) */
} bt_map;

static inline uint8_t *bt_map__base(const bt_map *m)
{
    return (uint8_t *)m - m->self_off;
}
static inline void *bt_map__data(const bt_map *m)
{
    return bt_map__base(m) + m->data_off;
}
/* Bytes per value on the user side (per-CPU: ncpu * round_up(value_size, 8)). */
uint32_t bt_map__user_value_size(const bt_map *m);

/* --- lifetime ------------------------------------------------------------- */

/* Create a map in the segment; on success *id_out is its id (>= 1).
 * Attributes are checked as the kernel checks them (-EINVAL / -E2BIG, with the
 * reason in err). */
int bt_map__create(bt_shm *shm, const bt_map_attr *attr, uint32_t *id_out, char *err,
                   size_t errlen);
/* The map with this id, or NULL. Checks magic/version/size. */
bt_map *bt_map__from_id(const bt_shm *shm, uint32_t id);
/* The map with this id in the same segment as `any` (for map-in-map), or NULL. */
bt_map *bt_map__sibling(const bt_map *any, uint32_t id);
/* 0 if the header is sane, else -EINVAL. */
int bt_map__check(const bt_map *m);

/* --- program side (helpers 1-3, 87-89) ------------------------------------ */

void *bt_map__lookup_elem(bt_map *m, const void *key);
long bt_map__update_elem(bt_map *m, const void *key, const void *value, uint64_t flags);
long bt_map__delete_elem(bt_map *m, const void *key);
long bt_map__push_elem(bt_map *m, const void *value, uint64_t flags);
long bt_map__pop_elem(bt_map *m, void *value);
long bt_map__peek_elem(bt_map *m, void *value);
/* PROG_ARRAY: the prog id stored at index, 0 if none */
uint32_t bt_map__prog_at(bt_map *m, uint32_t index);

/* --- user side (the bpf() syscall's semantics) ----------------------------- */

int bt_map__user_lookup(bt_map *m, const void *key, void *value);
int bt_map__user_update(bt_map *m, const void *key, const void *value, uint64_t flags);
int bt_map__user_delete(bt_map *m, const void *key);
/* update keys[i] -> values[i] in order; stops at the first failure and returns it;
 * *done = elements updated. Hash maps take their lock per chunk, not per element. */
int bt_map__user_update_batch(bt_map *m, const void *const *keys, const void *const *values,
                              uint32_t n, uint64_t flags, uint32_t *done);
/* key NULL: first key. -ENOENT after the last key. */
int bt_map__get_next_key(bt_map *m, const void *key, void *next_key);
/* QUEUE/STACK: key must be NULL (pop); hash maps: lookup then delete. */
int bt_map__user_lookup_and_delete(bt_map *m, const void *key, void *value);
/* Number of elements currently stored (arrays: max_entries; bloom filter: values
 * pushed; ring buffers and perf arrays: 0). */
uint64_t bt_map__count(bt_map *m);
/* bpf_map_freeze: refuse user-side writes from now on; -EBUSY if already frozen,
 * -EPERM for a BT_F_RDONLY map. Programs may still write. */
int bt_map__freeze(bt_map *m);
/* The segment's bpf_printk ring (a RINGBUF map of BT_TRACE_RING_BYTES named
 * "trace"), created on first use; NULL with a message in err if it cannot be. */
bt_map *bt_map__trace(bt_shm *shm, char *err, size_t errlen);
#define BT_TRACE_RING_BYTES (256u << 10)

/* --- iteration (helper 164) ------------------------------------------------ */

/* Called per element with the program-side view (per-CPU: this CPU's slot);
 * return nonzero to stop. */
typedef long (*bt_map_elem_cb)(void *cb_ctx, bt_map *m, void *key, void *value);
/* Visit the elements of a hash or array map (all four hash types, ARRAY,
 * PERCPU_ARRAY); returns the number visited, including the one that stopped
 * the walk, or -EOPNOTSUPP for other types. Array keys point to a u32 that
 * lives only during the callback. */
long bt_map__for_each(bt_map *m, bt_map_elem_cb cb, void *cb_ctx);

/* --- ring buffer (helpers 130-134; consumer for Python) -------------------- */

void *bt_ringbuf__reserve(bt_map *m, uint64_t size, uint64_t flags);
void bt_ringbuf__submit(void *sample, uint64_t flags);
void bt_ringbuf__discard(void *sample, uint64_t flags);
long bt_ringbuf__output(bt_map *m, const void *data, uint64_t size, uint64_t flags);
uint64_t bt_ringbuf__query(bt_map *m, uint64_t flags);
/* Consume committed records in order; cb returns < 0 to stop early.
 * Returns the number of records consumed, or a negative errno. */
typedef int (*bt_ringbuf_cb)(void *cb_ctx, const void *data, uint32_t size);
long bt_ringbuf__consume(bt_map *m, bt_ringbuf_cb cb, void *cb_ctx);
/* records bpf_ringbuf_reserve/output refused because the ring was full (or the record
 * larger than the ring), since the map was created */
uint64_t bt_ringbuf__dropped(bt_map *m);
/* Kernel layout for other consumers: consumer page, producer page, data. */
uint64_t *bt_ringbuf__consumer_pos(bt_map *m);
uint64_t *bt_ringbuf__producer_pos(bt_map *m);
uint8_t *bt_ringbuf__data(bt_map *m);

/* --- perf event array (helper 25; consumer for Python) --------------------- */

/* flags: BT_F_CURRENT_CPU or a CPU index in the low 32 bits */
long bt_perf__output(bt_map *m, uint64_t flags, const void *data, uint64_t size);
/* Consume the ring of one CPU: sample_cb per PERF_RECORD_SAMPLE with its raw
 * data (the kernel's padded size: a multiple of 8, minus 4), lost_cb per
 * PERF_RECORD_LOST. Returns the number of samples, or -EINVAL (no such CPU or a
 * damaged ring). Each CPU's ring holds BT_PERF_RING_BYTES of records; indexes
 * below max_entries but not below ncpu have no ring (-ENOENT on output, as the
 * kernel for an index without a perf event). */
#define BT_PERF_RING_BYTES (64u << 10)
typedef void (*bt_perf_lost_cb)(void *cb_ctx, uint64_t lost);
long bt_perf__consume(bt_map *m, uint32_t cpu, bt_ringbuf_cb sample_cb, bt_perf_lost_cb lost_cb,
                      void *cb_ctx);
/* samples of ring `cpu` dropped since its last PERF_RECORD_LOST (that record is
 * written before the next sample that fits) */
uint64_t bt_perf__pending_lost(bt_map *m, uint32_t cpu);

/* --- stack trace map (helper 27) ------------------------------------------ */

/* Store ips[skip..n) (skip = flags & BT_F_SKIP_FIELD_MASK; at most value_size/8
 * of them) and return its stack id, or -EEXIST (bucket taken, no
 * BT_F_REUSE_STACKID) / -EFAULT (n <= skip) / -ENOMEM / -EINVAL (bad flags), as
 * the kernel's bpf_get_stackid. */
long bt_stackmap__store(bt_map *m, const uint64_t *ips, uint32_t n, uint64_t flags);
/* Copy the stack with this id into ips (at most max) and return its depth, or
 * -ENOENT. */
long bt_stackmap__lookup(bt_map *m, uint32_t id, uint64_t *ips, uint32_t max);

/* --- helpers for per-CPU data --------------------------------------------- */

/* The CPU this thread runs on, clamped below ncpu. */
uint32_t bt_map__cpu(const bt_map *m);

#endif
