/* ARRAY and PERCPU_ARRAY, plus the attribute checks and get_next_key that
 * every array-shaped map shares.
 *
 * Layout (data area): values in slots of round_up(value_size, 8) bytes.
 *   ARRAY         slot i            = element i; contiguous, so a program's
 *                                     `lddw map_value` (global variables) can
 *                                     point straight into it
 *   PERCPU_ARRAY  slot i * ncpu + c = element i as CPU c sees it
 * Updates are plain copies without the map lock, as in the kernel: a reader
 * racing with a writer may see a torn value. Elements always exist, so delete
 * is -EINVAL and BPF_NOEXIST is -EEXIST.
 */
#include "bt_map_impl.h"

int bt_array__check_attr(const bt_map_attr *a, char *err, size_t errlen)
{
    int percpu = a->type == BT_MAP_PERCPU_ARRAY;
    const uint32_t mask =
        BT_F_NUMA_NODE | BT_F_MMAPABLE | BT_F_ACCESS_MASK | BT_F_PRESERVE_ELEMS | BT_F_INNER_MAP;
    if (a->max_entries == 0)
        return bt_err(err, errlen, -EINVAL, "max_entries must be > 0");
    if (a->key_size != 4)
        return bt_err(err, errlen, -EINVAL, "key_size must be 4 for array maps, not %u",
                      a->key_size);
    if (a->value_size == 0)
        return bt_err(err, errlen, -EINVAL, "value_size must be > 0");
    if (a->map_flags & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for this map type",
                      a->map_flags & ~mask);
    if (percpu && (a->map_flags & BT_F_NUMA_NODE))
        return bt_err(err, errlen, -EINVAL, "BPF_F_NUMA_NODE not allowed for per-CPU arrays");
    if (a->type != BT_MAP_ARRAY && (a->map_flags & (BT_F_MMAPABLE | BT_F_INNER_MAP)))
        return bt_err(err, errlen, -EINVAL,
                      "BPF_F_MMAPABLE and BPF_F_INNER_MAP are for plain arrays only");
    if (a->type != BT_MAP_PERF_EVENT_ARRAY && (a->map_flags & BT_F_PRESERVE_ELEMS))
        return bt_err(err, errlen, -EINVAL, "BPF_F_PRESERVE_ELEMS is for perf event arrays only");
    if (a->value_size > 0x7fffffffu)
        return bt_err(err, errlen, -E2BIG, "value_size %u is too large", a->value_size);
    if (percpu && bt_round8(a->value_size) > BT_PCPU_MIN_UNIT_SIZE)
        return bt_err(err, errlen, -E2BIG, "per-CPU value_size %u exceeds %u bytes",
                      a->value_size, BT_PCPU_MIN_UNIT_SIZE);
    return 0;
}

int bt_fd_array__check_attr(const bt_map_attr *a, char *err, size_t errlen)
{
    if (a->value_size != 4)
        return bt_err(err, errlen, -EINVAL, "value_size must be 4 (an id), not %u",
                      a->value_size);
    if (a->map_flags & (BT_F_RDONLY_PROG | BT_F_WRONLY_PROG))
        return bt_err(err, errlen, -EINVAL,
                      "BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG not allowed for this map type");
    return bt_array__check_attr(a, err, errlen);
}

int bt_array__next_key(bt_map *m, const void *key, void *next)
{
    uint32_t index = key ? bt_key_u32(key) : UINT32_MAX;
    uint32_t n;
    if (index >= m->max_entries)
        n = 0;
    else if (index == m->max_entries - 1)
        return -ENOENT;
    else
        n = index + 1;
    memcpy(next, &n, 4);
    return 0;
}

static uint64_t array_size(const bt_map_attr *a, uint32_t ncpu)
{
    uint32_t copies = a->type == BT_MAP_PERCPU_ARRAY ? ncpu : 1;
    return bt_mul_add(bt_mul_add(a->max_entries, copies, 0), bt_round8(a->value_size), 0);
}

static inline uint8_t *slot(bt_map *m, uint32_t index)
{
    return (uint8_t *)bt_map__data(m) + (uint64_t)index * bt_round8(m->value_size);
}

static void *array_lookup(bt_map *m, const void *key)
{
    uint32_t i = bt_key_u32(key);
    return i < m->max_entries ? slot(m, i) : NULL;
}

static void *percpu_lookup(bt_map *m, const void *key)
{
    uint32_t i = bt_key_u32(key);
    return i < m->max_entries ? slot(m, i * m->ncpu + bt_map__cpu(m)) : NULL;
}

static long check_update(bt_map *m, uint32_t index, uint64_t flags)
{
    if (flags > BT_EXIST)
        return -EINVAL;
    if (index >= m->max_entries)
        return -E2BIG;
    if (flags == BT_NOEXIST)
        return -EEXIST;
    return 0;
}

static long array_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    uint32_t i = bt_key_u32(key);
    long rc = check_update(m, i, flags);
    if (!rc)
        memcpy(slot(m, i), value, m->value_size);
    return rc;
}

static long percpu_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    uint32_t i = bt_key_u32(key);
    long rc = check_update(m, i, flags);
    if (!rc)
        memcpy(slot(m, i * m->ncpu + bt_map__cpu(m)), value, m->value_size);
    return rc;
}

static long array_delete(bt_map *m, const void *key)
{
    (void)m;
    (void)key;
    return -EINVAL;
}

static int array_user_lookup(bt_map *m, const void *key, void *value)
{
    uint32_t i = bt_key_u32(key);
    if (i >= m->max_entries)
        return -ENOENT;
    memcpy(value, slot(m, i), m->value_size);
    return 0;
}

static int array_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    return (int)array_update(m, key, value, flags);
}

/* user side of per-CPU values: ncpu slots of round_up(value_size, 8), the same
 * layout as the element's storage */
static int percpu_user_lookup(bt_map *m, const void *key, void *value)
{
    uint32_t i = bt_key_u32(key);
    if (i >= m->max_entries)
        return -ENOENT;
    memcpy(value, slot(m, i * m->ncpu), (uint64_t)m->ncpu * bt_round8(m->value_size));
    return 0;
}

static int percpu_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    uint32_t i = bt_key_u32(key);
    long rc = check_update(m, i, flags);
    if (!rc)
        memcpy(slot(m, i * m->ncpu), value, (uint64_t)m->ncpu * bt_round8(m->value_size));
    return (int)rc;
}

static int array_user_delete(bt_map *m, const void *key)
{
    return (int)array_delete(m, key);
}

static uint64_t array_count(bt_map *m)
{
    return m->max_entries;
}

static long array_for_each(bt_map *m, bt_map_elem_cb cb, void *cb_ctx)
{
    int percpu = m->type == BT_MAP_PERCPU_ARRAY;
    uint32_t cpu = percpu ? bt_map__cpu(m) : 0;
    long n = 0;
    for (uint32_t i = 0; i < m->max_entries; i++) {
        uint32_t key = i;
        n++;
        if (cb(cb_ctx, m, &key, percpu ? slot(m, i * m->ncpu + cpu) : slot(m, i)))
            break;
    }
    return n;
}

const bt_map_ops bt_array_ops = {
    .check = bt_array__check_attr,
    .data_size = array_size,
    .lookup = array_lookup,
    .update = array_update,
    .delete = array_delete,
    .user_lookup = array_user_lookup,
    .user_update = array_user_update,
    .user_delete = array_user_delete,
    .next_key = bt_array__next_key,
    .count = array_count,
    .for_each = array_for_each,
};

const bt_map_ops bt_percpu_array_ops = {
    .check = bt_array__check_attr,
    .data_size = array_size,
    .lookup = percpu_lookup,
    .update = percpu_update,
    .delete = array_delete,
    .user_lookup = percpu_user_lookup,
    .user_update = percpu_user_update,
    .user_delete = array_user_delete,
    .next_key = bt_array__next_key,
    .count = array_count,
    .for_each = array_for_each,
};
