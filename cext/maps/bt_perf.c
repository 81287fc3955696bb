/* PERF_EVENT_ARRAY: one perf ring per possible CPU, in the perf mmap format.
 *
 *   ring c (one per possible CPU, BT_PERF_RING_BYTES of data each):
 *     [header page: perf_event_mmap_page layout: data_head @1024, data_tail
 *      @1032, data_offset @1040, data_size @1048; bpftime's producer lock and
 *      pending lost count @2048]
 *     [data: power of two, records wrap around its end as in the kernel]
 *   PERF_RECORD_SAMPLE: {u32 type = 9, u16 misc = 0, u16 size} u32 raw_size
 *                       raw data, zero-padded so the record is 8-byte aligned
 *   PERF_RECORD_LOST:   {u32 type = 2, u16 misc = 0, u16 size = 24} u64 id (the CPU), u64 lost
 *
 * The kernel writes to perf events that user space attached per CPU; here the
 * rings exist from creation, one per possible CPU, and user-side
 * lookup/update/delete are -EOPNOTSUPP. Output to index i (or to the current
 * CPU with BT_F_CURRENT_CPU) checks i < max_entries (-E2BIG) and i < ncpu
 * (-ENOENT: no event there), and, unlike the kernel, does not require i to be
 * the CPU the caller runs on: a user thread may migrate at any time. A sample
 * that does not fit is counted and the helper returns -ENOSPC; the count goes
 * out as a PERF_RECORD_LOST before the next sample that fits.
 */
#include <stdlib.h>

#include "bt_map_impl.h"

#define PERF_PAGE 4096u
#define PERF_RECORD_LOST 2u
#define PERF_RECORD_SAMPLE 9u

typedef struct perf_page {
    uint32_t version;
    uint32_t compat_version;
    uint8_t pad0[1024 - 8];
    uint64_t data_head;   /* written by producers (release) */
    uint64_t data_tail;   /* written by the consumer (release) */
    uint64_t data_offset; /* from the start of this page */
    uint64_t data_size;
    uint8_t pad1[2048 - 1056];
    bt_lock lock;         /* bpftime: producers of this ring */
    uint32_t pad2;
    uint64_t lost;        /* bpftime: samples dropped since the last LOST record */
    uint8_t pad3[PERF_PAGE - 2064];
} perf_page;

_Static_assert(sizeof(perf_page) == PERF_PAGE, "perf header page");
_Static_assert(offsetof(perf_page, data_head) == 1024, "perf_event_mmap_page.data_head");
_Static_assert(offsetof(perf_page, data_tail) == 1032, "perf_event_mmap_page.data_tail");
_Static_assert(offsetof(perf_page, data_offset) == 1040, "perf_event_mmap_page.data_offset");
_Static_assert(offsetof(perf_page, data_size) == 1048, "perf_event_mmap_page.data_size");

typedef struct perf_event_header {
    uint32_t type;
    uint16_t misc;
    uint16_t size;
} perf_event_header;

#define RING_STRIDE ((uint64_t)PERF_PAGE + BT_PERF_RING_BYTES)

static uint64_t perf_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)a;
    return bt_mul_add(ncpu, RING_STRIDE, 0);
}

static perf_page *ring(bt_map *m, uint32_t cpu)
{
    return (perf_page *)((uint8_t *)bt_map__data(m) + cpu * RING_STRIDE);
}

static void perf_init(bt_map *m)
{
    for (uint32_t c = 0; c < m->ncpu; c++) {
        perf_page *p = ring(m, c);
        p->data_offset = PERF_PAGE;
        p->data_size = BT_PERF_RING_BYTES;
    }
}

/* copy into the ring at position pos, wrapping; src NULL writes zeros */
static void ring_write(uint8_t *data, uint64_t pos, const void *src, uint64_t len)
{
    uint64_t at = pos & (BT_PERF_RING_BYTES - 1);
    uint64_t first = len < BT_PERF_RING_BYTES - at ? len : BT_PERF_RING_BYTES - at;
    if (src) {
        memcpy(data + at, src, first);
        memcpy(data, (const uint8_t *)src + first, len - first);
    } else {
        memset(data + at, 0, first);
        memset(data, 0, len - first);
    }
}

static void ring_read(const uint8_t *data, uint64_t pos, void *dst, uint64_t len)
{
    uint64_t at = pos & (BT_PERF_RING_BYTES - 1);
    uint64_t first = len < BT_PERF_RING_BYTES - at ? len : BT_PERF_RING_BYTES - at;
    memcpy(dst, data + at, first);
    memcpy((uint8_t *)dst + first, data, len - first);
}

long bt_perf__output(bt_map *m, uint64_t flags, const void *data, uint64_t size)
{
    if (flags & ~BT_F_INDEX_MASK)
        return -EINVAL;
    uint64_t index = flags & BT_F_INDEX_MASK;
    if (index == BT_F_CURRENT_CPU)
        index = bt_map__cpu(m);
    if (index >= m->max_entries)
        return -E2BIG;
    if (index >= m->ncpu)
        return -ENOENT;
    uint64_t raw = bt_round8(size + 4) - 4;
    uint64_t rec = sizeof(perf_event_header) + 4 + raw;
    if (rec > UINT16_MAX)
        return -E2BIG;
    perf_page *p = ring(m, (uint32_t)index);
    uint8_t *d = (uint8_t *)p + PERF_PAGE;
    bt_lock__acquire(&p->lock);
    uint64_t head = p->data_head;
    uint64_t tail = __atomic_load_n(&p->data_tail, __ATOMIC_ACQUIRE);
    uint64_t lost_rec = p->lost ? 24 : 0;
    if (head + lost_rec + rec - tail > BT_PERF_RING_BYTES) {
        p->lost++;
        bt_lock__release(&p->lock);
        return -ENOSPC;
    }
    if (p->lost) {
        struct {
            perf_event_header h;
            uint64_t id, lost;
        } l = {{PERF_RECORD_LOST, 0, 24}, index, p->lost};
        ring_write(d, head, &l, sizeof(l));
        head += sizeof(l);
        p->lost = 0;
    }
    perf_event_header h = {PERF_RECORD_SAMPLE, 0, (uint16_t)rec};
    uint32_t raw32 = (uint32_t)raw;
    ring_write(d, head, &h, sizeof(h));
    ring_write(d, head + 8, &raw32, 4);
    ring_write(d, head + 12, data, size);
    ring_write(d, head + 12 + size, NULL, raw - size);
    __atomic_store_n(&p->data_head, head + rec, __ATOMIC_RELEASE);
    bt_lock__release(&p->lock);
    return 0;
}

uint64_t bt_perf__pending_lost(bt_map *m, uint32_t cpu)
{
    if (m->type != BT_MAP_PERF_EVENT_ARRAY || cpu >= m->ncpu)
        return 0;
    perf_page *p = ring(m, cpu);
    bt_lock__acquire(&p->lock);
    uint64_t lost = p->lost;
    bt_lock__release(&p->lock);
    return lost;
}

long bt_perf__consume(bt_map *m, uint32_t cpu, bt_ringbuf_cb sample_cb, bt_perf_lost_cb lost_cb,
                      void *cb_ctx)
{
    if (m->type != BT_MAP_PERF_EVENT_ARRAY || cpu >= m->ncpu)
        return -EINVAL;
    perf_page *p = ring(m, cpu);
    const uint8_t *d = (const uint8_t *)p + PERF_PAGE;
    uint64_t head = __atomic_load_n(&p->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = p->data_tail;
    uint8_t *scratch = NULL; /* a record that wraps is copied here in one piece */
    long n = 0, rc = 0;
    while (tail < head) {
        perf_event_header h;
        ring_read(d, tail, &h, sizeof(h));
        if (h.size < sizeof(h) || tail + h.size > head) {
            rc = -EINVAL;
            break;
        }
        const uint8_t *rec = d + (tail & (BT_PERF_RING_BYTES - 1));
        if ((tail & (BT_PERF_RING_BYTES - 1)) + h.size > BT_PERF_RING_BYTES) {
            if (!scratch && !(scratch = malloc(UINT16_MAX + 1))) {
                rc = -ENOMEM;
                break;
            }
            ring_read(d, tail, scratch, h.size);
            rec = scratch;
        }
        tail += h.size;
        int stop = 0;
        if (h.type == PERF_RECORD_SAMPLE && h.size >= 12) {
            uint32_t raw;
            memcpy(&raw, rec + 8, 4);
            if (raw > h.size - 12u)
                raw = h.size - 12u;
            n++;
            stop = sample_cb(cb_ctx, rec + 12, raw) < 0;
        } else if (h.type == PERF_RECORD_LOST && h.size >= 24 && lost_cb) {
            uint64_t lost;
            memcpy(&lost, rec + 16, 8);
            lost_cb(cb_ctx, lost);
        }
        __atomic_store_n(&p->data_tail, tail, __ATOMIC_RELEASE);
        if (stop)
            break;
    }
    free(scratch);
    return rc ? rc : n;
}

const bt_map_ops bt_perf_ops = {
    .check = bt_fd_array__check_attr,
    .data_size = perf_size,
    .init = perf_init,
    .next_key = bt_array__next_key,
};
