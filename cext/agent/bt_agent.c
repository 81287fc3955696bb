/* The agent's setup entry points and hot-path dispatch; see bt_agent.h.
 *
 * Does not own: the trampolines (bt_tramp_x86_64.S), the maps and helpers (the
 * C core, compiled into this library too), how programs are compiled and linked
 * (bpftime/pic.py) or which functions get hooked (bpftime/uprobe.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bt_agent.h"
#include "bt_ctx.h"
#include "bt_helpers.h"
#include "bt_map.h"
#include "bt_prog.h"
#include "bt_shm.h"

#define BT_EXPORT __attribute__((visibility("default")))
#define BT_HIDDEN __attribute__((visibility("hidden")))
#define BT_SHADOW_MAX 1024

extern char bt_tpl_enter[] BT_HIDDEN;
extern char bt_tpl_end[] BT_HIDDEN;
extern char bt_tramp_return[] BT_HIDDEN;
extern char bt_tpl_enter_avx[] BT_HIDDEN;   /* the same saving ymm0-15 whole */
extern char bt_tpl_end_avx[] BT_HIDDEN;
extern char bt_tramp_return_avx[] BT_HIDDEN;

typedef struct bt_shadow {    /* 32 bytes: the fast path in bt_tramp_x86_64.S fills it too */
    uint64_t ret;         /* the real return address */
    uint64_t sp;          /* rsp right after the function returns */
    const bt_hook *hook;
    uint64_t pad;
} bt_shadow;

_Static_assert(sizeof(bt_shadow) == 32, "SHADOW_SHIFT in bt_tramp_x86_64.S");

typedef struct bt_tls {
    bt_ctx ctx;           /* the uprobe programs' run context, set up once per thread */
    uint32_t depth;
    uint64_t missed;      /* uretprobes skipped because the shadow stack was full */
    bt_shadow stack[BT_SHADOW_MAX];
} bt_tls;

/* One pointer of static TLS (glibc keeps spare static TLS for dlopen'd libraries),
 * so the hot path reads it with one %fs-relative load. */
static __thread bt_tls *t_tls __attribute__((tls_model("initial-exec")));
/* bt_sys.c: set while programs run on this thread: hooks pass straight through and
 * syscalls are not reported */
extern __thread uint8_t bt_sys_busy __attribute__((tls_model("initial-exec"))) BT_HIDDEN;
static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;

static bt_shm g_shm;
static int g_ready;
static int g_avx;           /* the CPU has AVX: trampolines save ymm registers whole */
static struct bt_map *g_trace;
static bt_helper_fn g_helpers[BT_MAX_HELPERS];
static char g_err[256];

static void tls_free(void *p)
{
    munmap(p, sizeof(bt_tls));
}

static void tls_key_init(void)
{
    pthread_key_create(&g_tls_key, tls_free);
}

/* Not malloc: the hooked function may be malloc itself. */
static bt_tls *tls_get(void)
{
    bt_tls *t = t_tls;
    if (__builtin_expect(t != NULL, 1))
        return t;
    void *p = mmap(NULL, sizeof(bt_tls), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    t = p;
    bt_ctx__init(&t->ctx);
    t->ctx.callback = bt_prog__jit_callback;
    t_tls = t;
    pthread_once(&g_tls_once, tls_key_init);
    pthread_setspecific(g_tls_key, t);
    return t;
}

static int fail(int rc, const char *fmt, const char *arg)
{
    snprintf(g_err, sizeof(g_err), fmt, arg);
    return rc;
}

BT_HIDDEN int bt_agent__fail(int rc, const char *fmt, const char *arg)
{
    return fail(rc, fmt, arg);
}

BT_EXPORT const char *bt_agent_error(void)
{
    return g_err;
}

/* Map the segment; the controller links map addresses to wherever it lands
 * (bt_agent_segment_base). */
BT_EXPORT int bt_agent_init(const char *shm_name)
{
    if (g_ready && strcmp(g_shm.name, shm_name) == 0)
        return 0;
    bt_shm shm;
    int rc = bt_shm__open(&shm, shm_name, g_err, sizeof(g_err));
    if (rc)
        return rc;
    struct bt_map *trace = bt_map__trace(&shm, g_err, sizeof(g_err));
    if (!trace) {
        bt_shm__close(&shm, 0);
        return -EINVAL;
    }
    bt_helpers__fill(g_helpers, BT_MAX_HELPERS);
    __builtin_cpu_init();
    g_avx = __builtin_cpu_supports("avx");  /* CPUID and the OS's XSAVE state (XCR0) */
    /* a previous session's segment stays mapped: threads may still be in its code */
    g_shm = shm;
    g_trace = trace;
    g_ready = 1;
    return 0;
}

BT_EXPORT void *bt_agent_segment_base(void)
{
    return g_ready ? g_shm.base : NULL;
}

/* Copy a linked program (bpftime/pic.py) from the segment into executable memory. */
BT_EXPORT void *bt_agent_prog_load(uint64_t code_off, uint64_t len, uint64_t entry_off)
{
    if (!g_ready)
        return (void *)(uintptr_t)fail(0, "%s", "bt_agent_init was not called");
    if (code_off + len > g_shm.size || entry_off >= len || len == 0)
        return (void *)(uintptr_t)fail(0, "%s", "program code lies outside the segment");
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (len + page - 1) & ~(page - 1);
    uint8_t *code = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return (void *)(uintptr_t)fail(0, "mmap for program code: %s", strerror(errno));
    memcpy(code, g_shm.base + code_off, len);
    if (mprotect(code, size, PROT_READ | PROT_EXEC) != 0) {
        fail(0, "mprotect program code: %s", strerror(errno));
        munmap(code, size);
        return NULL;
    }
    bt_prog *p = calloc(1, sizeof(*p));
    if (!p) {
        munmap(code, size);
        return (void *)(uintptr_t)fail(0, "%s", "out of memory");
    }
    p->jit = (bt_jit_entry)(void *)(code + entry_off);
    p->helpers = g_helpers;
    p->callback = bt_prog__jit_callback;
    p->max_steps = 1;
    return p;
}

/* Give a loaded program the id the controller's registry has for it, so that tail calls
 * through PROG_ARRAY maps (which hold those ids) find it here too. */
BT_EXPORT int bt_agent_prog_set_id(void *prog, uint32_t id)
{
    int rc = bt_prog__register_as(prog, id);
    return rc ? fail(rc, "%s", "program id out of range") : 0;
}

/* `pages` pages within +-2 GiB of addr if free, so frida's jump and ours stay short;
 * else anywhere. */
static uint8_t *alloc_near(uint64_t addr, size_t size)
{
    const uint64_t step = 1u << 20, limit = (1ull << 31) - (16u << 20);
    uint64_t at = addr & ~(uint64_t)0xfff;
    for (uint64_t d = step; d < limit; d += step) {
        for (int sign = -1; sign <= 1; sign += 2) {
            if (sign < 0 && d > at)
                continue;
            uint64_t hint = sign < 0 ? at - d : at + d;
            void *p = mmap((void *)(uintptr_t)hint, size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p != MAP_FAILED && p == (void *)(uintptr_t)hint)
                return p;
            if (p != MAP_FAILED)
                munmap(p, size);
        }
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

BT_HIDDEN int bt_agent__on_enter(const bt_hook *h, bt_pt_regs *regs);

/* Two pages: a copy of bt_tpl_enter (then read-only, executable), then the bt_hook. */
BT_EXPORT void *bt_agent_hook_new(uint64_t addr)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const char *from = g_avx ? bt_tpl_enter_avx : bt_tpl_enter;
    size_t tpl = (size_t)(g_avx ? bt_tpl_end_avx - bt_tpl_enter_avx : bt_tpl_end - bt_tpl_enter);
    if (page != 4096 || tpl > page)
        return (void *)(uintptr_t)fail(0, "%s", "the agent's trampoline needs 4 KiB pages");
    uint8_t *code = alloc_near(addr, 2 * page);
    if (!code)
        return (void *)(uintptr_t)fail(0, "mmap for a hook: %s", strerror(errno));
    memcpy(code, from, tpl);
    if (mprotect(code, page, PROT_READ | PROT_EXEC) != 0) {
        munmap(code, 2 * page);
        return (void *)(uintptr_t)fail(0, "mprotect a hook: %s", strerror(errno));
    }
    bt_hook *h = (bt_hook *)(code + page);
    h->addr = addr;
    h->on_enter = bt_agent__on_enter;
    uintptr_t tp = (uintptr_t)__builtin_thread_pointer();  /* initial-exec TLS: the same */
    h->tls_off = (int64_t)((uintptr_t)&t_tls - tp);        /* offsets in every thread */
    h->busy_off = (int64_t)((uintptr_t)&bt_sys_busy - tp);
    h->depth_off = offsetof(bt_tls, depth);
    h->stack_off = offsetof(bt_tls, stack);
    h->ret_thunk = g_avx ? bt_tramp_return_avx : bt_tramp_return;
    return h;
}

/* kind: 0 = entry program (uprobe), 1 = return program (uretprobe), 2 = replace
 * program (an entry program whose r0 is returned instead of running the function). */
BT_EXPORT int bt_agent_hook_add(void *hook, int kind, void *prog, uint64_t cookie)
{
    bt_hook *h = hook;
    int ret = kind == 1;
    if (kind < 0 || kind > 2)
        return fail(-EINVAL, "%s", "hook program kind must be 0 (entry), 1 (return), 2 (replace)");
    uint32_t *n = ret ? &h->n_ret : &h->n_enter;
    if (*n >= BT_HOOK_MAX_PROGS)
        return fail(-E2BIG, "more than %s programs on one function", "16");
    if (!ret)
        h->enter_replace[*n] = kind == 2;
    (ret ? h->ret : h->enter)[*n] = prog;
    (ret ? h->ret_cookie : h->enter_cookie)[*n] = cookie;
    __atomic_store_n(n, *n + 1, __ATOMIC_RELEASE);
    return 0;
}

BT_EXPORT void *bt_agent_hook_stub(void *hook)
{
    return (uint8_t *)hook - 4096;
}

BT_EXPORT void bt_agent_hook_set_orig(void *hook, void *orig)
{
    __atomic_store_n(&((bt_hook *)hook)->orig, orig, __ATOMIC_RELEASE);
}

/* A uprobe program, on this thread's context (user, pkt_len and callback stay as
 * tls_get set them): the arguments are read from pt_regs when asked for. */
static inline uint64_t run_probe(const void *prog, bt_pt_regs *regs, uint64_t cookie,
                                 int entry, bt_ctx *ctx)
{
    /* a run that ended normally leaves the per-run fields as bt_ctx__reset sets them
     * (depth back at 0; exit_value, error_* and tail_target are set only with the flags
     * tested here), so most hits skip the reset */
    if (__builtin_expect((ctx->exit_flag | ctx->error | ctx->override_set | ctx->tail_calls
                          | ctx->nregions | ctx->depth) != 0, 0))
        bt_ctx__reset(ctx);
    ctx->pkt = (uint64_t)(uintptr_t)regs;
    ctx->pkt_len = sizeof(*regs);
    ctx->trace = g_trace;
    ctx->cookie = cookie;
    ctx->func_regs = entry ? (const uint64_t *)regs : NULL;
    ctx->func_nargs = entry ? 6 : 0;
    ctx->func_ret = regs->ax;
    return bt_prog__exec(prog, (uint64_t)(uintptr_t)regs, 0, ctx);
}

/* A tracepoint program (bt_sys.c) on a context of the caller's: r1 = its `len` bytes. */
BT_HIDDEN int bt_agent__run(const void *prog, void *r1, uint64_t len, uint64_t cookie,
                           bt_ctx *ctx)
{
    /* field by field, not bt_ctx__init: no memset call (and no AVX memset) per hit */
    bt_ctx__reset(ctx);
    ctx->user = NULL;
    ctx->pkt = (uint64_t)(uintptr_t)r1;  /* what probe_read_kernel may read */
    ctx->pkt_len = len;
    ctx->trace = g_trace;
    ctx->cookie = cookie;
    ctx->func_args = NULL;
    ctx->func_regs = NULL;
    ctx->func_nargs = 0;
    ctx->func_ret = 0;
    bt_prog__exec(prog, (uint64_t)(uintptr_t)r1, 0, ctx);
    return 0;
}

/* Called by bt_tramp_enter; nonzero: skip the function and return regs->ax. */
BT_HIDDEN int bt_agent__on_enter(const bt_hook *h, bt_pt_regs *regs)
{
    if (__builtin_expect(bt_sys_busy, 0))
        return 0;                     /* called from a program's helper: runs unprobed */
    bt_sys_busy = 1;                  /* also: tls_get's mmap is not a syscall to report */
    bt_tls *t = tls_get();
    if (__builtin_expect(!t, 0)) {
        bt_sys_busy = 0;
        return 0;
    }
    int skip = 0;
    uint32_t n = __atomic_load_n(&h->n_enter, __ATOMIC_ACQUIRE);
    if (n) {  /* the rest of pt_regs, for the programs (a uretprobe alone needs none) */
        regs->orig_ax = (uint64_t)-1;
        regs->ip = h->addr;
        regs->cs = 0x33;
        regs->ss = 0x2b;
        regs->flags = 0x246;
        bt_ctx *ctx = &t->ctx;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t r0 = run_probe(h->enter[i], regs, h->enter_cookie[i], 1, ctx);
            if (h->enter_replace[i]) {
                regs->ax = r0;
                skip = 1;
            } else if (ctx->override_set) {
                regs->ax = ctx->override_value;
                skip = 1;
            }
        }
    }
    if (!skip && __atomic_load_n(&h->n_ret, __ATOMIC_ACQUIRE)) {
        if (t->depth < BT_SHADOW_MAX) {
            uint64_t *slot = (uint64_t *)(uintptr_t)regs->sp;
            bt_shadow *e = &t->stack[t->depth++];
            e->ret = *slot;
            e->sp = regs->sp + 8;
            e->hook = h;
            *slot = (uint64_t)(uintptr_t)(g_avx ? bt_tramp_return_avx : bt_tramp_return);
        } else {
            t->missed++;
        }
    }
    bt_sys_busy = 0;
    return skip;
}

/* Called by bt_tramp_return; returns where the function really returns to. */
BT_HIDDEN uint64_t bt_agent__on_return(bt_pt_regs *regs)
{
    bt_tls *t = t_tls;
    /* entries of frames that were left without returning (longjmp, exceptions) */
    while (t->depth > 1 && t->stack[t->depth - 1].sp < regs->sp)
        t->depth--;
    bt_shadow *e = &t->stack[--t->depth];
    regs->ip = e->ret;
    regs->orig_ax = (uint64_t)-1;
    regs->cs = 0x33;
    regs->ss = 0x2b;
    regs->flags = 0x246;
    const bt_hook *h = e->hook;
    if (!bt_sys_busy) {
        bt_sys_busy = 1;
        for (uint32_t i = 0; i < h->n_ret; i++)
            run_probe(h->ret[i], regs, h->ret_cookie[i], 0, &t->ctx);
        bt_sys_busy = 0;
    }
    return e->ret;
}
