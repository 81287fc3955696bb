/* RINGBUF: the kernel's BPF ring buffer layout, one mapping instead of two.
 *
 *   data area:  [consumer page: u64 consumer_pos] [producer page: u64 producer_pos]
 *               [data: max_entries bytes, a power-of-2 multiple of the page size]
 *   record:     u32 len (bit 31 BUSY, bit 30 DISCARD) | u32 pg_off | payload,
 *               padded to 8 bytes; positions grow forever, masked into data
 *
 * The kernel maps the data pages twice in a row so a record may run past the
 * end. One mapping in shared memory cannot, so a record that would straddle the
 * end is preceded by a discarded padding record up to the end and starts at
 * offset 0; consumers skip it like any discarded record. pg_off is the record
 * header's page offset from the consumer page (the kernel's counts from its
 * struct bpf_ringbuf; nothing here reads it).
 *
 * Producers (reserve, from any process) serialise on the map lock only to move
 * producer_pos; submit/discard clear BUSY with one atomic exchange, so records
 * may complete out of order but are consumed in reservation order. Reserve
 * returns NULL when the record does not fit in max_entries - 1 bytes past
 * consumer_pos. One consumer at a time. A process that dies between reserve
 * and submit leaves a BUSY record that stops the consumer (the kernel cannot
 * lose a producer that way). Reservations refused because the ring is full are
 * counted in the map header (bt_ringbuf__dropped), for `run` to report at exit.
 */
#include "bt_map_impl.h"

#define RB_PAGE 4096u
#define RINGBUF_MAX_RECORD_SZ (UINT32_MAX / 4)

enum { A_MASK, A_DROPPED }; /* aux: index mask; records refused because the ring was full */

typedef struct rb_hdr {
    uint32_t len;
    uint32_t pg_off;
} rb_hdr;

static int ringbuf_check(const bt_map_attr *a, char *err, size_t errlen)
{
    if (a->map_flags & ~BT_F_NUMA_NODE)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for ring buffers",
                      a->map_flags & ~BT_F_NUMA_NODE);
    if (a->key_size || a->value_size)
        return bt_err(err, errlen, -EINVAL, "ring buffers need key_size 0 and value_size 0");
    if (a->max_entries == 0 || (a->max_entries & (a->max_entries - 1)) ||
        a->max_entries % RB_PAGE)
        return bt_err(err, errlen, -EINVAL,
                      "ring buffer size (max_entries) %u must be a power of 2 and a multiple of "
                      "%u",
                      a->max_entries, RB_PAGE);
    return 0;
}

static uint64_t ringbuf_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return 2 * RB_PAGE + (uint64_t)a->max_entries;
}

static void ringbuf_init(bt_map *m)
{
    m->aux[A_MASK] = (uint64_t)m->max_entries - 1;
}

uint64_t *bt_ringbuf__consumer_pos(bt_map *m)
{
    return (uint64_t *)bt_map__data(m);
}

uint64_t *bt_ringbuf__producer_pos(bt_map *m)
{
    return (uint64_t *)((uint8_t *)bt_map__data(m) + RB_PAGE);
}

uint8_t *bt_ringbuf__data(bt_map *m)
{
    return (uint8_t *)bt_map__data(m) + 2 * RB_PAGE;
}

void *bt_ringbuf__reserve(bt_map *m, uint64_t size, uint64_t flags)
{
    if (flags || size > RINGBUF_MAX_RECORD_SZ)
        return NULL;
    uint64_t mask = m->aux[A_MASK], total = mask + 1;
    uint64_t len = bt_round8(size + BT_RINGBUF_HDR_SZ);
    if (len > total) {
        __atomic_fetch_add(&m->aux[A_DROPPED], 1, __ATOMIC_RELAXED);
        return NULL;
    }
    uint8_t *data = bt_ringbuf__data(m);
    uint64_t *prodp = bt_ringbuf__producer_pos(m);
    uint64_t cons = __atomic_load_n(bt_ringbuf__consumer_pos(m), __ATOMIC_ACQUIRE);
    bt_map__lock(m);
    uint64_t prod = *prodp;
    uint64_t at = prod & mask;
    uint64_t pad = at + len > total ? total - at : 0;
    if (prod + pad + len - cons > mask) {
        bt_map__unlock(m);
        __atomic_fetch_add(&m->aux[A_DROPPED], 1, __ATOMIC_RELAXED);
        return NULL;
    }
    if (pad) {
        rb_hdr *p = (rb_hdr *)(data + at);
        p->pg_off = (uint32_t)((2 * RB_PAGE + at) / RB_PAGE);
        p->len = (uint32_t)(pad - BT_RINGBUF_HDR_SZ) | BT_RINGBUF_DISCARD_BIT;
        at = 0;
    }
    rb_hdr *h = (rb_hdr *)(data + at);
    h->len = (uint32_t)size | BT_RINGBUF_BUSY_BIT;
    h->pg_off = (uint32_t)((2 * RB_PAGE + at) / RB_PAGE);
    __atomic_store_n(prodp, prod + pad + len, __ATOMIC_RELEASE);
    bt_map__unlock(m);
    return h + 1;
}

static void commit(void *sample, int discard)
{
    rb_hdr *h = (rb_hdr *)sample - 1;
    uint32_t len = __atomic_load_n(&h->len, __ATOMIC_RELAXED) & ~BT_RINGBUF_BUSY_BIT;
    if (discard)
        len |= BT_RINGBUF_DISCARD_BIT;
    __atomic_exchange_n(&h->len, len, __ATOMIC_ACQ_REL);
}

void bt_ringbuf__submit(void *sample, uint64_t flags)
{
    (void)flags; /* wakeup flags: consumers poll */
    commit(sample, 0);
}

void bt_ringbuf__discard(void *sample, uint64_t flags)
{
    (void)flags;
    commit(sample, 1);
}

long bt_ringbuf__output(bt_map *m, const void *data, uint64_t size, uint64_t flags)
{
    if (flags & ~(uint64_t)(BT_RB_NO_WAKEUP | BT_RB_FORCE_WAKEUP))
        return -EINVAL;
    void *rec = bt_ringbuf__reserve(m, size, 0);
    if (!rec)
        return -EAGAIN;
    memcpy(rec, data, size);
    commit(rec, 0);
    return 0;
}

uint64_t bt_ringbuf__query(bt_map *m, uint64_t flags)
{
    uint64_t cons = __atomic_load_n(bt_ringbuf__consumer_pos(m), __ATOMIC_ACQUIRE);
    uint64_t prod = __atomic_load_n(bt_ringbuf__producer_pos(m), __ATOMIC_ACQUIRE);
    switch (flags) {
    case BT_RB_AVAIL_DATA:
        return prod - cons;
    case BT_RB_RING_SIZE:
        return m->aux[A_MASK] + 1;
    case BT_RB_CONS_POS:
        return cons;
    case BT_RB_PROD_POS:
        return prod;
    default:
        return 0;
    }
}

uint64_t bt_ringbuf__dropped(bt_map *m)
{
    return __atomic_load_n(&m->aux[A_DROPPED], __ATOMIC_RELAXED);
}

long bt_ringbuf__consume(bt_map *m, bt_ringbuf_cb cb, void *cb_ctx)
{
    if (m->type != BT_MAP_RINGBUF)
        return -EINVAL;
    uint64_t mask = m->aux[A_MASK];
    uint8_t *data = bt_ringbuf__data(m);
    uint64_t *consp = bt_ringbuf__consumer_pos(m);
    uint64_t cons = __atomic_load_n(consp, __ATOMIC_ACQUIRE);
    long n = 0;
    for (;;) {
        uint64_t prod = __atomic_load_n(bt_ringbuf__producer_pos(m), __ATOMIC_ACQUIRE);
        if (cons >= prod)
            return n;
        while (cons < prod) {
            rb_hdr *h = (rb_hdr *)(data + (cons & mask));
            uint32_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
            if (len & BT_RINGBUF_BUSY_BIT)
                return n;
            uint32_t size = len & ~(BT_RINGBUF_BUSY_BIT | BT_RINGBUF_DISCARD_BIT);
            uint64_t step = bt_round8((uint64_t)size + BT_RINGBUF_HDR_SZ);
            if ((cons & mask) + step > mask + 1)
                return -EINVAL; /* damaged: records never straddle the end */
            cons += step;
            int stop = 0;
            if (!(len & BT_RINGBUF_DISCARD_BIT)) {
                n++;
                stop = cb(cb_ctx, h + 1, size) < 0;
            }
            __atomic_store_n(consp, cons, __ATOMIC_RELEASE);
            if (stop)
                return n;
        }
    }
}

const bt_map_ops bt_ringbuf_ops = {
    .check = ringbuf_check,
    .data_size = ringbuf_size,
    .init = ringbuf_init,
};
