/* BLOOM_FILTER: the kernel's bit array, sized and addressed the same way.
 *
 * nr_hashes = map_extra & 0xf (5 when 0). Bits = max_entries * nr_hashes * 7/5
 * rounded up to a power of two (at least 64; 2^32 when larger than 2^31), so the
 * false-positive rate matches the kernel's for the same attributes. A push sets
 * nr_hashes bits with atomic ORs (no lock; pushes never fail); a peek tests
 * them: -ENOENT means "certainly absent". Values cannot be deleted or
 * enumerated. The hash is bt_hash_bytes with seed + i, not the kernel's jhash.
 *
 * aux: [0] bit mask, [1] nr_hashes, [2] seed, [3] values pushed (count()).
 */
#include "bt_map_impl.h"

enum { A_MASK, A_NHASH, A_SEED, A_PUSHES };

static int bloom_check(const bt_map_attr *a, char *err, size_t errlen)
{
    const uint32_t mask = BT_F_NUMA_NODE | BT_F_ZERO_SEED | BT_F_ACCESS_MASK;
    if (a->key_size != 0 || a->value_size == 0 || a->max_entries == 0)
        return bt_err(err, errlen, -EINVAL,
                      "bloom filters need key_size 0, value_size > 0 and max_entries > 0");
    if (a->map_flags & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for bloom filters",
                      a->map_flags & ~mask);
    if (a->map_extra & ~0xfULL)
        return bt_err(err, errlen, -EINVAL,
                      "map_extra %#llx: only the low 4 bits (the number of hashes) may be set",
                      (unsigned long long)a->map_extra);
    return 0;
}

static uint64_t nbits(const bt_map_attr *a)
{
    uint64_t k = a->map_extra ? a->map_extra : 5;
    uint64_t bits = (uint64_t)a->max_entries * k;
    if (bits > UINT32_MAX || (bits / 5) * 7 > (1ULL << 31))
        return 1ULL << 32;
    bits = (bits / 5) * 7;
    return bits <= 64 ? 64 : bt_roundup_pow2(bits);
}

static uint64_t bloom_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return nbits(a) / 8;
}

static void bloom_init(bt_map *m)
{
    bt_map_attr a = {.max_entries = m->max_entries, .map_extra = m->map_extra,
                     .map_flags = m->map_flags};
    m->aux[A_MASK] = nbits(&a) - 1;
    m->aux[A_NHASH] = m->map_extra ? m->map_extra : 5;
    m->aux[A_SEED] = bt_map__seed(&a);
}

static inline uint64_t bit_of(const bt_map *m, const void *value, uint64_t i)
{
    return bt_hash_bytes(value, m->value_size, m->aux[A_SEED] + i) & m->aux[A_MASK];
}

static long bloom_push(bt_map *m, const void *value, uint64_t flags)
{
    if (flags != BT_ANY)
        return -EINVAL;
    uint8_t *bits = bt_map__data(m);
    for (uint64_t i = 0; i < m->aux[A_NHASH]; i++) {
        uint64_t b = bit_of(m, value, i);
        __atomic_fetch_or(&bits[b / 8], (uint8_t)(1u << (b % 8)), __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&m->aux[A_PUSHES], 1, __ATOMIC_RELAXED);
    return 0;
}

static long bloom_peek(bt_map *m, void *value)
{
    const uint8_t *bits = bt_map__data(m);
    for (uint64_t i = 0; i < m->aux[A_NHASH]; i++) {
        uint64_t b = bit_of(m, value, i);
        if (!(__atomic_load_n(&bits[b / 8], __ATOMIC_RELAXED) & (1u << (b % 8))))
            return -ENOENT;
    }
    return 0;
}

static long bloom_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    (void)m;
    (void)key;
    (void)value;
    (void)flags;
    return -EINVAL;
}

/* user side: lookup tests the value it is given, update pushes */
static int bloom_user_lookup(bt_map *m, const void *key, void *value)
{
    (void)key;
    return (int)bloom_peek(m, value);
}

static int bloom_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    (void)key;
    return (int)bloom_push(m, value, flags);
}

static uint64_t bloom_count(bt_map *m)
{
    return __atomic_load_n(&m->aux[A_PUSHES], __ATOMIC_RELAXED);
}

const bt_map_ops bt_bloom_ops = {
    .check = bloom_check,
    .data_size = bloom_size,
    .init = bloom_init,
    .update = bloom_update,
    .push = bloom_push,
    .peek = bloom_peek,
    .user_lookup = bloom_user_lookup,
    .user_update = bloom_user_update,
    .count = bloom_count,
};
