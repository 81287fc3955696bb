/* What the map families in cext/maps/ share, private to the map code.
 *
 * bt_map.c does the checks common to every type (name, access flags, frozen,
 * map_extra, inner_map_id) and dispatches to one bt_map_ops table per family.
 * A NULL entry means "not defined for this type": bt_map.c answers NULL or
 * -EOPNOTSUPP. Ops tables are process-local constants; nothing here is ever
 * stored in the segment.
 */
#ifndef BT_MAP_IMPL_H
#define BT_MAP_IMPL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bt_err.h"
#include "bt_map.h"

/* limits the kernel applies when creating maps (x86-64 values) */
#define BT_KMALLOC_MAX_SIZE (1u << 22)
#define BT_MAX_BPF_STACK 512u
#define BT_PCPU_MIN_UNIT_SIZE (32u << 10)
#define BT_F_ACCESS_MASK (BT_F_RDONLY | BT_F_WRONLY | BT_F_RDONLY_PROG | BT_F_WRONLY_PROG)

typedef struct bt_map_ops {
    /* creation: the kernel's attribute checks, the size of the type-specific data
     * (0 when it would overflow), and initialisation of zeroed data (optional) */
    int (*check)(const bt_map_attr *a, char *err, size_t errlen);
    uint64_t (*data_size)(const bt_map_attr *a, uint32_t ncpu);
    void (*init)(bt_map *m);
    /* program side */
    void *(*lookup)(bt_map *m, const void *key);
    long (*update)(bt_map *m, const void *key, const void *value, uint64_t flags);
    long (*delete)(bt_map *m, const void *key);
    long (*push)(bt_map *m, const void *value, uint64_t flags);
    long (*pop)(bt_map *m, void *value);
    long (*peek)(bt_map *m, void *value);
    /* user side */
    int (*user_lookup)(bt_map *m, const void *key, void *value);
    int (*user_update)(bt_map *m, const void *key, const void *value, uint64_t flags);
    /* optional: n updates, fewer lock round trips; *done = elements updated */
    int (*user_update_batch)(bt_map *m, const void *const *keys, const void *const *values,
                             uint32_t n, uint64_t flags, uint32_t *done);
    int (*user_delete)(bt_map *m, const void *key);
    int (*next_key)(bt_map *m, const void *key, void *next);
    int (*lookup_and_delete)(bt_map *m, const void *key, void *value);
    uint64_t (*count)(bt_map *m);
    long (*for_each)(bt_map *m, bt_map_elem_cb cb, void *cb_ctx);
    /* rebuild free lists and counts after the map lock was taken over from a
     * holder that died in the middle of an update */
    void (*repair)(bt_map *m);
} bt_map_ops;

extern const bt_map_ops bt_array_ops, bt_percpu_array_ops, bt_prog_array_ops, bt_perf_ops,
    bt_hash_ops, bt_stackmap_ops, bt_lpm_ops, bt_array_of_maps_ops, bt_hash_of_maps_ops,
    bt_queue_ops, bt_ringbuf_ops, bt_bloom_ops;

/* Take the map lock; repair the map if its previous holder died. */
void bt_map__lock(bt_map *m);
static inline void bt_map__unlock(bt_map *m)
{
    bt_lock__release(&m->lock);
}

/* shared attribute checks (the kernel's array_map_alloc_check,
 * fd_array_map_alloc_check, htab_map_alloc_check) */
int bt_array__check_attr(const bt_map_attr *a, char *err, size_t errlen);
int bt_fd_array__check_attr(const bt_map_attr *a, char *err, size_t errlen);
int bt_hash__check_attr(const bt_map_attr *a, char *err, size_t errlen);
/* the hash map's operations, which HASH_OF_MAPS reuses for its storage */
uint64_t bt_hash__data_size(const bt_map_attr *a, uint32_t ncpu);
void bt_hash__init(bt_map *m);
void *bt_hash__lookup(bt_map *m, const void *key);
int bt_hash__user_lookup(bt_map *m, const void *key, void *value);
int bt_hash__user_update(bt_map *m, const void *key, const void *value, uint64_t flags);
int bt_hash__user_delete(bt_map *m, const void *key);
int bt_hash__next_key(bt_map *m, const void *key, void *next);
uint64_t bt_hash__count(bt_map *m);
void bt_hash__repair(bt_map *m);
/* array_map_get_next_key, for every array-shaped type */
int bt_array__next_key(bt_map *m, const void *key, void *next);

static inline uint64_t bt_round8(uint64_t v)
{
    return (v + 7) & ~7ULL;
}
static inline uint64_t bt_round16(uint64_t v)
{
    return (v + 15) & ~15ULL;
}
static inline void *bt_map__at(const bt_map *m, uint64_t off)
{
    return bt_map__base(m) + off;
}
static inline uint64_t bt_map__off_of(const bt_map *m, const void *p)
{
    return (uint64_t)((const uint8_t *)p - bt_map__base(m));
}
static inline uint32_t bt_key_u32(const void *key)
{
    uint32_t v;
    memcpy(&v, key, 4);
    return v;
}
static inline uint64_t bt_roundup_pow2(uint64_t v)
{
    return v <= 1 ? 1 : 1ULL << (64 - __builtin_clzll(v - 1));
}
/* a * b + c, or 0 on overflow */
static inline uint64_t bt_mul_add(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
        return 0;
    return r;
}

/* 32-bit hash of a byte string with a seed: 8 bytes per round of
 * multiply-xorshift, then a final avalanche. Not the kernel's jhash (nothing
 * outside this process family sees the buckets), but as well distributed. */
static inline uint32_t bt_hash_bytes(const void *data, uint32_t len, uint64_t seed)
{
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    uint64_t w;
    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    if (len) {
        if (len == 4) { /* the common u32 key: one load instead of a memcpy call */
            uint32_t w32;
            memcpy(&w32, p, 4);
            w = w32;
        } else {
            w = 0;
            for (uint32_t i = 0; i < len; i++)
                w |= (uint64_t)p[i] << (8 * i);
        }
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    h ^= h >> 32;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 29;
    return (uint32_t)h;
}

/* key equality, without a memcmp call for the common key sizes */
static inline int bt_key_eq(const void *a, const void *b, uint32_t size)
{
    switch (size) {
    case 4: {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    case 8: {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    case 16: {
        uint64_t x[2], y[2];
        memcpy(x, a, 16);
        memcpy(y, b, 16);
        return x[0] == y[0] && x[1] == y[1];
    }
    default:
        return memcmp(a, b, size) == 0;
    }
}

/* a random seed for a new map (0 with BT_F_ZERO_SEED) */
uint64_t bt_map__seed(const bt_map_attr *a);

#endif
