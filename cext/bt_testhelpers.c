/* ubpf's test helpers, with the semantics its .data files expect. */
#include <string.h>

#include "bt_testhelpers.h"

uint64_t bt_test__gather_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                               bt_ctx *ctx)
{
    (void)ctx;
    return ((a & 0xff) << 32) | ((b & 0xff) << 24) | ((c & 0xff) << 16) | ((d & 0xff) << 8) |
           (e & 0xff);
}

uint64_t bt_test__memfrob(uint64_t ptr, uint64_t len, uint64_t c, uint64_t d, uint64_t e,
                          bt_ctx *ctx)
{
    (void)c; (void)d; (void)e; (void)ctx;
    unsigned char *p = (unsigned char *)(uintptr_t)ptr;
    for (uint64_t i = 0; i < len; i++)
        p[i] ^= 42;
    return 0;
}

uint64_t bt_test__trash_registers(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                                  bt_ctx *ctx)
{
    /* ubpf's version clobbers caller-saved machine registers; a call through a C function
     * pointer already lets the compiler do that, so nothing more is needed. */
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)ctx;
    return 0;
}

uint64_t bt_test__sqrti(uint64_t x, uint64_t b, uint64_t c, uint64_t d, uint64_t e, bt_ctx *ctx)
{
    (void)b; (void)c; (void)d; (void)e; (void)ctx;
    /* floor(sqrt(x)) by binary search: exact for every 64-bit x */
    uint64_t lo = 0, hi = 0xffffffffULL;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (mid * mid <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

uint64_t bt_test__strcmp_ext(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                             bt_ctx *ctx)
{
    (void)c; (void)d; (void)e; (void)ctx;
    return (uint64_t)(int64_t)strcmp((const char *)(uintptr_t)a, (const char *)(uintptr_t)b);
}

uint64_t bt_test__unwind(uint64_t x, uint64_t b, uint64_t c, uint64_t d, uint64_t e, bt_ctx *ctx)
{
    (void)b; (void)c; (void)d; (void)e;
    if (x == 0)
        bt_ctx__stop(ctx, 0);
    return x;
}
