/* HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (and the storage of
 * HASH_OF_MAPS, see bt_mapinmap.c).
 *
 * Layout (data area), all elements preallocated:
 *
 *   u64 heads[nbuckets]                nbuckets = roundup_pow_of_two(max_entries)
 *   elem[max_entries + 1]              { u64 next; u64 fnext; u32 hash;
 *                                        u8 used, ref, mark, pad;
 *                                        key (round_up 8); value }
 *
 *   heads[b] -> elem -> elem -> (b << 1 | 1)
 *
 * Chains end in a "nulls" marker naming their bucket (odd, while element
 * offsets are even), as the kernel's hlist_nulls: a lock-free lookup that
 * followed an element recycled into another chain ends on a foreign marker and
 * restarts. Free elements are linked through fnext, so `next` stays intact for
 * a reader still standing on a just-freed element.
 *
 * Writers (update, delete, eviction) hold the map lock; lookups take no lock.
 * An element is filled completely and then published with one store. The one
 * element beyond max_entries lets an update of an existing key fill a fresh
 * element and swap it in with one store, so readers never see half a value and
 * a full map can still be updated; values of at most 8 bytes are instead
 * replaced in place with one aligned store. Per-CPU values are updated in
 * place, as in the kernel. A recycled element may be read by a lookup that raced with its
 * deletion: the kernel's preallocated hash has the same window.
 *
 * LRU: a lookup from a program sets `ref`. When a new key finds the map full,
 * a clock hand sweeps the elements, clearing set ref bits, and evicts the first
 * element whose bit is already clear (second chance). New elements start with
 * ref set, so the element just written is not the next victim.
 */
#include "bt_map_impl.h"

typedef struct hash_elem {
    uint64_t next;  /* chain: offset of the next element, or (bucket << 1) | 1 */
    uint64_t fnext; /* free list: offset of the next free element, 0 at the end */
    uint32_t hash;
    uint8_t used;   /* linked into a chain */
    uint8_t ref;    /* LRU: looked up since the clock hand last passed */
    uint8_t mark;   /* repair: reachable from a bucket */
    uint8_t pad;
} hash_elem;

_Static_assert(sizeof(hash_elem) == 24, "hash element header");

enum { A_FREE, A_COUNT, A_NBUCKETS, A_SEED, A_ELEMS, A_ESIZE, A_HAND, A_NELEMS };

#define HTAB_ELEM_SIZE 48u /* the kernel's struct htab_elem, for its size limit */

static inline int is_percpu(const bt_map *m)
{
    return m->type == BT_MAP_PERCPU_HASH || m->type == BT_MAP_LRU_PERCPU_HASH;
}
static inline int is_lru(const bt_map *m)
{
    return m->type == BT_MAP_LRU_HASH || m->type == BT_MAP_LRU_PERCPU_HASH;
}
static inline uint64_t *heads(const bt_map *m)
{
    return (uint64_t *)bt_map__data(m);
}
static inline hash_elem *elem_at(const bt_map *m, uint64_t off)
{
    return (hash_elem *)bt_map__at(m, off);
}
static inline hash_elem *elem_idx(const bt_map *m, uint64_t i)
{
    return elem_at(m, m->aux[A_ELEMS] + i * m->aux[A_ESIZE]);
}
static inline uint8_t *ekey(hash_elem *e)
{
    return (uint8_t *)(e + 1);
}
static inline uint8_t *evalue(const bt_map *m, hash_elem *e)
{
    return ekey(e) + bt_round8(m->key_size);
}
static inline uint64_t value_bytes(uint32_t type, uint32_t value_size, uint32_t ncpu)
{
    int percpu = type == BT_MAP_PERCPU_HASH || type == BT_MAP_LRU_PERCPU_HASH;
    return percpu ? (uint64_t)ncpu * bt_round8(value_size) : bt_round8(value_size);
}
static inline uint32_t hash_key(const bt_map *m, const void *key)
{
    return bt_hash_bytes(key, m->key_size, m->aux[A_SEED]);
}
static inline int is_end(uint64_t p)
{
    return (p & 1) || p == 0;
}

int bt_hash__check_attr(const bt_map_attr *a, char *err, size_t errlen)
{
    int percpu = a->type == BT_MAP_PERCPU_HASH || a->type == BT_MAP_LRU_PERCPU_HASH;
    int lru = a->type == BT_MAP_LRU_HASH || a->type == BT_MAP_LRU_PERCPU_HASH;
    uint32_t f = a->map_flags;
    const uint32_t mask =
        BT_F_NO_PREALLOC | BT_F_NO_COMMON_LRU | BT_F_NUMA_NODE | BT_F_ACCESS_MASK | BT_F_ZERO_SEED;
    if (f & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for hash maps", f & ~mask);
    if (!lru && (f & BT_F_NO_COMMON_LRU))
        return bt_err(err, errlen, -EINVAL, "BPF_F_NO_COMMON_LRU is for LRU hashes only");
    if (lru && (f & BT_F_NO_PREALLOC))
        return bt_err(err, errlen, -EOPNOTSUPP,
                      "LRU hashes are always preallocated: drop BPF_F_NO_PREALLOC");
    if ((f & BT_F_NUMA_NODE) && (percpu || (f & BT_F_NO_COMMON_LRU)))
        return bt_err(err, errlen, -EINVAL, "BPF_F_NUMA_NODE not allowed with per-CPU data");
    if (a->max_entries == 0 || a->key_size == 0 || a->value_size == 0)
        return bt_err(err, errlen, -EINVAL, "max_entries, key_size and value_size must be > 0");
    if (a->key_size > BT_MAX_BPF_STACK)
        return bt_err(err, errlen, -E2BIG, "key_size %u exceeds the %u-byte eBPF stack",
                      a->key_size, BT_MAX_BPF_STACK);
    if (a->value_size >= BT_KMALLOC_MAX_SIZE - BT_MAX_BPF_STACK - HTAB_ELEM_SIZE)
        return bt_err(err, errlen, -E2BIG, "value_size %u is too large", a->value_size);
    if (percpu && bt_round8(a->value_size) > BT_PCPU_MIN_UNIT_SIZE)
        return bt_err(err, errlen, -E2BIG, "per-CPU value_size %u exceeds %u bytes",
                      a->value_size, BT_PCPU_MIN_UNIT_SIZE);
    if (a->max_entries > (1u << 31))
        return bt_err(err, errlen, -E2BIG, "max_entries %u is too large", a->max_entries);
    return 0;
}

static uint64_t layout(const bt_map_attr *a, uint32_t ncpu, uint64_t *elems, uint64_t *esize)
{
    uint64_t nb = bt_roundup_pow2(a->max_entries);
    *elems = bt_round16(nb * 8);
    *esize = sizeof(hash_elem) + bt_round8(a->key_size) +
             value_bytes(a->type, a->value_size, ncpu);
    return bt_mul_add((uint64_t)a->max_entries + 1, *esize, *elems);
}

uint64_t bt_hash__data_size(const bt_map_attr *a, uint32_t ncpu)
{
    uint64_t elems, esize;
    return layout(a, ncpu, &elems, &esize);
}

static void push_free(bt_map *m, hash_elem *e)
{
    e->fnext = m->aux[A_FREE];
    m->aux[A_FREE] = bt_map__off_of(m, e);
}

static hash_elem *pop_free(bt_map *m)
{
    uint64_t off = m->aux[A_FREE];
    if (!off)
        return NULL;
    hash_elem *e = elem_at(m, off);
    m->aux[A_FREE] = e->fnext;
    return e;
}

void bt_hash__init(bt_map *m)
{
    bt_map_attr a = {.type = m->type, .key_size = m->key_size, .value_size = m->value_size,
                     .max_entries = m->max_entries, .map_flags = m->map_flags};
    uint64_t elems, esize;
    layout(&a, m->ncpu, &elems, &esize);
    uint64_t nb = bt_roundup_pow2(m->max_entries);
    m->aux[A_NBUCKETS] = nb;
    m->aux[A_ELEMS] = m->data_off + elems;
    m->aux[A_ESIZE] = esize;
    m->aux[A_NELEMS] = (uint64_t)m->max_entries + 1;
    m->aux[A_SEED] = bt_map__seed(&a);
    uint64_t *h = heads(m);
    for (uint64_t b = 0; b < nb; b++)
        h[b] = (b << 1) | 1;
    for (uint64_t i = m->aux[A_NELEMS]; i-- > 0;)
        push_free(m, elem_idx(m, i));
}

/* lock-free lookup */
static hash_elem *find(const bt_map *m, const void *key, uint32_t h)
{
    uint64_t *hd = heads(m);
    uint64_t b = h & (m->aux[A_NBUCKETS] - 1);
    uint32_t ks = m->key_size;
    for (;;) {
        uint64_t p = __atomic_load_n(&hd[b], __ATOMIC_ACQUIRE);
        while (!is_end(p)) {
            hash_elem *e = elem_at(m, p);
            if (e->hash == h && bt_key_eq(ekey(e), key, ks))
                return e;
            p = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
        }
        if (p == ((b << 1) | 1) || p == 0)
            return NULL;
        /* ended in another bucket's chain: an element we passed was recycled */
    }
}

/* lookup under the map lock; *slotp is the link that points to the element */
static hash_elem *find_locked(bt_map *m, const void *key, uint32_t h, uint64_t **slotp)
{
    uint64_t *slot = &heads(m)[h & (m->aux[A_NBUCKETS] - 1)];
    while (!is_end(*slot)) {
        hash_elem *e = elem_at(m, *slot);
        if (e->hash == h && bt_key_eq(ekey(e), key, m->key_size)) {
            *slotp = slot;
            return e;
        }
        slot = &e->next;
    }
    return NULL;
}

static void unlink_at(bt_map *m, uint64_t *slot, hash_elem *e)
{
    __atomic_store_n(slot, e->next, __ATOMIC_RELEASE);
    e->used = 0;
    push_free(m, e);
    m->aux[A_COUNT]--;
}

static void evict_one(bt_map *m)
{
    uint64_t n = m->aux[A_NELEMS], hand = m->aux[A_HAND];
    for (uint64_t i = 0; i < 2 * n + 1; i++) {
        hash_elem *e = elem_idx(m, hand);
        hand = hand + 1 == n ? 0 : hand + 1;
        if (!e->used)
            continue;
        if (e->ref) {
            e->ref = 0;
            continue;
        }
        uint64_t off = bt_map__off_of(m, e);
        uint64_t *slot = &heads(m)[e->hash & (m->aux[A_NBUCKETS] - 1)];
        while (!is_end(*slot) && *slot != off)
            slot = &elem_at(m, *slot)->next;
        if (*slot == off)
            unlink_at(m, slot, e);
        break;
    }
    m->aux[A_HAND] = hand;
}

static void fill_value(bt_map *m, hash_elem *e, const void *value, int user, int fresh)
{
    uint8_t *v = evalue(m, e);
    if (!is_percpu(m)) {
        memcpy(v, value, m->value_size);
        return;
    }
    uint64_t rv = bt_round8(m->value_size);
    if (user) {
        memcpy(v, value, m->ncpu * rv);
        return;
    }
    if (fresh)
        memset(v, 0, m->ncpu * rv);
    memcpy(v + bt_map__cpu(m) * rv, value, m->value_size);
}

static hash_elem *fresh_elem(bt_map *m, const void *key, uint32_t h, const void *value, int user)
{
    hash_elem *e = pop_free(m);
    if (!e)
        return NULL;
    e->hash = h;
    memcpy(ekey(e), key, m->key_size);
    fill_value(m, e, value, user, 1);
    e->ref = 1;
    e->used = 1;
    return e;
}

/* The body of an update; the caller holds the map lock. */
static long update_locked(bt_map *m, const void *key, const void *value, uint64_t flags, int user)
{
    uint32_t h = hash_key(m, key);
    uint64_t *slot = NULL;
    long rc = 0;
    hash_elem *old = find_locked(m, key, h, &slot);
    if (old && flags == BT_NOEXIST) {
        rc = -EEXIST;
    } else if (!old && flags == BT_EXIST) {
        rc = -ENOENT;
    } else if (old && !is_percpu(m) && m->value_size <= 8) {
        /* one aligned 8-byte store: readers see the old or the new value, never a mix */
        uint64_t w = 0;
        memcpy(&w, value, m->value_size);
        __atomic_store_n((uint64_t *)evalue(m, old), w, __ATOMIC_RELEASE);
        old->ref = 1;
    } else if (old) {
        hash_elem *e = is_percpu(m) ? NULL : fresh_elem(m, key, h, value, user);
        if (e) {
            e->next = old->next;
            __atomic_store_n(slot, bt_map__off_of(m, e), __ATOMIC_RELEASE);
            old->used = 0;
            push_free(m, old);
        } else {
            /* per-CPU values are updated in place (the kernel does too); otherwise only
             * when a holder that died leaked the spare element */
            fill_value(m, old, value, user, 0);
            old->ref = 1;
        }
    } else {
        if (m->aux[A_COUNT] >= m->max_entries) {
            if (is_lru(m))
                evict_one(m);
            else
                rc = -E2BIG;
        }
        hash_elem *e = rc ? NULL : fresh_elem(m, key, h, value, user);
        if (e) {
            uint64_t *hd = &heads(m)[h & (m->aux[A_NBUCKETS] - 1)];
            e->next = *hd;
            __atomic_store_n(hd, bt_map__off_of(m, e), __ATOMIC_RELEASE);
            m->aux[A_COUNT]++;
        } else if (!rc) {
            rc = -E2BIG;
        }
    }
    return rc;
}

static long update(bt_map *m, const void *key, const void *value, uint64_t flags, int user)
{
    if (flags > BT_EXIST)
        return -EINVAL;
    bt_map__lock(m);
    long rc = update_locked(m, key, value, flags, user);
    bt_map__unlock(m);
    return rc;
}

/* Batches take the lock once per chunk, not per element, and let go between chunks so
 * programs updating the map meanwhile wait at most one chunk. */
#define BT_BATCH_CHUNK 64

static int hash_user_update_batch(bt_map *m, const void *const *keys, const void *const *values,
                                  uint32_t n, uint64_t flags, uint32_t *done)
{
    long rc = 0;
    uint32_t i = 0;
    if (flags > BT_EXIST)
        return -EINVAL;
    while (i < n && !rc) {
        uint32_t end = n - i > BT_BATCH_CHUNK ? i + BT_BATCH_CHUNK : n;
        bt_map__lock(m);
        for (; i < end; i++) {
            rc = update_locked(m, keys[i], values[i], flags, 1);
            if (rc)
                break;
        }
        bt_map__unlock(m);
    }
    *done = i;
    return (int)rc;
}

void *bt_hash__lookup(bt_map *m, const void *key)
{
    hash_elem *e = find(m, key, hash_key(m, key));
    if (!e)
        return NULL;
    if (is_lru(m) && !e->ref)
        e->ref = 1;
    uint8_t *v = evalue(m, e);
    return is_percpu(m) ? v + bt_map__cpu(m) * bt_round8(m->value_size) : v;
}

static long hash_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    return update(m, key, value, flags, 0);
}

static long hash_delete(bt_map *m, const void *key)
{
    uint32_t h = hash_key(m, key);
    uint64_t *slot = NULL;
    bt_map__lock(m);
    hash_elem *e = find_locked(m, key, h, &slot);
    if (e)
        unlink_at(m, slot, e);
    bt_map__unlock(m);
    return e ? 0 : -ENOENT;
}

int bt_hash__user_lookup(bt_map *m, const void *key, void *value)
{
    hash_elem *e = find(m, key, hash_key(m, key));
    if (!e)
        return -ENOENT;
    memcpy(value, evalue(m, e), is_percpu(m) ? m->ncpu * bt_round8(m->value_size) : m->value_size);
    return 0;
}

int bt_hash__user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    return (int)update(m, key, value, flags, 1);
}

int bt_hash__user_delete(bt_map *m, const void *key)
{
    return (int)hash_delete(m, key);
}

static int hash_lookup_and_delete(bt_map *m, const void *key, void *value)
{
    uint32_t h = hash_key(m, key);
    uint64_t *slot = NULL;
    bt_map__lock(m);
    hash_elem *e = find_locked(m, key, h, &slot);
    if (e) {
        memcpy(value, evalue(m, e),
               is_percpu(m) ? m->ncpu * bt_round8(m->value_size) : m->value_size);
        unlink_at(m, slot, e);
    }
    bt_map__unlock(m);
    return e ? 0 : -ENOENT;
}

/* the kernel's order: the rest of the key's chain, then the following buckets;
 * a key that is not there restarts from the first bucket */
int bt_hash__next_key(bt_map *m, const void *key, void *next)
{
    uint64_t nb = m->aux[A_NBUCKETS], b = 0;
    uint64_t *hd = heads(m);
    if (key) {
        uint32_t h = hash_key(m, key);
        hash_elem *e = find(m, key, h);
        if (e) {
            uint64_t p = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
            if (!is_end(p)) {
                memcpy(next, ekey(elem_at(m, p)), m->key_size);
                return 0;
            }
            b = (h & (nb - 1)) + 1;
        }
    }
    for (; b < nb; b++) {
        uint64_t p = __atomic_load_n(&hd[b], __ATOMIC_ACQUIRE);
        if (!is_end(p)) {
            memcpy(next, ekey(elem_at(m, p)), m->key_size);
            return 0;
        }
    }
    return -ENOENT;
}

uint64_t bt_hash__count(bt_map *m)
{
    return __atomic_load_n(&m->aux[A_COUNT], __ATOMIC_RELAXED);
}

static long hash_for_each(bt_map *m, bt_map_elem_cb cb, void *cb_ctx)
{
    uint64_t rv = bt_round8(m->value_size);
    uint64_t cpu_off = is_percpu(m) ? bt_map__cpu(m) * rv : 0;
    uint64_t nb = m->aux[A_NBUCKETS];
    uint64_t *hd = heads(m);
    long n = 0;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t p = __atomic_load_n(&hd[b], __ATOMIC_ACQUIRE);
        while (!is_end(p)) {
            hash_elem *e = elem_at(m, p);
            n++;
            if (cb(cb_ctx, m, ekey(e), evalue(m, e) + cpu_off))
                return n;
            p = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
        }
    }
    return n;
}

/* a holder died mid-update: what is reachable from the buckets is the map;
 * everything else goes back on the free list */
void bt_hash__repair(bt_map *m)
{
    uint64_t n = m->aux[A_NELEMS], nb = m->aux[A_NBUCKETS];
    uint64_t *hd = heads(m);
    for (uint64_t i = 0; i < n; i++)
        elem_idx(m, i)->mark = 0;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t steps = 0;
        for (uint64_t p = hd[b]; !is_end(p) && steps++ < n; p = elem_at(m, p)->next)
            elem_at(m, p)->mark = 1;
    }
    uint64_t count = 0;
    m->aux[A_FREE] = 0;
    for (uint64_t i = n; i-- > 0;) {
        hash_elem *e = elem_idx(m, i);
        e->used = e->mark;
        if (e->mark)
            count++;
        else
            push_free(m, e);
    }
    m->aux[A_COUNT] = count;
}

const bt_map_ops bt_hash_ops = {
    .check = bt_hash__check_attr,
    .data_size = bt_hash__data_size,
    .init = bt_hash__init,
    .lookup = bt_hash__lookup,
    .update = hash_update,
    .delete = hash_delete,
    .user_lookup = bt_hash__user_lookup,
    .user_update = bt_hash__user_update,
    .user_update_batch = hash_user_update_batch,
    .user_delete = bt_hash__user_delete,
    .next_key = bt_hash__next_key,
    .lookup_and_delete = hash_lookup_and_delete,
    .count = bt_hash__count,
    .for_each = hash_for_each,
    .repair = bt_hash__repair,
};
