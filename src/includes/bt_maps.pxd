# Declarations of the shared-memory segment, the maps and the map helpers in cext/
# (bt_shm.h, bt_map.h, bt_helpers_map.h, bt_helpers.h).
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from includes.bt cimport bt_ctx, bt_helper_fn


cdef extern from "bt_shm.h" nogil:
    enum:
        BT_SHM_MAX_MAPS, BT_SHM_NAME_MAX

    ctypedef struct bt_shm_header:
        uint32_t ncpu
        uint32_t nmaps
        uint64_t size

    ctypedef struct bt_shm:
        uint8_t *base
        uint64_t size
        int fd
        int owner
        char name[64]

    int bt_shm__create(bt_shm *shm, const char *name, uint64_t size, char *err, size_t errlen)
    int bt_shm__open(bt_shm *shm, const char *name, char *err, size_t errlen)
    void bt_shm__close(bt_shm *shm, int unlink_name)
    bt_shm_header *bt_shm__header(const bt_shm *shm)
    uint64_t bt_shm__available(const bt_shm *shm)
    uint64_t bt_shm__alloc(bt_shm *shm, uint64_t size)


cdef extern from "bt_map.h" nogil:
    enum:
        BT_MAP_HASH, BT_MAP_ARRAY, BT_MAP_PROG_ARRAY, BT_MAP_PERF_EVENT_ARRAY
        BT_MAP_PERCPU_HASH, BT_MAP_PERCPU_ARRAY, BT_MAP_STACK_TRACE, BT_MAP_LRU_HASH
        BT_MAP_LRU_PERCPU_HASH, BT_MAP_LPM_TRIE, BT_MAP_ARRAY_OF_MAPS, BT_MAP_HASH_OF_MAPS
        BT_MAP_QUEUE, BT_MAP_STACK, BT_MAP_RINGBUF, BT_MAP_BLOOM_FILTER
        BT_ANY, BT_NOEXIST, BT_EXIST, BT_F_LOCK
        BT_F_NO_PREALLOC, BT_F_NO_COMMON_LRU, BT_F_NUMA_NODE, BT_F_RDONLY, BT_F_WRONLY
        BT_F_STACK_BUILD_ID, BT_F_ZERO_SEED, BT_F_RDONLY_PROG, BT_F_WRONLY_PROG, BT_F_CLONE
        BT_F_MMAPABLE, BT_F_PRESERVE_ELEMS, BT_F_INNER_MAP
        BT_RB_NO_WAKEUP, BT_RB_FORCE_WAKEUP
        BT_RB_AVAIL_DATA, BT_RB_RING_SIZE, BT_RB_CONS_POS, BT_RB_PROD_POS
        BT_MAP_NAME_LEN, BT_PERF_RING_BYTES, BT_TRACE_RING_BYTES

    uint64_t BT_F_CURRENT_CPU
    uint64_t BT_F_REUSE_STACKID
    uint64_t BT_F_FAST_STACK_CMP

    ctypedef struct bt_lock:
        uint32_t owner

    ctypedef struct bt_map_attr:
        uint32_t type
        uint32_t key_size
        uint32_t value_size
        uint32_t max_entries
        uint32_t map_flags
        uint32_t inner_map_id
        uint64_t map_extra
        char name[16]

    ctypedef struct bt_map:
        uint64_t self_off
        uint32_t id
        uint32_t type
        uint32_t key_size
        uint32_t value_size
        uint32_t max_entries
        uint32_t map_flags
        uint64_t map_extra
        uint32_t ncpu
        uint32_t frozen
        bt_lock lock
        uint32_t inner_map_id
        char name[16]
        uint64_t data_off
        uint64_t data_size

    ctypedef int (*bt_ringbuf_cb)(void *cb_ctx, const void *data, uint32_t size) noexcept
    ctypedef void (*bt_perf_lost_cb)(void *cb_ctx, uint64_t lost) noexcept

    void *bt_map__data(const bt_map *m)
    uint32_t bt_map__user_value_size(const bt_map *m)
    int bt_map__create(bt_shm *shm, const bt_map_attr *attr, uint32_t *id_out, char *err,
                       size_t errlen)
    bt_map *bt_map__from_id(const bt_shm *shm, uint32_t id)
    bt_map *bt_map__trace(bt_shm *shm, char *err, size_t errlen)

    int bt_map__user_lookup(bt_map *m, const void *key, void *value)
    int bt_map__user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
    int bt_map__user_update_batch(bt_map *m, const void *const *keys, const void *const *values,
                                  uint32_t n, uint64_t flags, uint32_t *done)
    int bt_map__user_delete(bt_map *m, const void *key)
    int bt_map__get_next_key(bt_map *m, const void *key, void *next_key)
    int bt_map__user_lookup_and_delete(bt_map *m, const void *key, void *value)
    uint64_t bt_map__count(bt_map *m)
    int bt_map__freeze(bt_map *m)

    long bt_ringbuf__consume(bt_map *m, bt_ringbuf_cb cb, void *cb_ctx)
    uint64_t bt_ringbuf__query(bt_map *m, uint64_t flags)
    uint64_t bt_ringbuf__dropped(bt_map *m)
    long bt_perf__consume(bt_map *m, uint32_t cpu, bt_ringbuf_cb sample_cb,
                          bt_perf_lost_cb lost_cb, void *cb_ctx)
    uint64_t bt_perf__pending_lost(bt_map *m, uint32_t cpu)
    long bt_stackmap__store(bt_map *m, const uint64_t *ips, uint32_t n, uint64_t flags)
    long bt_stackmap__lookup(bt_map *m, uint32_t id, uint64_t *ips, uint32_t max)


# the fields of bt_ctx that only map helpers use (bt.pxd declares the engines' part)
cdef extern from "bt_ctx.h" nogil:
    ctypedef uint64_t (*bt_callback_fn)(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2,
                                        uint64_t a3, uint64_t a4, uint64_t a5) noexcept
    ctypedef struct bt_ctx_maps "bt_ctx":
        bt_map *trace
        bt_callback_fn callback


cdef extern from "bt_helpers.h" nogil:
    long bt_trace__write(bt_ctx *ctx, const char *msg, uint32_t len)


cdef extern from "bt_helpers_map.h" nogil:
    void bt_helpers__fill_maps(bt_helper_fn *table, size_t n)
