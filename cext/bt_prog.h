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

typedef struct bt_prog {
    uint32_t id;                 /* registry id, 0 when not registered */
    uint32_t n;                  /* instructions (interpreter) */
    bt_jit_entry jit;            /* JIT entry, or NULL to interpret */
    const bt_insn *insns;        /* decoded instructions (interpreter) */
    const uint8_t *entries;      /* subprogram starts (interpreter) */
    const bt_helper_fn *helpers; /* helper table */
    uint64_t max_steps;          /* interpreter budget */
} bt_prog;

/* The interpreter (src/bpftime/_interp.pyx) registers itself here at import. */
void bt_prog__set_interpreter(bt_interp_fn fn);

/* Give p an id (>= 1) in this process's registry; 0 or -ENOSPC. */
int bt_prog__register(bt_prog *p);
void bt_prog__unregister(bt_prog *p);
const bt_prog *bt_prog__by_id(uint32_t id);

/* Run p, following tail calls. Sets ctx->prog, ctx->helpers, ctx->max_steps for
 * each program it enters; the caller prepared the rest of ctx. */
uint64_t bt_prog__exec(const bt_prog *p, uint64_t r1, uint64_t r2, bt_ctx *ctx);

#endif
