/* Run context shared by both engines and by every helper.
 *
 * One bt_ctx lives for one program run (or one test_run loop). The JIT reads
 * the fields marked [JIT] at fixed offsets, mirrored in bpftime/jit.py
 * (CTX_FIELDS); the static asserts below pin them.
 *
 * Helpers are plain C functions taking the five argument registers and the
 * context. A helper stops the program by setting exit_flag (BT_EXIT_*) and,
 * for a clean stop, exit_value; the engines test exit_flag after each call.
 */
#ifndef BT_CTX_H
#define BT_CTX_H

#include <stddef.h>
#include <stdint.h>

#include "bt_insn.h"

typedef struct bt_ctx bt_ctx;
struct bt_prog;
struct bt_map;
typedef uint64_t (*bt_helper_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);

#define BT_MAX_HELPERS 512
#define BT_MAX_REGIONS 32

/* exit_flag values */
enum {
    BT_EXIT_NONE = 0,
    BT_EXIT_STOP = 1,       /* a helper asked to stop; r0 = exit_value */
    BT_EXIT_ERROR = 2,      /* runtime error; error/error_pc/error_addr say which */
    BT_EXIT_TAILCALL = 3,   /* bpf_tail_call succeeded: run tail_target with the same r1 */
};

/* error values (with BT_EXIT_ERROR) */
enum {
    BT_ERR_NONE = 0,
    BT_ERR_LOAD_OOB = 1,        /* load outside every known region */
    BT_ERR_STORE_OOB = 2,       /* store outside every known writable region */
    BT_ERR_CALL_DEPTH = 3,      /* more than BT_MAX_FRAMES frames */
    BT_ERR_CALLX_TARGET = 4,    /* callx to something that is not a subprogram */
    BT_ERR_HELPER = 5,          /* a helper failed (Python exception, ...) */
    BT_ERR_NO_HELPER = 6,       /* helper slot empty at run time */
    BT_ERR_STEP_LIMIT = 7,      /* interpreter ran past its instruction budget */
    BT_ERR_BAD_INSN = 8,        /* an opcode the decoder should have refused */
};

typedef struct bt_region {
    uint64_t start;
    uint64_t end;       /* exclusive */
    uint32_t writable;
    uint32_t pad;
} bt_region;

struct bt_ctx {
    const bt_helper_fn *helpers;  /* [JIT] table indexed by helper id */
    uint32_t helper_id;           /* [JIT] id of the helper being called */
    uint32_t depth;               /* [JIT] current call depth (frames - 1) */
    uint32_t exit_flag;           /* [JIT] BT_EXIT_* */
    uint32_t error;               /* [JIT] BT_ERR_* */
    uint64_t exit_value;          /* [JIT] r0 when exit_flag == BT_EXIT_STOP */
    int64_t error_pc;             /* [JIT] instruction index of the error, -1 if unknown */
    uint64_t error_addr;          /* [JIT] address of a faulting access or bad callx target */
    uint64_t pkt;                 /* [JIT] packet of legacy LD_ABS/LD_IND: the input memory;
                                     also the context probe_read_kernel may read */
    uint64_t pkt_len;             /* [JIT] its length */
    uint32_t error_size;          /* size of a faulting access */
    uint32_t nregions;            /* extra memory regions (interpreter checks) */
    void *user;                   /* owner's data, e.g. Python helper callables */
    uint64_t max_steps;           /* interpreter budget of backward jumps and calls */

    /* What helpers may need about the run; whoever runs the program sets these. */
    const struct bt_prog *prog;   /* the program running now */
    const struct bt_prog *tail_target; /* with BT_EXIT_TAILCALL */
    uint32_t tail_calls;          /* tail calls taken in this run (the kernel allows 33) */
    uint32_t func_nargs;          /* bpf_get_func_arg_cnt */
    const uint64_t *func_args;    /* bpf_get_func_arg: the traced function's arguments */
    const uint64_t *func_regs;    /* or, when set, x86_64 struct pt_regs holding them */
    uint64_t func_ret;            /* bpf_get_func_ret */
    uint64_t cookie;              /* bpf_get_attach_cookie */
    uint32_t override_set;        /* bpf_override_return was called ... */
    uint32_t pad2;
    uint64_t override_value;      /* ... with this value */
    struct bt_map *trace;         /* where bpf_printk writes (a RINGBUF map), may be NULL */
    /* Call a BPF callback (bpf_loop, bpf_for_each_map_elem): fn is the value the program
     * got from lddw of a function; the engine that runs the program sets this. */
    uint64_t (*callback)(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4, uint64_t a5);
    bt_region regions[BT_MAX_REGIONS]; /* last: bt_ctx__init does not clear it */
};

_Static_assert(offsetof(bt_ctx, helpers) == 0, "JIT layout");
_Static_assert(offsetof(bt_ctx, helper_id) == 8, "JIT layout");
_Static_assert(offsetof(bt_ctx, depth) == 12, "JIT layout");
_Static_assert(offsetof(bt_ctx, exit_flag) == 16, "JIT layout");
_Static_assert(offsetof(bt_ctx, error) == 20, "JIT layout");
_Static_assert(offsetof(bt_ctx, exit_value) == 24, "JIT layout");
_Static_assert(offsetof(bt_ctx, error_pc) == 32, "JIT layout");
_Static_assert(offsetof(bt_ctx, error_addr) == 40, "JIT layout");
_Static_assert(offsetof(bt_ctx, pkt) == 48, "JIT layout");
_Static_assert(offsetof(bt_ctx, pkt_len) == 56, "JIT layout");

/* Clear every field but the region array (which nregions = 0 empties). */
void bt_ctx__init(bt_ctx *ctx);

/* Reset the per-run fields of ctx (keeps helpers, user, prog, cookie, func_*, trace,
 * pkt; empties the regions). For repeated runs of one program on one context. */
static inline void bt_ctx__reset(bt_ctx *ctx)
{
    ctx->helper_id = 0;
    ctx->depth = 0;
    ctx->exit_flag = BT_EXIT_NONE;
    ctx->error = BT_ERR_NONE;
    ctx->exit_value = 0;
    ctx->error_pc = -1;
    ctx->error_addr = 0;
    ctx->error_size = 0;
    ctx->tail_target = 0;
    ctx->tail_calls = 0;
    ctx->override_set = 0;
    ctx->override_value = 0;
    ctx->nregions = 0;
}


/* Make [ptr, ptr+len) accessible to the interpreter for the rest of this run.
 * Helpers that return memory call this. Returns 0 or -ENOSPC. */
int bt_ctx__add_region(bt_ctx *ctx, const void *ptr, uint64_t len, int writable);

/* Stop the running program with r0 = value (a helper's clean early exit). */
void bt_ctx__stop(bt_ctx *ctx, uint64_t value);

/* Stop the running program with a runtime error. */
void bt_ctx__fail(bt_ctx *ctx, uint32_t error);

#endif
