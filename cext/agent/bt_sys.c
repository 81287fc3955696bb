/* Syscall tracepoints inside the traced process: page 0, site patching, dispatch.
 * See bt_sys.h for the mechanism and bt_sys_x86_64.S for the entry.
 *
 * Does not own: finding the `syscall` instructions (the controller disassembles the
 * target's modules, bpftime/syscall_hooks.py), which programs run on which syscall
 * (the controller resolves tracepoint names, bpftime/syscalls.py), running a program
 * (bt_agent__run in bt_agent.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bt_agent.h"
#include "bt_ctx.h"
#include "bt_helpers.h"
#include "bt_sys.h"

#define BT_EXPORT __attribute__((visibility("default")))
#define BT_HIDDEN __attribute__((visibility("hidden")))
#define TLS_IE __attribute__((tls_model("initial-exec")))
#define SLED_JMP (BT_SYS_NR_MAX + 4)
#define SLED_SIZE 65536            /* the kernel's default vm.mmap_min_addr */
#define JMP_LEN 13
#define MAX_EXCLUDED 256

enum { T_UNKNOWN, T_TRACED, T_EXCLUDED };
_Static_assert(T_EXCLUDED == 2, "T_EXCLUDED in bt_sys_x86_64.S");

typedef struct prog_list {
    uint32_t n;
    const void *prog[BT_SYS_MAX_PROGS];
    uint16_t tp_id[BT_SYS_MAX_PROGS];
} prog_list;

extern char bt_sys_entry[] BT_HIDDEN;
BT_HIDDEN long bt_sys_raw(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
BT_HIDDEN int bt_agent__run(const void *prog, void *r1, uint64_t len, uint64_t cookie,
                           bt_ctx *ctx);
BT_HIDDEN int bt_agent__fail(int rc, const char *fmt, const char *arg);

/* read by bt_sys_entry: the CPU has AVX (save ymm registers whole) */
BT_HIDDEN uint8_t bt_sys_avx;
/* read by bt_sys_entry: nonzero = some program wants this syscall number */
BT_HIDDEN uint8_t bt_sys_want[BT_SYS_NR_MAX];
/* thread-local slots bt_sys_entry reaches %fs-relative (static TLS) */
BT_HIDDEN __thread uint64_t bt_sys_vfork_ret TLS_IE;
BT_HIDDEN __thread uint64_t bt_sys_clone_rdi TLS_IE;
/* set while this thread runs programs (syscall or uprobe): their syscalls pass through */
BT_HIDDEN __thread uint8_t bt_sys_busy TLS_IE;
BT_HIDDEN __thread uint8_t bt_sys_state TLS_IE;  /* T_*: bt_sys_entry copies it to new threads */
static __thread int32_t t_tid TLS_IE;
static __thread uint64_t t_clone_args[16] TLS_IE;  /* clone3's struct, 128 bytes at most */

static prog_list g_enter[BT_SYS_NR_MAX], g_exit[BT_SYS_NR_MAX], g_raw_enter, g_raw_exit;
static int g_on;                 /* hooks report (cleared at detach: threads still inside
                                    return through here, silently) */
static uint8_t *g_page0;
static int32_t g_excluded[MAX_EXCLUDED];
static uint32_t g_n_excluded;
typedef struct site { uint64_t addr; } site;
static site *g_sites;
static size_t g_n_sites, g_cap_sites;

static inline long raw6(const bt_sys_regs *r)
{
    return bt_sys_raw((long)r->nr, (long)r->args[0], (long)r->args[1], (long)r->args[2],
                      (long)r->args[3], (long)r->args[4], (long)r->args[5]);
}

/* Is this a thread of the target (not frida's, not ours)? Decided once per thread: threads
 * that existed when hooks went in are known by id; later ones belong to the target. */
static inline int traced_thread(void)
{
    if (__builtin_expect(bt_sys_state == T_UNKNOWN, 0)) {
        int32_t tid = (int32_t)bt_sys_raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
        t_tid = tid;
        bt_sys_state = T_TRACED;
        for (uint32_t i = 0; i < g_n_excluded; i++)
            if (g_excluded[i] == tid)
                bt_sys_state = T_EXCLUDED;
    }
    return bt_sys_state == T_TRACED;
}

/* Run a list's programs on ctxbuf (`len` bytes; *type is its common_type, set to each
 * program's tracepoint id); 1 and *value if one called bpf_override_return. */
static int run_list(const prog_list *l, void *ctxbuf, uint64_t len, uint16_t *type,
                    int64_t *value)
{
    int skip = 0;
    uint32_t n = __atomic_load_n(&l->n, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        bt_ctx ctx;
        *type = l->tp_id[i];
        bt_agent__run(l->prog[i], ctxbuf, len, 0, &ctx);
        if (ctx.override_set) {
            *value = (int64_t)ctx.override_value;
            skip = 1;
        }
    }
    return skip;
}

/* Enter programs (raw_syscalls first); 1 (and *value) if one called bpf_override_return.
 * The context is read-only to them (the verifier refuses stores into it). */
static int run_enter(const bt_sys_regs *r, int64_t *value)
{
    bt_sys_enter_ctx c;
    c.common_flags = 0;
    c.common_preempt_count = 0;
    c.common_pid = t_tid;
    c.id = (int64_t)r->nr;
    memcpy(c.args, r->args, sizeof(c.args));
    int skip = run_list(&g_raw_enter, &c, sizeof(c), &c.common_type, value);
    if (r->nr < BT_SYS_NR_MAX)
        skip |= run_list(&g_enter[r->nr], &c, sizeof(c), &c.common_type, value);
    return skip;
}

static void run_exit(const bt_sys_regs *r, int64_t ret)
{
    bt_sys_exit_ctx c;
    int64_t unused;
    c.common_flags = 0;
    c.common_preempt_count = 0;
    c.common_pid = t_tid;
    c.id = (int64_t)r->nr;
    c.ret = ret;
    if (r->nr < BT_SYS_NR_MAX)
        run_list(&g_exit[r->nr], &c, sizeof(c), &c.common_type, &unused);
    run_list(&g_raw_exit, &c, sizeof(c), &c.common_type, &unused);
}

/* Called by bt_sys_entry for a syscall some program wants; returns its result. */
BT_HIDDEN long bt_sys__dispatch(bt_sys_regs *r)
{
    if (!__atomic_load_n(&g_on, __ATOMIC_ACQUIRE) || bt_sys_busy || !traced_thread())
        return raw6(r);
    int64_t value = 0;
    bt_sys_busy = 1;
    int skip = run_enter(r, &value);
    bt_sys_busy = 0;
    long ret = skip ? (long)value : raw6(r);
    if (ret == 0 && (r->nr == SYS_clone || r->nr == SYS_fork || r->nr == SYS_clone3)) {
        bt_sys_state = T_UNKNOWN;      /* a fork child: another thread id */
        bt_helpers__forget_pid();
    }
    if (!__atomic_load_n(&g_on, __ATOMIC_ACQUIRE))
        return ret;
    bt_sys_busy = 1;
    run_exit(r, ret);
    bt_sys_busy = 0;
    return ret;
}

/* Enter programs only, for the syscalls whose return the assembly handles (the child
 * runs on another stack or shares this one). Returns the number for rax. */
BT_HIDDEN long bt_sys__enter_only(bt_sys_regs *r)
{
    if (__atomic_load_n(&g_on, __ATOMIC_ACQUIRE) && !bt_sys_busy && r->nr < BT_SYS_NR_MAX
            && bt_sys_want[r->nr] && traced_thread()) {
        int64_t value;
        bt_sys_busy = 1;
        run_enter(r, &value);     /* bpf_override_return cannot skip these */
        bt_sys_busy = 0;
    }
    return (long)r->nr;
}

/* clone3 with a new stack: a copy of the caller's struct clone_args whose stack is 24
 * bytes shorter, the top three words holding what the child pops (its state, rdi, the
 * return address). */
BT_HIDDEN long bt_sys__clone3_prepare(bt_sys_regs *r)
{
    bt_sys__enter_only(r);
    const uint64_t *args = (const uint64_t *)(uintptr_t)r->args[0];
    uint64_t size = r->args[1];
    if (size < 64 || size > sizeof(t_clone_args) || size % 8)
        return size < 64 ? -EINVAL : -ENOSYS;   /* ENOSYS: libc falls back to clone */
    memcpy(t_clone_args, args, size);
    uint64_t stack = t_clone_args[5], stack_size = t_clone_args[6];
    if (stack_size < 24)
        return -EINVAL;
    uint64_t *top = (uint64_t *)(uintptr_t)(stack + stack_size);
    top[-3] = bt_sys_state;       /* the child's state: frida's threads beget frida's */
    top[-2] = r->args[0];
    top[-1] = *r->ret_slot;
    t_clone_args[6] = stack_size - 24;
    bt_sys_clone_rdi = r->args[0];
    return (long)(uintptr_t)t_clone_args;
}

/* --- setup, from the controller (frida's thread) ------------------------------- */

static void sled_jump(uint8_t *j)
{
    uint64_t entry = (uint64_t)(uintptr_t)bt_sys_entry;
    j[0] = 0x49; j[1] = 0xbb;                 /* movabs $entry, %r11 */
    memcpy(j + 2, &entry, 8);
    j[10] = 0x41; j[11] = 0xff; j[12] = 0xe3; /* jmp *%r11 */
}

/* Map page 0 with the sled; threads `excluded` (frida's) are never reported. */
BT_EXPORT int bt_agent_sys_init(const int32_t *excluded, uint32_t n_excluded)
{
    __builtin_cpu_init();
    bt_sys_avx = __builtin_cpu_supports("avx") != 0;  /* a mask bit, not 0/1 */
    if (!g_page0) {
        uint8_t *page = mmap((void *)0, SLED_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (page == MAP_FAILED || page != NULL) {
            int err = page == MAP_FAILED ? errno : EEXIST;
            if (page != MAP_FAILED)
                munmap(page, SLED_SIZE);
            return bt_agent__fail(-err, "cannot map address 0 for the syscall trampoline "
                                  "(%s): run as root (CAP_SYS_RAWIO) or set "
                                  "vm.mmap_min_addr=0", strerror(err));
        }
        __asm__("" : "+r"(page));  /* it is 0: the compiler must not treat it as NULL */
        /* not nops: `cmp $imm32, %eax` (3d xx xx xx xx) from any byte on, five bytes per
         * instruction, so the longest way (syscall 0) is ~100 instructions, not 512; four
         * nops catch whichever instruction ends inside them. A second, long sled after the
         * first jump takes numbers no syscall has (512 .. 64 Ki) to the same entry, which
         * makes them without a program: the kernel answers -ENOSYS as it would. */
        memset(page, 0x3d, BT_SYS_NR_MAX);
        memset(page + BT_SYS_NR_MAX, 0x90, 4);
        sled_jump(page + SLED_JMP);
        memset(page + SLED_JMP + JMP_LEN, 0x3d, SLED_SIZE - SLED_JMP - 2 * JMP_LEN - 4);
        memset(page + SLED_SIZE - JMP_LEN - 4, 0x90, 4);
        sled_jump(page + SLED_SIZE - JMP_LEN);
        if (mprotect(page, SLED_SIZE, PROT_EXEC) != 0) {
            int err = errno;
            munmap(page, SLED_SIZE);
            return bt_agent__fail(-err, "mprotect page 0: %s", strerror(err));
        }
        g_page0 = (uint8_t *)1;  /* mapped (the pointer itself is 0) */
    }
    g_n_excluded = n_excluded < MAX_EXCLUDED ? n_excluded : MAX_EXCLUDED;
    memcpy(g_excluded, excluded, g_n_excluded * sizeof(*excluded));
    return 0;
}

/* nr < 0: every syscall (raw_syscalls); ret: 0 = sys_enter, 1 = sys_exit. */
BT_EXPORT int bt_agent_sys_add(int32_t nr, int ret, void *prog, uint32_t tp_id)
{
    if (nr >= BT_SYS_NR_MAX)
        return bt_agent__fail(-EINVAL, "syscall number %s is out of range", "(>= 512)");
    prog_list *l = nr < 0 ? (ret ? &g_raw_exit : &g_raw_enter)
                          : (ret ? &g_exit[nr] : &g_enter[nr]);
    if (l->n >= BT_SYS_MAX_PROGS)
        return bt_agent__fail(-E2BIG, "more than %s programs on one syscall tracepoint", "8");
    l->prog[l->n] = prog;
    l->tp_id[l->n] = (uint16_t)tp_id;
    __atomic_store_n(&l->n, l->n + 1, __ATOMIC_RELEASE);
    if (nr < 0)
        memset(bt_sys_want, 1, sizeof(bt_sys_want));
    else
        bt_sys_want[nr] = 1;
    __atomic_store_n(&g_on, 1, __ATOMIC_RELEASE);
    return 0;
}

static int protect(uint64_t addr, int prot)
{
    uint64_t page = addr & ~(uint64_t)4095;
    size_t len = ((addr + 2 + 4095) & ~(uint64_t)4095) - page;  /* a site may straddle */
    return mprotect((void *)(uintptr_t)page, len, prot);
}

static int write2(uint64_t addr, uint8_t b0, uint8_t b1)
{
    if (protect(addr, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return -errno;
    uint8_t *p = (uint8_t *)(uintptr_t)addr;
    uint16_t v = (uint16_t)(b0 | b1 << 8);
    __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);  /* one store: no torn insn */
    protect(addr, PROT_READ | PROT_EXEC);
    return 0;
}

/* Rewrite each `syscall` at addrs into `call *%rax`. Returns how many were rewritten;
 * addresses that do not hold 0f 05 are left alone. */
BT_EXPORT long bt_agent_sys_patch(const uint64_t *addrs, uint32_t n)
{
    if (!g_page0)
        return bt_agent__fail(-EINVAL, "%s", "bt_agent_sys_init was not called");
    long done = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)(uintptr_t)addrs[i];
        if (p[0] != 0x0f || p[1] != 0x05)
            continue;
        if (g_n_sites == g_cap_sites) {
            size_t cap = g_cap_sites ? g_cap_sites * 2 : 1024;
            site *s = realloc(g_sites, cap * sizeof(*s));
            if (!s)
                return bt_agent__fail(-ENOMEM, "%s", "out of memory");
            g_sites = s;
            g_cap_sites = cap;
        }
        int rc = write2(addrs[i], 0xff, 0xd0);
        if (rc) {
            char where[32];
            snprintf(where, sizeof(where), "%#llx", (unsigned long long)addrs[i]);
            return bt_agent__fail(rc, "cannot write the syscall site at %s", where);
        }
        g_sites[g_n_sites++].addr = addrs[i];
        done++;
    }
    return done;
}

/* Detach: sites back to `syscall`, no more reports; page 0 stays until
 * bt_agent_sys_release (a thread may be between a site and bt_sys_entry). */
BT_EXPORT int bt_agent_sys_unpatch(void)
{
    __atomic_store_n(&g_on, 0, __ATOMIC_RELEASE);
    for (size_t i = 0; i < g_n_sites; i++)
        write2(g_sites[i].addr, 0x0f, 0x05);
    g_n_sites = 0;
    memset(bt_sys_want, 0, sizeof(bt_sys_want));
    for (int nr = 0; nr < BT_SYS_NR_MAX; nr++)
        g_enter[nr].n = g_exit[nr].n = 0;
    g_raw_enter.n = g_raw_exit.n = 0;
    return 0;
}

BT_EXPORT int bt_agent_sys_release(void)
{
    if (g_page0 && g_n_sites == 0) {
        munmap((void *)0, SLED_SIZE);
        g_page0 = NULL;
    }
    return 0;
}
