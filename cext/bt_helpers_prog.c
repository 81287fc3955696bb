/* Helpers about programs and stacks that need maps: bpf_tail_call (12) and
 * bpf_get_stackid (27); and bt_helpers__fill, which puts every helper in a table. */
#include <errno.h>

#include "bt_helpers.h"
#include "bt_helpers_map.h"
#include "bt_map.h"
#include "bt_prog.h"

#define BT_STACKID_MAX 127

static uint64_t h_tail_call(uint64_t c, uint64_t map, uint64_t index, uint64_t a4, uint64_t a5,
                            bt_ctx *ctx)
{
    (void)c; (void)a4; (void)a5;
    bt_map *m = (bt_map *)(uintptr_t)map;
    if (!m || m->type != BT_MAP_PROG_ARRAY)
        return (uint64_t)-EINVAL;
    if ((uint32_t)index >= m->max_entries)
        return (uint64_t)-ENOENT;
    if (ctx->tail_calls >= BT_MAX_TAIL_CALLS)
        return (uint64_t)-E2BIG;
    const bt_prog *target = bt_prog__by_id(bt_map__prog_at(m, (uint32_t)index));
    if (!target)
        return (uint64_t)-ENOENT;
    /* like the kernel, the calling program ends here; bt_prog__exec starts the target */
    ctx->tail_calls++;
    ctx->tail_target = target;
    ctx->exit_flag = BT_EXIT_TAILCALL;
    return 0;
}

static uint64_t h_get_stackid(uint64_t regs, uint64_t map, uint64_t flags, uint64_t a4,
                              uint64_t a5, bt_ctx *ctx)
{
    (void)regs; (void)a4; (void)a5; (void)ctx;
    bt_map *m = (bt_map *)(uintptr_t)map;
    uint64_t ips[BT_STACKID_MAX];
    if (!m || m->type != BT_MAP_STACK_TRACE)
        return (uint64_t)-EINVAL;
    if (flags & ~(BT_F_SKIP_FIELD_MASK | BT_F_USER_STACK | BT_F_FAST_STACK_CMP |
                  BT_F_REUSE_STACKID))
        return (uint64_t)-EINVAL;
    if (!(flags & BT_F_USER_STACK))
        return (uint64_t)-EFAULT; /* no kernel stack in a user process */
    int max = (int)(m->value_size / 8);
    if (max > BT_STACKID_MAX)
        max = BT_STACKID_MAX;
    int n = bt_user_stack(ips, max, flags & BT_F_SKIP_FIELD_MASK);
    if (n <= 0)
        return (uint64_t)-EFAULT;
    return (uint64_t)bt_stackmap__store(m, ips, (uint32_t)n, flags);
}

void bt_helpers__fill(bt_helper_fn *t, size_t n)
{
    bt_helpers__fill_core(t, n);
    bt_helpers__fill_trace(t, n);
    bt_helpers__fill_maps(t, n);
    if (n > BT_FN_tail_call)
        t[BT_FN_tail_call] = h_tail_call;
    if (n > BT_FN_get_stackid)
        t[BT_FN_get_stackid] = h_get_stackid;
}
