/* QUEUE (FIFO) and STACK (LIFO), the kernel's queue_stack_maps.
 *
 * Layout: a ring of max_entries + 1 slots of round_up(value_size, 8) bytes;
 * aux holds head (next slot to push), tail (oldest element) and the ring size.
 * Empty when head == tail, full when head + 1 == tail (mod size). A queue pops
 * at the tail, a stack at head - 1. Pushing onto a full map fails with -E2BIG
 * unless flags is BPF_EXIST, which drops the oldest element (the tail) first,
 * for both types, as the kernel does.
 *
 * Every operation (peek too) holds the map lock. The value is copied before
 * the one store that moves head or tail, so a holder's death loses at most the
 * element it was pushing or popping.
 *
 * User side as the bpf() syscall: lookup = peek, update = push, lookup and
 * delete = pop, delete and get_next_key are -EINVAL.
 */
#include "bt_map_impl.h"

enum { A_HEAD, A_TAIL, A_SIZE };

static int queue_check(const bt_map_attr *a, char *err, size_t errlen)
{
    const uint32_t mask = BT_F_NUMA_NODE | BT_F_ACCESS_MASK;
    if (a->max_entries == 0 || a->key_size != 0 || a->value_size == 0)
        return bt_err(err, errlen, -EINVAL,
                      "queue/stack maps need key_size 0, value_size > 0 and max_entries > 0");
    if (a->map_flags & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for queue/stack maps",
                      a->map_flags & ~mask);
    if (a->value_size > BT_KMALLOC_MAX_SIZE)
        return bt_err(err, errlen, -E2BIG, "value_size %u is too large", a->value_size);
    return 0;
}

static uint64_t queue_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return bt_mul_add((uint64_t)a->max_entries + 1, bt_round8(a->value_size), 0);
}

static void queue_init(bt_map *m)
{
    m->aux[A_SIZE] = (uint64_t)m->max_entries + 1;
}

static inline uint8_t *slot(bt_map *m, uint64_t i)
{
    return (uint8_t *)bt_map__data(m) + i * bt_round8(m->value_size);
}

static long queue_push(bt_map *m, const void *value, uint64_t flags)
{
    if ((flags & BT_NOEXIST) || flags > BT_EXIST)
        return -EINVAL;
    uint64_t size = m->aux[A_SIZE];
    long rc = 0;
    bt_map__lock(m);
    uint64_t head = m->aux[A_HEAD], tail = m->aux[A_TAIL];
    uint64_t next = head + 1 == size ? 0 : head + 1;
    if (next == tail) {
        if (flags != BT_EXIST)
            rc = -E2BIG;
        else
            __atomic_store_n(&m->aux[A_TAIL], tail + 1 == size ? 0 : tail + 1,
                             __ATOMIC_RELEASE);
    }
    if (!rc) {
        memcpy(slot(m, head), value, m->value_size);
        __atomic_store_n(&m->aux[A_HEAD], next, __ATOMIC_RELEASE);
    }
    bt_map__unlock(m);
    return rc;
}

static long take(bt_map *m, void *value, int remove)
{
    uint64_t size = m->aux[A_SIZE];
    long rc = 0;
    bt_map__lock(m);
    uint64_t head = m->aux[A_HEAD], tail = m->aux[A_TAIL];
    if (head == tail) {
        rc = -ENOENT;
    } else if (m->type == BT_MAP_QUEUE) {
        memcpy(value, slot(m, tail), m->value_size);
        if (remove)
            __atomic_store_n(&m->aux[A_TAIL], tail + 1 == size ? 0 : tail + 1,
                             __ATOMIC_RELEASE);
    } else {
        uint64_t top = head == 0 ? size - 1 : head - 1;
        memcpy(value, slot(m, top), m->value_size);
        if (remove)
            __atomic_store_n(&m->aux[A_HEAD], top, __ATOMIC_RELEASE);
    }
    bt_map__unlock(m);
    return rc;
}

static long queue_pop(bt_map *m, void *value)
{
    return take(m, value, 1);
}

static long queue_peek(bt_map *m, void *value)
{
    return take(m, value, 0);
}

static long queue_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    (void)m;
    (void)key;
    (void)value;
    (void)flags;
    return -EINVAL;
}

static long queue_delete(bt_map *m, const void *key)
{
    (void)m;
    (void)key;
    return -EINVAL;
}

static int queue_user_lookup(bt_map *m, const void *key, void *value)
{
    (void)key;
    return (int)take(m, value, 0);
}

static int queue_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    (void)key;
    return (int)queue_push(m, value, flags);
}

static int queue_user_delete(bt_map *m, const void *key)
{
    return (int)queue_delete(m, key);
}

static int queue_next_key(bt_map *m, const void *key, void *next)
{
    (void)m;
    (void)key;
    (void)next;
    return -EINVAL;
}

static int queue_lookup_and_delete(bt_map *m, const void *key, void *value)
{
    (void)key;
    return (int)take(m, value, 1);
}

static uint64_t queue_count(bt_map *m)
{
    uint64_t size = m->aux[A_SIZE];
    uint64_t head = __atomic_load_n(&m->aux[A_HEAD], __ATOMIC_ACQUIRE);
    uint64_t tail = __atomic_load_n(&m->aux[A_TAIL], __ATOMIC_ACQUIRE);
    return (head + size - tail) % size;
}

const bt_map_ops bt_queue_ops = {
    .check = queue_check,
    .data_size = queue_size,
    .init = queue_init,
    .update = queue_update,
    .delete = queue_delete,
    .push = queue_push,
    .pop = queue_pop,
    .peek = queue_peek,
    .user_lookup = queue_user_lookup,
    .user_update = queue_user_update,
    .user_delete = queue_user_delete,
    .next_key = queue_next_key,
    .lookup_and_delete = queue_lookup_and_delete,
    .count = queue_count,
};
