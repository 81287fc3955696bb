/* ARRAY_OF_MAPS and HASH_OF_MAPS: maps whose values are other maps.
 *
 * The user side stores inner map ids (u32), as the kernel's syscall takes map
 * fds and returns map ids; an inner map must live in the same segment and
 * match the template given at creation (inner_map_id) like the kernel's
 * bpf_map_meta_equal: same type, key_size, value_size and map_flags, and for
 * ARRAY/PERCPU_ARRAY the same max_entries unless the template has
 * BPF_F_INNER_MAP. A map of maps cannot be an inner map (one level only).
 * The program side can only look up: it gets the inner bt_map (whose address
 * it passes to further map helpers); updates and deletes from programs are
 * -EOPNOTSUPP (the kernel's verifier refuses them).
 *
 * ARRAY_OF_MAPS keeps a u32 per index (BPF_ANY only, as fd arrays);
 * HASH_OF_MAPS is a hash map (bt_hash.c) whose values are the ids.
 */
#include "bt_map_impl.h"

static int of_maps_check(const bt_map_attr *a, char *err, size_t errlen)
{
    if (a->type == BT_MAP_ARRAY_OF_MAPS)
        return bt_fd_array__check_attr(a, err, errlen);
    if (a->value_size != 4)
        return bt_err(err, errlen, -EINVAL, "value_size must be 4 (a map id), not %u",
                      a->value_size);
    return bt_hash__check_attr(a, err, errlen);
}

static int inner_ok(bt_map *outer, uint32_t id)
{
    bt_map *in = bt_map__sibling(outer, id);
    bt_map *t = bt_map__sibling(outer, outer->inner_map_id);
    if (!in)
        return -EBADF;
    if (!t || in->type != t->type || in->key_size != t->key_size ||
        in->value_size != t->value_size || in->map_flags != t->map_flags)
        return -EINVAL;
    if ((t->type == BT_MAP_ARRAY || t->type == BT_MAP_PERCPU_ARRAY) &&
        !(t->map_flags & BT_F_INNER_MAP) && in->max_entries != t->max_entries)
        return -EINVAL;
    return 0;
}

static inline uint32_t *ids(bt_map *m)
{
    return (uint32_t *)bt_map__data(m);
}

static uint64_t ids_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return (uint64_t)a->max_entries * 4;
}

static void *array_of_maps_lookup(bt_map *m, const void *key)
{
    uint32_t i = bt_key_u32(key);
    if (i >= m->max_entries)
        return NULL;
    uint32_t id = __atomic_load_n(&ids(m)[i], __ATOMIC_ACQUIRE);
    return id ? bt_map__sibling(m, id) : NULL;
}

static int array_of_maps_user_lookup(bt_map *m, const void *key, void *value)
{
    uint32_t i = bt_key_u32(key);
    uint32_t id = i < m->max_entries ? __atomic_load_n(&ids(m)[i], __ATOMIC_ACQUIRE) : 0;
    if (!id)
        return -ENOENT;
    memcpy(value, &id, 4);
    return 0;
}

static int array_of_maps_user_update(bt_map *m, const void *key, const void *value,
                                     uint64_t flags)
{
    uint32_t i = bt_key_u32(key), id = bt_key_u32(value);
    if (flags != BT_ANY)
        return -EINVAL;
    if (i >= m->max_entries)
        return -E2BIG;
    int rc = inner_ok(m, id);
    if (!rc)
        __atomic_store_n(&ids(m)[i], id, __ATOMIC_RELEASE);
    return rc;
}

static int array_of_maps_user_delete(bt_map *m, const void *key)
{
    uint32_t i = bt_key_u32(key);
    if (i >= m->max_entries)
        return -E2BIG;
    return __atomic_exchange_n(&ids(m)[i], 0, __ATOMIC_ACQ_REL) ? 0 : -ENOENT;
}

static uint64_t array_of_maps_count(bt_map *m)
{
    return m->max_entries;
}

static void *hash_of_maps_lookup(bt_map *m, const void *key)
{
    const uint32_t *v = bt_hash__lookup(m, key);
    return v ? bt_map__sibling(m, __atomic_load_n(v, __ATOMIC_ACQUIRE)) : NULL;
}

static int hash_of_maps_user_update(bt_map *m, const void *key, const void *value,
                                    uint64_t flags)
{
    int rc = inner_ok(m, bt_key_u32(value));
    return rc ? rc : bt_hash__user_update(m, key, value, flags);
}

const bt_map_ops bt_array_of_maps_ops = {
    .check = of_maps_check,
    .data_size = ids_size,
    .lookup = array_of_maps_lookup,
    .user_lookup = array_of_maps_user_lookup,
    .user_update = array_of_maps_user_update,
    .user_delete = array_of_maps_user_delete,
    .next_key = bt_array__next_key,
    .count = array_of_maps_count,
};

const bt_map_ops bt_hash_of_maps_ops = {
    .check = of_maps_check,
    .data_size = bt_hash__data_size,
    .init = bt_hash__init,
    .lookup = hash_of_maps_lookup,
    .user_lookup = bt_hash__user_lookup,
    .user_update = hash_of_maps_user_update,
    .user_delete = bt_hash__user_delete,
    .next_key = bt_hash__next_key,
    .count = bt_hash__count,
    .repair = bt_hash__repair,
};
