/* STACK_TRACE: stack ids for bpf_get_stackid, the kernel's stack_map.
 *
 * Layout: u64 buckets[nbuckets] (offsets, 0 = empty; nbuckets =
 * roundup_pow_of_two(max_entries)), then a pool of max_entries records
 * { u64 fnext; u32 hash; u32 nr; u64 ips[value_size / 8] } on a free list.
 * A stack's id is its hash masked to a bucket. Storing a different stack in a
 * taken bucket is -EEXIST unless BT_F_REUSE_STACKID replaces it;
 * BT_F_FAST_STACK_CMP trusts a matching hash without comparing the ips. A new
 * record is filled, then published with one store; the replaced one goes back
 * to the pool. Stores hold the map lock; lookups do not.
 *
 * User side: lookup gives the ips zero-padded to value_size, delete frees a
 * bucket, update is -EINVAL; BT_F_STACK_BUILD_ID (build-id + offset records)
 * is not supported.
 *
 * aux: [0] nbuckets, [1] free list, [2] pool offset, [3] record size, [4] count
 */
#include "bt_map_impl.h"

#define PERF_MAX_STACK 127u /* sysctl kernel.perf_event_max_stack default */

enum { A_NBUCKETS, A_FREE, A_POOL, A_RSIZE, A_COUNT };

typedef struct stack_rec {
    uint64_t fnext;
    uint32_t hash;
    uint32_t nr;
    uint64_t ips[];
} stack_rec;

static int stackmap_check(const bt_map_attr *a, char *err, size_t errlen)
{
    const uint32_t mask = BT_F_NUMA_NODE | BT_F_ACCESS_MASK | BT_F_STACK_BUILD_ID;
    if (a->map_flags & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for stack trace maps",
                      a->map_flags & ~mask);
    if (a->max_entries == 0 || a->key_size != 4 || a->value_size < 8 || a->value_size % 8)
        return bt_err(err, errlen, -EINVAL,
                      "stack trace maps need key_size 4, value_size a multiple of 8 and "
                      "max_entries > 0");
    if (a->map_flags & BT_F_STACK_BUILD_ID)
        return bt_err(err, errlen, -EOPNOTSUPP,
                      "BPF_F_STACK_BUILD_ID is not supported by bpftime");
    if (a->value_size / 8 > PERF_MAX_STACK)
        return bt_err(err, errlen, -EINVAL, "value_size %u holds more than %u frames",
                      a->value_size, PERF_MAX_STACK);
    if (a->max_entries > (1u << 31))
        return bt_err(err, errlen, -E2BIG, "max_entries %u is too large", a->max_entries);
    return 0;
}

static uint64_t stackmap_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    uint64_t buckets = bt_round16(bt_roundup_pow2(a->max_entries) * 8);
    return bt_mul_add(a->max_entries, sizeof(stack_rec) + a->value_size, buckets);
}

static inline uint64_t *buckets(const bt_map *m)
{
    return (uint64_t *)bt_map__data(m);
}
static inline stack_rec *rec_idx(const bt_map *m, uint64_t i)
{
    return (stack_rec *)bt_map__at(m, m->aux[A_POOL] + i * m->aux[A_RSIZE]);
}

static void push_free(bt_map *m, stack_rec *r)
{
    r->fnext = m->aux[A_FREE];
    m->aux[A_FREE] = bt_map__off_of(m, r);
}

static void stackmap_init(bt_map *m)
{
    m->aux[A_NBUCKETS] = bt_roundup_pow2(m->max_entries);
    m->aux[A_POOL] = m->data_off + bt_round16(m->aux[A_NBUCKETS] * 8);
    m->aux[A_RSIZE] = sizeof(stack_rec) + m->value_size;
    for (uint64_t i = m->max_entries; i-- > 0;)
        push_free(m, rec_idx(m, i));
}

long bt_stackmap__store(bt_map *m, const uint64_t *ips, uint32_t n, uint64_t flags)
{
    if (m->type != BT_MAP_STACK_TRACE)
        return -EINVAL;
    if (flags & ~(BT_F_SKIP_FIELD_MASK | BT_F_USER_STACK | BT_F_FAST_STACK_CMP |
                  BT_F_REUSE_STACKID))
        return -EINVAL;
    uint32_t skip = (uint32_t)(flags & BT_F_SKIP_FIELD_MASK);
    if (n <= skip)
        return -EFAULT;
    uint32_t nr = n - skip;
    if (nr > m->value_size / 8)
        nr = m->value_size / 8;
    ips += skip;
    uint32_t hash = bt_hash_bytes(ips, nr * 8, 0);
    uint32_t id = hash & (uint32_t)(m->aux[A_NBUCKETS] - 1);
    uint64_t *slot = &buckets(m)[id];
    long rc = id;
    bt_map__lock(m);
    stack_rec *old = *slot ? (stack_rec *)bt_map__at(m, *slot) : NULL;
    int same_hash = old && old->hash == hash;
    if (same_hash && (flags & BT_F_FAST_STACK_CMP))
        goto out;
    if (same_hash && old->nr == nr && memcmp(old->ips, ips, nr * 8) == 0)
        goto out;
    if (old && !(flags & BT_F_REUSE_STACKID)) {
        rc = -EEXIST;
        goto out;
    }
    uint64_t off = m->aux[A_FREE];
    if (!off) {
        rc = -ENOMEM;
        goto out;
    }
    stack_rec *r = (stack_rec *)bt_map__at(m, off);
    m->aux[A_FREE] = r->fnext;
    memcpy(r->ips, ips, nr * 8);
    r->hash = hash;
    r->nr = nr;
    __atomic_store_n(slot, off, __ATOMIC_RELEASE);
    if (old)
        push_free(m, old);
    else
        m->aux[A_COUNT]++;
out:
    bt_map__unlock(m);
    return rc;
}

long bt_stackmap__lookup(bt_map *m, uint32_t id, uint64_t *ips, uint32_t max)
{
    if (m->type != BT_MAP_STACK_TRACE || id >= m->aux[A_NBUCKETS])
        return -ENOENT;
    uint64_t off = __atomic_load_n(&buckets(m)[id], __ATOMIC_ACQUIRE);
    if (!off)
        return -ENOENT;
    stack_rec *r = (stack_rec *)bt_map__at(m, off);
    uint32_t nr = r->nr < max ? r->nr : max;
    memcpy(ips, r->ips, nr * 8);
    return nr;
}

static int stackmap_user_lookup(bt_map *m, const void *key, void *value)
{
    uint32_t cap = m->value_size / 8;
    uint64_t ips[PERF_MAX_STACK];
    long nr = bt_stackmap__lookup(m, bt_key_u32(key), ips, cap);
    if (nr < 0)
        return (int)nr;
    memcpy(value, ips, (size_t)nr * 8);
    memset((uint8_t *)value + nr * 8, 0, (size_t)(cap - nr) * 8);
    return 0;
}

static long stackmap_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    (void)m;
    (void)key;
    (void)value;
    (void)flags;
    return -EINVAL;
}

static int stackmap_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    return (int)stackmap_update(m, key, value, flags);
}

static int stackmap_user_delete(bt_map *m, const void *key)
{
    uint32_t id = bt_key_u32(key);
    if (id >= m->aux[A_NBUCKETS])
        return -E2BIG;
    bt_map__lock(m);
    uint64_t off = buckets(m)[id];
    if (off) {
        __atomic_store_n(&buckets(m)[id], 0, __ATOMIC_RELEASE);
        push_free(m, (stack_rec *)bt_map__at(m, off));
        m->aux[A_COUNT]--;
    }
    bt_map__unlock(m);
    return off ? 0 : -ENOENT;
}

static int stackmap_next_key(bt_map *m, const void *key, void *next)
{
    uint64_t nb = m->aux[A_NBUCKETS];
    uint64_t id = 0;
    if (key) {
        id = bt_key_u32(key);
        id = id >= nb || !__atomic_load_n(&buckets(m)[id], __ATOMIC_ACQUIRE) ? 0 : id + 1;
    }
    while (id < nb && !__atomic_load_n(&buckets(m)[id], __ATOMIC_ACQUIRE))
        id++;
    if (id >= nb)
        return -ENOENT;
    uint32_t id32 = (uint32_t)id;
    memcpy(next, &id32, 4);
    return 0;
}

static uint64_t stackmap_count(bt_map *m)
{
    return __atomic_load_n(&m->aux[A_COUNT], __ATOMIC_RELAXED);
}

static void stackmap_repair(bt_map *m)
{
    uint64_t nb = m->aux[A_NBUCKETS], used = 0;
    /* records reachable from a bucket are in use; mark them with nr's top bit */
    for (uint64_t b = 0; b < nb; b++)
        if (buckets(m)[b]) {
            ((stack_rec *)bt_map__at(m, buckets(m)[b]))->nr |= 1u << 31;
            used++;
        }
    m->aux[A_FREE] = 0;
    for (uint64_t i = m->max_entries; i-- > 0;) {
        stack_rec *r = rec_idx(m, i);
        if (r->nr & (1u << 31))
            r->nr &= ~(1u << 31);
        else
            push_free(m, r);
    }
    m->aux[A_COUNT] = used;
}

const bt_map_ops bt_stackmap_ops = {
    .check = stackmap_check,
    .data_size = stackmap_size,
    .init = stackmap_init,
    .update = stackmap_update,
    .user_lookup = stackmap_user_lookup,
    .user_update = stackmap_user_update,
    .user_delete = stackmap_user_delete,
    .next_key = stackmap_next_key,
    .count = stackmap_count,
    .repair = stackmap_repair,
};
