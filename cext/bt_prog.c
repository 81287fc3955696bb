/* Program registry and the tail-call-following runner; see bt_prog.h. */
#include <errno.h>
#include <stddef.h>

#include "bt_prog.h"

bt_interp_fn bt_interp_impl;
/* id -> program; ids are slots + 1. Guarded by a simple spinlock: registration is rare. */
static const bt_prog *bt_progs[BT_MAX_PROGS];
static int bt_progs_lock;

void bt_prog__set_interpreter(bt_interp_fn fn)
{
    bt_interp_impl = fn;
}

static void lock(void)
{
    while (__atomic_exchange_n(&bt_progs_lock, 1, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void)
{
    __atomic_store_n(&bt_progs_lock, 0, __ATOMIC_RELEASE);
}

int bt_prog__register(bt_prog *p)
{
    int rc = -ENOSPC;
    lock();
    for (uint32_t i = 0; i < BT_MAX_PROGS; i++) {
        if (!bt_progs[i]) {
            bt_progs[i] = p;
            p->id = i + 1;
            rc = 0;
            break;
        }
    }
    unlock();
    return rc;
}

int bt_prog__register_as(bt_prog *p, uint32_t id)
{
    if (id == 0 || id > BT_MAX_PROGS)
        return -EINVAL;
    lock();
    bt_progs[id - 1] = p;
    p->id = id;
    unlock();
    return 0;
}

void bt_prog__unregister(bt_prog *p)
{
    if (!p->id)
        return;
    lock();
    if (p->id <= BT_MAX_PROGS && bt_progs[p->id - 1] == p)
        bt_progs[p->id - 1] = NULL;
    unlock();
    p->id = 0;
}

const bt_prog *bt_prog__by_id(uint32_t id)
{
    if (id == 0 || id > BT_MAX_PROGS)
        return NULL;
    return __atomic_load_n(&bt_progs[id - 1], __ATOMIC_ACQUIRE);
}

uint64_t bt_prog__jit_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3,
                               uint64_t a4, uint64_t a5)
{
    bt_helper_fn sub = (bt_helper_fn)(uintptr_t)fn;
    return sub(a1, a2, a3, a4, a5, ctx);
}
