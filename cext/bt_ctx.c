/* Run-context bookkeeping; see bt_ctx.h. */
#include <errno.h>
#include <string.h>

#include "bt_ctx.h"

void bt_ctx__init(bt_ctx *ctx)
{
    memset(ctx, 0, offsetof(bt_ctx, regions));
    ctx->error_pc = -1;
}

int bt_ctx__add_region(bt_ctx *ctx, const void *ptr, uint64_t len, int writable)
{
    if (ctx->nregions >= BT_MAX_REGIONS)
        return -ENOSPC;
    bt_region *r = &ctx->regions[ctx->nregions++];
    r->start = (uint64_t)(uintptr_t)ptr;
    r->end = r->start + len;
    r->writable = writable ? 1 : 0;
    r->pad = 0;
    return 0;
}

void bt_ctx__stop(bt_ctx *ctx, uint64_t value)
{
    ctx->exit_flag = BT_EXIT_STOP;
    ctx->exit_value = value;
}

void bt_ctx__fail(bt_ctx *ctx, uint32_t error)
{
    ctx->exit_flag = BT_EXIT_ERROR;
    ctx->error = error;
}
