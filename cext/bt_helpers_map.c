/* Map helpers with the kernel's semantics (see bt_helpers_map.h), and
 * bt_trace__write for bpf_printk.
 *
 * Helpers trust their arguments as the kernel's trust the verifier: a map
 * argument is the bt_map address a program's `lddw map` loaded.
 * Does not own: the non-map helpers and bt_helpers__fill (another file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bt_helpers.h"
#include "bt_helpers_map.h"
#include "bt_map.h"
#include "bt_prog.h"

#define MAP(x) ((bt_map *)(uintptr_t)(x))
#define PTR(x) ((void *)(uintptr_t)(x))
#define U64(x) ((uint64_t)(uintptr_t)(x))

static int covered(const bt_ctx *ctx, uint64_t start, uint64_t end, int writable)
{
    for (uint32_t i = 0; i < ctx->nregions; i++) {
        const bt_region *r = &ctx->regions[i];
        if (r->start <= start && end <= r->end && (r->writable || !writable))
            return 1;
    }
    return 0;
}

static void expose(bt_ctx *ctx, const void *p, uint64_t len, int writable)
{
    if (ctx->prog && ctx->prog->jit)
        return;  /* regions are the interpreter's memory checks; the JIT has none */
    uint64_t start = U64(p);
    if (!covered(ctx, start, start + len, writable))
        bt_ctx__add_region(ctx, p, len, writable);
}

static void expose_map(bt_ctx *ctx, bt_map *m)
{
    expose(ctx, bt_map__data(m), m->data_size, !(m->map_flags & BT_F_RDONLY_PROG));
}

static uint64_t h_map_lookup_elem(uint64_t map, uint64_t key, uint64_t a3, uint64_t a4,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5;
    bt_map *m = MAP(map);
    void *v = bt_map__lookup_elem(m, PTR(key));
    /* map-in-map lookups return a map, which programs pass on but never read */
    if (v && m->type != BT_MAP_ARRAY_OF_MAPS && m->type != BT_MAP_HASH_OF_MAPS)
        expose_map(ctx, m);
    return U64(v);
}

static uint64_t h_map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)a5; (void)ctx;
    return (uint64_t)bt_map__update_elem(MAP(map), PTR(key), PTR(value), flags);
}

static uint64_t h_map_delete_elem(uint64_t map, uint64_t key, uint64_t a3, uint64_t a4,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_map__delete_elem(MAP(map), PTR(key));
}

static uint64_t h_map_push_elem(uint64_t map, uint64_t value, uint64_t flags, uint64_t a4,
                                uint64_t a5, bt_ctx *ctx)
{
    (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_map__push_elem(MAP(map), PTR(value), flags);
}

static uint64_t h_map_pop_elem(uint64_t map, uint64_t value, uint64_t a3, uint64_t a4,
                               uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_map__pop_elem(MAP(map), PTR(value));
}

static uint64_t h_map_peek_elem(uint64_t map, uint64_t value, uint64_t a3, uint64_t a4,
                                uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_map__peek_elem(MAP(map), PTR(value));
}

static uint64_t h_perf_event_output(uint64_t pctx, uint64_t map, uint64_t flags, uint64_t data,
                                    uint64_t size, bt_ctx *ctx)
{
    (void)pctx; (void)ctx;
    return (uint64_t)bt_perf__output(MAP(map), flags, PTR(data), size);
}

static uint64_t h_ringbuf_output(uint64_t map, uint64_t data, uint64_t size, uint64_t flags,
                                 uint64_t a5, bt_ctx *ctx)
{
    (void)a5; (void)ctx;
    return (uint64_t)bt_ringbuf__output(MAP(map), PTR(data), size, flags);
}

static uint64_t h_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags, uint64_t a4,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)a4; (void)a5;
    bt_map *m = MAP(map);
    void *p = bt_ringbuf__reserve(m, size, flags);
    if (p)
        expose(ctx, bt_ringbuf__data(m), m->max_entries, 1);
    return U64(p);
}

static uint64_t h_ringbuf_submit(uint64_t sample, uint64_t flags, uint64_t a3, uint64_t a4,
                                 uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    bt_ringbuf__submit(PTR(sample), flags);
    return 0;
}

static uint64_t h_ringbuf_discard(uint64_t sample, uint64_t flags, uint64_t a3, uint64_t a4,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    bt_ringbuf__discard(PTR(sample), flags);
    return 0;
}

static uint64_t h_ringbuf_query(uint64_t map, uint64_t flags, uint64_t a3, uint64_t a4,
                                uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    return bt_ringbuf__query(MAP(map), flags);
}

typedef struct each_ctx {
    bt_ctx *ctx;
    uint64_t fn;
    uint64_t cb_ctx;
} each_ctx;

static long each_elem(void *p, bt_map *m, void *key, void *value)
{
    each_ctx *e = p;
    expose(e->ctx, key, m->key_size, 0);
    uint64_t r = e->ctx->callback(e->ctx, e->fn, U64(m), U64(key), U64(value), e->cb_ctx, 0);
    /* 1 stops the walk; so does a callback that failed or stopped the program */
    return r == 1 || e->ctx->exit_flag != BT_EXIT_NONE;
}

static uint64_t h_for_each_map_elem(uint64_t map, uint64_t fn, uint64_t cb_ctx, uint64_t flags,
                                    uint64_t a5, bt_ctx *ctx)
{
    (void)a5;
    bt_map *m = MAP(map);
    if (flags)
        return (uint64_t)-EINVAL;
    if (!ctx->callback)
        return (uint64_t)-EOPNOTSUPP;
    each_ctx e = {ctx, fn, cb_ctx};
    expose_map(ctx, m);
    return (uint64_t)bt_map__for_each(m, each_elem, &e);
}

void bt_helpers__fill_maps(bt_helper_fn *table, size_t n)
{
    static const struct {
        uint32_t id;
        bt_helper_fn fn;
    } helpers[] = {
        {BT_FN_map_lookup_elem, h_map_lookup_elem},
        {BT_FN_map_update_elem, h_map_update_elem},
        {BT_FN_map_delete_elem, h_map_delete_elem},
        {BT_FN_perf_event_output, h_perf_event_output},
        {BT_FN_map_push_elem, h_map_push_elem},
        {BT_FN_map_pop_elem, h_map_pop_elem},
        {BT_FN_map_peek_elem, h_map_peek_elem},
        {BT_FN_ringbuf_output, h_ringbuf_output},
        {BT_FN_ringbuf_reserve, h_ringbuf_reserve},
        {BT_FN_ringbuf_submit, h_ringbuf_submit},
        {BT_FN_ringbuf_discard, h_ringbuf_discard},
        {BT_FN_ringbuf_query, h_ringbuf_query},
        {BT_FN_for_each_map_elem, h_for_each_map_elem},
    };
    for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
        if (helpers[i].id < n)
            table[helpers[i].id] = helpers[i].fn;
}

/* "comm-tid [cpu] seconds.micros: msg" as one trace record, like a trace_pipe
 * line without the flags and function columns */
long bt_trace__write(bt_ctx *ctx, const char *msg, uint32_t len)
{
    if (!ctx->trace)
        return -ENOENT;
    char comm[17] = {0}; /* this thread's name, as the kernel's comm */
    if (prctl(PR_GET_NAME, comm) != 0)
        snprintf(comm, sizeof(comm), "<...>");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int cpu = sched_getcpu();
    char head[96];
    int n = snprintf(head, sizeof(head), "%s-%ld [%03d] %lld.%06ld: ", comm,
                     (long)syscall(SYS_gettid), cpu < 0 ? 0 : cpu, (long long)ts.tv_sec,
                     ts.tv_nsec / 1000);
    if (n < 0 || (size_t)n >= sizeof(head))
        return -EINVAL;
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\0'))
        len--;
    char *rec = bt_ringbuf__reserve(ctx->trace, (uint64_t)n + len, 0);
    if (!rec)
        return -EAGAIN;
    memcpy(rec, head, (size_t)n);
    memcpy(rec + n, msg, len);
    bt_ringbuf__submit(rec, 0);
    return len;
}
