/* A loaded program as C sees it, and the process-local registry of programs.
 *
 * PROG_ARRAY maps (bt_map.h) store program ids; bpf_tail_call finds the target
 * here. bt_prog__exec runs a program and follows tail calls: a successful
 * bpf_tail_call stops the running program (BT_EXIT_TAILCALL in the context)
 * and bt_prog__exec starts the target with the same r1, up to 33 times per run
 * as in the kernel.
 */
#ifndef BT_PROG_H
#define BT_PROG_H

#include <stdint.h>

#include "bt_ctx.h"
#include "bt_insn.h"

#define BT_MAX_TAIL_CALLS 33
#define BT_MAX_PROGS 4096

typedef uint64_t (*bt_jit_entry)(uint64_t r1, uint64_t r2, bt_ctx *ctx);
typedef uint64_t (*bt_interp_fn)(const bt_insn *code, uint32_t n, const uint8_t *entries,
                                 uint64_t r1, uint64_t r2, bt_ctx *ctx);

typedef uint64_t (*bt_callback_fn)(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2,
                                   uint64_t a3, uint64_t a4, uint64_t a5);

typedef struct bt_prog {
    uint32_t id;                 /* registry id, 0 when not registered */
    uint32_t n;                  /* instructions (interpreter) */
    bt_jit_entry jit;            /* JIT entry, or NULL to interpret */
    const bt_insn *insns;        /* decoded instructions (interpreter) */
    const uint8_t *entries;      /* subprogram starts (interpreter) */
    const bt_helper_fn *helpers; /* helper table */
    uint64_t max_steps;          /* interpreter budget */
    bt_callback_fn callback;     /* how helpers call this program's callbacks */
} bt_prog;

/* Callback runner for JIT'd programs: a JIT'd subprogram has the helper signature. */
uint64_t bt_prog__jit_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3,
                               uint64_t a4, uint64_t a5);

/* The interpreter (src/bpftime/_interp.pyx) registers itself here at import. */
void bt_prog__set_interpreter(bt_interp_fn fn);

/* Give p an id (>= 1) in this process's registry; 0 or -ENOSPC. */
int bt_prog__register(bt_prog *p);
/* The same with a given id (the agent mirrors the controller's ids, which PROG_ARRAY
 * maps in the shared segment hold); replaces whatever had it. 0 or -EINVAL. */
int bt_prog__register_as(bt_prog *p, uint32_t id);
void bt_prog__unregister(bt_prog *p);
const bt_prog *bt_prog__by_id(uint32_t id);

/* The registered interpreter (set by bt_prog__set_interpreter). */
extern bt_interp_fn bt_interp_impl;

/* Run p, following tail calls. Sets ctx->prog, ctx->helpers, ctx->max_steps and
 * ctx->callback for each program it enters; the caller prepared the rest of ctx.
 * Inline: it sits on every run's path. */
static inline uint64_t bt_prog__exec(const bt_prog *p, uint64_t r1, uint64_t r2, bt_ctx *ctx)
{
    for (;;) {
        uint64_t r0;
        ctx->prog = p;
        ctx->helpers = p->helpers;
        ctx->max_steps = p->max_steps;
        ctx->callback = p->callback;
        if (p->jit)
            r0 = p->jit(r1, r2, ctx);
        else
            r0 = bt_interp_impl(p->insns, p->n, p->entries, r1, r2, ctx);
        if (ctx->exit_flag != BT_EXIT_TAILCALL)
            return r0;
        /* like the kernel: the target starts with the same context and a fresh frame */
        p = ctx->tail_target;
        ctx->tail_target = NULL;
        ctx->exit_flag = BT_EXIT_NONE;
        ctx->depth = 0;
        ctx->error_pc = -1;
    }
}


#endif
