/* PROG_ARRAY: u32 program ids by index, the tail-call table.
 *
 * The kernel stores program references set through fds; here the user side
 * stores ids of the process-local program registry (bt_prog.h), 0 meaning
 * empty, and bt_map__prog_at reads them for bpf_tail_call. Ids are not checked
 * against the registry: the registry is per process and the map is shared.
 * User update takes BPF_ANY only (-EINVAL), index >= max_entries is -E2BIG,
 * delete of an empty slot is -ENOENT. Programs cannot look up, update or
 * delete (the kernel's verifier allows only bpf_tail_call on it).
 */
#include "bt_map_impl.h"

static uint64_t ids_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return (uint64_t)a->max_entries * 4;
}

static inline uint32_t *ids(bt_map *m)
{
    return (uint32_t *)bt_map__data(m);
}

uint32_t bt_map__prog_at(bt_map *m, uint32_t index)
{
    if (m->type != BT_MAP_PROG_ARRAY || index >= m->max_entries)
        return 0;
    return __atomic_load_n(&ids(m)[index], __ATOMIC_ACQUIRE);
}

static int prog_user_lookup(bt_map *m, const void *key, void *value)
{
    uint32_t i = bt_key_u32(key);
    uint32_t id = i < m->max_entries ? __atomic_load_n(&ids(m)[i], __ATOMIC_ACQUIRE) : 0;
    if (!id)
        return -ENOENT;
    memcpy(value, &id, 4);
    return 0;
}

static int prog_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    uint32_t i = bt_key_u32(key), id = bt_key_u32(value);
    if (flags != BT_ANY)
        return -EINVAL;
    if (i >= m->max_entries)
        return -E2BIG;
    if (id == 0)
        return -EINVAL;
    __atomic_store_n(&ids(m)[i], id, __ATOMIC_RELEASE);
    return 0;
}

static int prog_user_delete(bt_map *m, const void *key)
{
    uint32_t i = bt_key_u32(key);
    if (i >= m->max_entries)
        return -E2BIG;
    return __atomic_exchange_n(&ids(m)[i], 0, __ATOMIC_ACQ_REL) ? 0 : -ENOENT;
}

static uint64_t prog_count(bt_map *m)
{
    return m->max_entries;
}

const bt_map_ops bt_prog_array_ops = {
    .check = bt_fd_array__check_attr,
    .data_size = ids_size,
    .user_lookup = prog_user_lookup,
    .user_update = prog_user_update,
    .user_delete = prog_user_delete,
    .next_key = bt_array__next_key,
    .count = prog_count,
};
