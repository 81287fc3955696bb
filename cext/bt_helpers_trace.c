/* bpf_trace_printk (6) and bpf_trace_vprintk (177): format, then write one
 * trace_pipe-style line into the segment's trace ring (bt_trace__write). */
#include <errno.h>
#include <string.h>

#include "bt_format.h"
#include "bt_helpers.h"

#define BT_MAX_PRINTK_ARGS 12

static uint64_t printk(bt_ctx *ctx, uint64_t fmt, uint32_t fmt_size, const uint64_t *args,
                       uint32_t nargs)
{
    char line[512];
    if (!fmt_size)
        return (uint64_t)-EINVAL;
    long n = bt_format(line, sizeof line, (const char *)(uintptr_t)fmt, fmt_size, args, nargs);
    if (n < 0)
        return (uint64_t)n;
    size_t len = strnlen(line, sizeof line);
    /* bpf_printk adds no newline of its own; trace_pipe lines end at the message's */
    while (len && line[len - 1] == '\n')
        len--;
    return (uint64_t)bt_trace__write(ctx, line, (uint32_t)len);
}

static uint64_t h_trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t a1, uint64_t a2,
                               uint64_t a3, bt_ctx *ctx)
{
    uint64_t args[3] = {a1, a2, a3};
    return printk(ctx, fmt, (uint32_t)fmt_size, args, 3);
}

static uint64_t h_trace_vprintk(uint64_t fmt, uint64_t fmt_size, uint64_t data, uint64_t data_len,
                                uint64_t a5, bt_ctx *ctx)
{
    (void)a5;
    uint32_t len = (uint32_t)data_len;
    if (len % 8 || len / 8 > BT_MAX_PRINTK_ARGS || (len && !data))
        return (uint64_t)-EINVAL;
    return printk(ctx, fmt, (uint32_t)fmt_size, (const uint64_t *)(uintptr_t)data, len / 8);
}

void bt_helpers__fill_trace(bt_helper_fn *t, size_t n)
{
    if (n > BT_FN_trace_printk)
        t[BT_FN_trace_printk] = h_trace_printk;
    if (n > BT_FN_trace_vprintk)
        t[BT_FN_trace_vprintk] = h_trace_vprintk;
}
