/* Map lifetime and dispatch: creation with the checks every type shares, the
 * map directory (ids), permission checks, and the per-type operation tables.
 *
 * Owns: bt_map__create/from_id/sibling/check, the program-side and user-side
 * entry points of bt_map.h (which check access flags and frozen state, then
 * call the family in cext/maps/), bt_map__cpu, and the lock wrapper that
 * repairs a map after its lock was taken over from a dead holder.
 * Does not own: any type's layout or semantics (the files in cext/maps/), the segment
 * and its allocator (bt_shm.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bt_err.h"
#include "bt_map.h"
#include "maps/bt_map_impl.h"

static const bt_map_ops *ops_of(uint32_t type)
{
    switch (type) {
    case BT_MAP_HASH:
    case BT_MAP_PERCPU_HASH:
    case BT_MAP_LRU_HASH:
    case BT_MAP_LRU_PERCPU_HASH:
        return &bt_hash_ops;
    case BT_MAP_ARRAY:
        return &bt_array_ops;
    case BT_MAP_PERCPU_ARRAY:
        return &bt_percpu_array_ops;
    case BT_MAP_PROG_ARRAY:
        return &bt_prog_array_ops;
    case BT_MAP_PERF_EVENT_ARRAY:
        return &bt_perf_ops;
    case BT_MAP_STACK_TRACE:
        return &bt_stackmap_ops;
    case BT_MAP_LPM_TRIE:
        return &bt_lpm_ops;
    case BT_MAP_ARRAY_OF_MAPS:
        return &bt_array_of_maps_ops;
    case BT_MAP_HASH_OF_MAPS:
        return &bt_hash_of_maps_ops;
    case BT_MAP_QUEUE:
    case BT_MAP_STACK:
        return &bt_queue_ops;
    case BT_MAP_RINGBUF:
        return &bt_ringbuf_ops;
    case BT_MAP_BLOOM_FILTER:
        return &bt_bloom_ops;
    default:
        return NULL;
    }
}

static inline const bt_map_ops *ops(const bt_map *m)
{
    return ops_of(m->type);
}

uint32_t bt_map__user_value_size(const bt_map *m)
{
    switch (m->type) {
    case BT_MAP_PERCPU_HASH:
    case BT_MAP_LRU_PERCPU_HASH:
    case BT_MAP_PERCPU_ARRAY:
        return m->ncpu * (uint32_t)bt_round8(m->value_size);
    case BT_MAP_RINGBUF:
        return 0;
    default:
        return m->value_size;
    }
}

uint32_t bt_map__cpu(const bt_map *m)
{
    int cpu = sched_getcpu();
    if (cpu < 0)
        cpu = 0;
    return (uint32_t)cpu < m->ncpu ? (uint32_t)cpu : (uint32_t)cpu % m->ncpu;
}

void bt_map__lock(bt_map *m)
{
    if (bt_lock__acquire_takeover(&m->lock)) {
        const bt_map_ops *o = ops(m);
        if (o && o->repair)
            o->repair(m);
    }
}

uint64_t bt_map__seed(const bt_map_attr *a)
{
    if (a->map_flags & BT_F_ZERO_SEED)
        return 0;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    }
    return seed | 1;
}

/* --- creation --------------------------------------------------------------- */

static int check_map_name(const char *name, char *err, size_t errlen)
{
    size_t n = strnlen(name, BT_MAP_NAME_LEN);
    if (n == BT_MAP_NAME_LEN)
        return bt_err(err, errlen, -EINVAL, "map name is longer than %d characters",
                      BT_MAP_NAME_LEN - 1);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return bt_err(err, errlen, -EINVAL,
                          "map name '%.*s': character '%c' is not allowed (letters, digits, "
                          "'_' and '.' only)",
                          (int)n, name, c);
    }
    return 0;
}

/* the kernel's map_create checks that come before the type's own */
static int check_common(const bt_shm *shm, const bt_map_attr *a, char *err, size_t errlen)
{
    if (!ops_of(a->type))
        return bt_err(err, errlen, -EINVAL, "unknown map type %u", a->type);
    if (a->map_extra && a->type != BT_MAP_BLOOM_FILTER)
        return bt_err(err, errlen, -EINVAL, "map_extra must be 0 except for bloom filters");
    if ((a->map_flags & BT_F_RDONLY) && (a->map_flags & BT_F_WRONLY))
        return bt_err(err, errlen, -EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY exclude each other");
    if ((a->map_flags & BT_F_RDONLY_PROG) && (a->map_flags & BT_F_WRONLY_PROG))
        return bt_err(err, errlen, -EINVAL,
                      "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other");
    int of_maps = a->type == BT_MAP_ARRAY_OF_MAPS || a->type == BT_MAP_HASH_OF_MAPS;
    if (a->inner_map_id && !of_maps)
        return bt_err(err, errlen, -EINVAL, "inner_map_id is only for map-in-map types");
    if (of_maps) {
        const bt_map *t = bt_map__from_id(shm, a->inner_map_id);
        if (!t)
            return bt_err(err, errlen, -EBADF,
                          "inner_map_id %u: no such map (create the template inner map first)",
                          a->inner_map_id);
        if (t->type == BT_MAP_ARRAY_OF_MAPS || t->type == BT_MAP_HASH_OF_MAPS)
            return bt_err(err, errlen, -EINVAL,
                          "inner_map_id %u is itself a map of maps: only one level of nesting",
                          a->inner_map_id);
        if (t->type == BT_MAP_PROG_ARRAY)
            return bt_err(err, errlen, -EOPNOTSUPP, "a prog array cannot be an inner map");
    }
    return check_map_name(a->name, err, errlen);
}

/* allocate and initialise a map; not yet visible (no id) */
static int build(bt_shm *shm, const bt_map_attr *a, bt_map **out, char *err, size_t errlen)
{
    bt_shm_header *h = bt_shm__header(shm);
    const bt_map_ops *o = ops_of(a->type);
    int rc = o->check(a, err, errlen);
    if (rc)
        return rc;
    uint64_t data = o->data_size(a, h->ncpu);
    uint64_t head = bt_round16(sizeof(bt_map));
    if (data == 0 || data > shm->size)
        return bt_err(err, errlen, -E2BIG,
                      "map needs more memory than the whole segment (%llu bytes)",
                      (unsigned long long)shm->size);
    uint64_t off = bt_shm__alloc(shm, head + data);
    if (!off)
        return bt_err(err, errlen, -ENOMEM,
                      "segment %s is full: the map needs %llu bytes, about %llu are left of "
                      "%llu; create a larger segment",
                      shm->name, (unsigned long long)(head + data),
                      (unsigned long long)bt_shm__available(shm),
                      (unsigned long long)shm->size);
    bt_map *m = bt_shm__ptr(shm, off);
    m->version = BT_MAP_VERSION;
    m->struct_size = sizeof(bt_map);
    m->self_off = off;
    m->type = a->type;
    m->key_size = a->key_size;
    m->value_size = a->value_size;
    m->max_entries = a->max_entries;
    m->map_flags = a->map_flags;
    m->map_extra = a->map_extra;
    m->ncpu = h->ncpu;
    m->inner_map_id = a->inner_map_id;
    memcpy(m->name, a->name, BT_MAP_NAME_LEN);
    m->name[BT_MAP_NAME_LEN - 1] = 0;
    m->data_off = off + head;
    m->data_size = data;
    if (o->init)
        o->init(m);
    __atomic_store_n(&m->magic, BT_MAP_MAGIC, __ATOMIC_RELEASE);
    *out = m;
    return 0;
}

/* give m an id and make it visible; caller holds alloc_lock */
static int publish_locked(bt_shm *shm, bt_map *m)
{
    bt_shm_header *h = bt_shm__header(shm);
    if (h->nmaps >= BT_SHM_MAX_MAPS)
        return -ENOSPC;
    uint32_t id = h->nmaps + 1;
    m->id = id;
    __atomic_store_n(&h->maps[id - 1], m->self_off, __ATOMIC_RELEASE);
    __atomic_store_n(&h->nmaps, id, __ATOMIC_RELEASE);
    return 0;
}

int bt_map__create(bt_shm *shm, const bt_map_attr *attr, uint32_t *id_out, char *err,
                   size_t errlen)
{
    int rc = check_common(shm, attr, err, errlen);
    bt_map *m = NULL;
    if (!rc)
        rc = build(shm, attr, &m, err, errlen);
    if (rc)
        return rc;
    bt_shm_header *h = bt_shm__header(shm);
    bt_lock__acquire(&h->alloc_lock);
    rc = publish_locked(shm, m);
    bt_lock__release(&h->alloc_lock);
    if (rc) {
        bt_shm__free(shm, m->self_off);
        return bt_err(err, errlen, rc, "segment %s already holds %d maps, the most it can",
                      shm->name, BT_SHM_MAX_MAPS);
    }
    *id_out = m->id;
    return 0;
}

bt_map *bt_map__trace(bt_shm *shm, char *err, size_t errlen)
{
    bt_shm_header *h = bt_shm__header(shm);
    uint64_t off = __atomic_load_n(&h->trace_map, __ATOMIC_ACQUIRE);
    if (off)
        return bt_shm__ptr(shm, off);
    bt_map_attr a = {.type = BT_MAP_RINGBUF, .max_entries = BT_TRACE_RING_BYTES};
    memcpy(a.name, "trace", 6);
    bt_map *m = NULL;
    if (build(shm, &a, &m, err, errlen))
        return NULL;
    /* another process may have created it meanwhile: the first to publish wins */
    bt_lock__acquire(&h->alloc_lock);
    off = h->trace_map;
    int rc = 0;
    if (!off) {
        rc = publish_locked(shm, m);
        if (!rc)
            __atomic_store_n(&h->trace_map, m->self_off, __ATOMIC_RELEASE);
    }
    bt_lock__release(&h->alloc_lock);
    if (off || rc) {
        bt_shm__free(shm, m->self_off);
        if (rc) {
            bt_err(err, errlen, rc, "segment %s already holds %d maps, the most it can",
                   shm->name, BT_SHM_MAX_MAPS);
            return NULL;
        }
        return bt_shm__ptr(shm, off);
    }
    return m;
}

/* --- finding maps ------------------------------------------------------------- */

int bt_map__check(const bt_map *m)
{
    if (!m || m->magic != BT_MAP_MAGIC || m->version != BT_MAP_VERSION ||
        m->struct_size != sizeof(bt_map))
        return -EINVAL;
    const bt_shm_header *h = (const bt_shm_header *)bt_map__base(m);
    if (h->magic != BT_SHM_MAGIC || m->self_off + sizeof(bt_map) > h->size ||
        m->data_off < m->self_off || m->data_off + m->data_size > h->size || !ops(m) ||
        m->ncpu == 0)
        return -EINVAL;
    return 0;
}

static bt_map *map_at(uint8_t *base, uint32_t id)
{
    bt_shm_header *h = (bt_shm_header *)base;
    uint32_t n = __atomic_load_n(&h->nmaps, __ATOMIC_ACQUIRE);
    if (id == 0 || id > n || n > BT_SHM_MAX_MAPS)
        return NULL;
    uint64_t off = __atomic_load_n(&h->maps[id - 1], __ATOMIC_ACQUIRE);
    if (off < h->heap_off || off + sizeof(bt_map) > h->size)
        return NULL;
    bt_map *m = (bt_map *)(base + off);
    if (m->magic != BT_MAP_MAGIC || m->self_off != off || m->id != id || bt_map__check(m))
        return NULL;
    return m;
}

bt_map *bt_map__from_id(const bt_shm *shm, uint32_t id)
{
    return map_at(shm->base, id);
}

bt_map *bt_map__sibling(const bt_map *any, uint32_t id)
{
    return map_at(bt_map__base(any), id);
}

/* --- program side --------------------------------------------------------------- */

void *bt_map__lookup_elem(bt_map *m, const void *key)
{
    const bt_map_ops *o = ops(m);
    return o->lookup ? o->lookup(m, key) : NULL;
}

long bt_map__update_elem(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    const bt_map_ops *o = ops(m);
    if (m->map_flags & BT_F_RDONLY_PROG)
        return -EPERM;
    return o->update ? o->update(m, key, value, flags) : -EOPNOTSUPP;
}

long bt_map__delete_elem(bt_map *m, const void *key)
{
    const bt_map_ops *o = ops(m);
    if (m->map_flags & BT_F_RDONLY_PROG)
        return -EPERM;
    return o->delete ? o->delete(m, key) : -EOPNOTSUPP;
}

long bt_map__push_elem(bt_map *m, const void *value, uint64_t flags)
{
    const bt_map_ops *o = ops(m);
    if (m->map_flags & BT_F_RDONLY_PROG)
        return -EPERM;
    return o->push ? o->push(m, value, flags) : -EOPNOTSUPP;
}

long bt_map__pop_elem(bt_map *m, void *value)
{
    const bt_map_ops *o = ops(m);
    if (m->map_flags & BT_F_RDONLY_PROG)
        return -EPERM;
    return o->pop ? o->pop(m, value) : -EOPNOTSUPP;
}

long bt_map__peek_elem(bt_map *m, void *value)
{
    const bt_map_ops *o = ops(m);
    return o->peek ? o->peek(m, value) : -EOPNOTSUPP;
}

long bt_map__for_each(bt_map *m, bt_map_elem_cb cb, void *cb_ctx)
{
    const bt_map_ops *o = ops(m);
    return o->for_each ? o->for_each(m, cb, cb_ctx) : -EOPNOTSUPP;
}

/* --- user side (what the fd's open mode allows in the kernel) --------------------- */

static inline int can_read(const bt_map *m)
{
    return !(m->map_flags & BT_F_WRONLY);
}

static inline int can_write(const bt_map *m)
{
    return !(m->map_flags & BT_F_RDONLY) && !__atomic_load_n(&m->frozen, __ATOMIC_ACQUIRE);
}

int bt_map__user_lookup(bt_map *m, const void *key, void *value)
{
    const bt_map_ops *o = ops(m);
    if (!can_read(m))
        return -EPERM;
    return o->user_lookup ? o->user_lookup(m, key, value) : -EOPNOTSUPP;
}

int bt_map__user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    const bt_map_ops *o = ops(m);
    if (!can_write(m))
        return -EPERM;
    return o->user_update ? o->user_update(m, key, value, flags) : -EOPNOTSUPP;
}

int bt_map__user_update_batch(bt_map *m, const void *const *keys, const void *const *values,
                              uint32_t n, uint64_t flags, uint32_t *done)
{
    const bt_map_ops *o = ops(m);
    *done = 0;
    if (!can_write(m))
        return -EPERM;
    if (o->user_update_batch)
        return o->user_update_batch(m, keys, values, n, flags, done);
    if (!o->user_update)
        return -EOPNOTSUPP;
    for (uint32_t i = 0; i < n; i++) {
        int rc = o->user_update(m, keys[i], values[i], flags);
        if (rc)
            return rc;
        *done = i + 1;
    }
    return 0;
}

int bt_map__user_delete(bt_map *m, const void *key)
{
    const bt_map_ops *o = ops(m);
    if (!can_write(m))
        return -EPERM;
    return o->user_delete ? o->user_delete(m, key) : -EOPNOTSUPP;
}

int bt_map__get_next_key(bt_map *m, const void *key, void *next_key)
{
    const bt_map_ops *o = ops(m);
    if (!can_read(m))
        return -EPERM;
    return o->next_key ? o->next_key(m, key, next_key) : -EOPNOTSUPP;
}

int bt_map__user_lookup_and_delete(bt_map *m, const void *key, void *value)
{
    const bt_map_ops *o = ops(m);
    if (!can_read(m) || !can_write(m))
        return -EPERM;
    return o->lookup_and_delete ? o->lookup_and_delete(m, key, value) : -EOPNOTSUPP;
}

uint64_t bt_map__count(bt_map *m)
{
    const bt_map_ops *o = ops(m);
    return o->count ? o->count(m) : 0;
}

int bt_map__freeze(bt_map *m)
{
    if (m->map_flags & BT_F_RDONLY)
        return -EPERM;
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(&m->frozen, &expected, 1, 0, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED))
        return -EBUSY;
    return 0;
}
