/* The helpers that need no map: memory probes, time, identity, signals, stacks,
 * strings, snprintf, bpf_loop and the attach-context accessors. (bpf_printk is in
 * bt_helpers_trace.c: it writes into a ring buffer map.)
 *
 * Kernel semantics for a user process. The only "kernel" memory here is the context
 * the runtime built for the program (ctx->pkt: struct pt_regs in a traced process, the
 * input memory in this one), which libbpf's usdt.bpf.h reads with probe_read_kernel;
 * probe_read_kernel of anything else, and probe_read_kernel_str, return -EFAULT. Reads of memory the program points
 * at go through process_vm_readv on this process, which reports a bad address
 * as EFAULT instead of faulting, so a wrong pointer never crashes the traced
 * process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <execinfo.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bt_format.h"
#include "bt_helpers.h"
#include "bt_map.h"

#if defined(__x86_64__) || defined(__i386__)
#define bt_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define bt_cpu_relax() __asm__ volatile("yield")
#else
#define bt_cpu_relax() ((void)0)
#endif

#define BT_PAGE 4096ULL
#define BT_MAX_LOOPS (1ULL << 23)       /* bpf_loop's limit in the kernel */
#define BT_MAX_SNPRINTF_ARGS 12         /* MAX_BPRINTF_VARARGS */
#define BT_STACK_MAX 127                /* sysctl_perf_event_max_stack default */

/* --- memory ------------------------------------------------------------------ */

static long read_self(void *dst, uint64_t n, const void *src)
{
    struct iovec local = {dst, n};
    struct iovec remote = {(void *)src, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return got < 0 ? -errno : got;
}

long bt_probe_read(void *dst, uint64_t n, const void *src)
{
    if (n == 0)
        return 0;
    long got = read_self(dst, n, src);
    if (got != (long)n) {
        memset(dst, 0, n);
        return -EFAULT;
    }
    return 0;
}

long bt_probe_read_str(void *dst, uint64_t n, const void *src)
{
    uint8_t *d = dst;
    uint64_t done = 0;
    if (n == 0)
        return 0;
    /* page by page, so a string that ends just before unmapped memory still reads */
    while (done < n - 1) {
        uint64_t addr = (uint64_t)(uintptr_t)src + done;
        uint64_t chunk = BT_PAGE - (addr & (BT_PAGE - 1));
        if (chunk > n - 1 - done)
            chunk = n - 1 - done;
        long got = read_self(d + done, chunk, (const void *)(uintptr_t)addr);
        if (got <= 0) {
            memset(dst, 0, n);
            return -EFAULT;
        }
        uint8_t *nul = memchr(d + done, 0, (size_t)got);
        if (nul)
            return (long)(nul - d) + 1;
        done += (uint64_t)got;
    }
    d[n - 1] = 0;
    return (long)n;
}

static uint64_t h_probe_read(uint64_t dst, uint64_t size, uint64_t src, uint64_t a4, uint64_t a5,
                             bt_ctx *ctx)
{
    (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_probe_read((void *)(uintptr_t)dst, (uint32_t)size,
                                   (const void *)(uintptr_t)src);
}

static uint64_t h_probe_read_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t a4,
                                 uint64_t a5, bt_ctx *ctx)
{
    (void)a4; (void)a5; (void)ctx;
    return (uint64_t)bt_probe_read_str((void *)(uintptr_t)dst, (uint32_t)size,
                                       (const void *)(uintptr_t)src);
}

static uint64_t h_probe_read_kernel(uint64_t dst, uint64_t size, uint64_t src, uint64_t a4,
                                    uint64_t a5, bt_ctx *ctx)
{
    /* the context the runtime built is the only kernel memory of a user process */
    uint32_t n = (uint32_t)size;
    (void)a4; (void)a5;
    if (ctx->pkt && src >= ctx->pkt && src - ctx->pkt <= ctx->pkt_len &&
        n <= ctx->pkt_len - (src - ctx->pkt)) {
        memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
        return 0;
    }
    if (n)
        memset((void *)(uintptr_t)dst, 0, n);
    return (uint64_t)-EFAULT;
}

static uint64_t h_probe_read_kernel_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t a4,
                                        uint64_t a5, bt_ctx *ctx)
{
    (void)src; (void)a4; (void)a5; (void)ctx;
    if ((uint32_t)size)
        memset((void *)(uintptr_t)dst, 0, (uint32_t)size);
    return (uint64_t)-EFAULT;
}

/* --- time, randomness, identity -------------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t h_ktime_get_ns(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                               bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t h_ktime_get_boot_ns(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                    uint64_t a5, bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return clock_ns(CLOCK_BOOTTIME);
}

static uint64_t h_ktime_get_coarse_ns(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                      uint64_t a5, bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return clock_ns(CLOCK_MONOTONIC_COARSE);
}

static __thread uint64_t bt_rand_state;

static uint64_t h_get_prandom_u32(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                  bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    uint64_t x = bt_rand_state;
    if (!x)
        x = clock_ns(CLOCK_MONOTONIC) ^ ((uint64_t)(uintptr_t)&bt_rand_state << 16) ^ 0x9e3779b97f4a7c15ULL;
    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    bt_rand_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

static uint64_t h_get_smp_processor_id(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                       uint64_t a5, bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : (uint64_t)cpu;
}

/* Two system calls per call otherwise (uprobes count per thread on hot paths): cached
 * per thread; a fork child (the only thread there) forgets its parent's value. A child
 * made by a raw clone/vfork system call, which skips the atfork handlers, would see the
 * parent's ids until it execs. */
static __thread uint64_t t_pid_tgid __attribute__((tls_model("initial-exec")));
static pthread_once_t pid_atfork_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    t_pid_tgid = 0;
}

void bt_helpers__forget_pid(void)
{
    pid_forget();
}

static void pid_atfork_register(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

static uint64_t h_get_current_pid_tgid(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                       uint64_t a5, bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    uint64_t v = t_pid_tgid;
    if (__builtin_expect(v == 0, 0)) {
        pthread_once(&pid_atfork_once, pid_atfork_register);
        v = (uint64_t)getpid() << 32 | (uint64_t)syscall(SYS_gettid);
        t_pid_tgid = v;
    }
    return v;
}

static uint64_t h_get_current_uid_gid(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                      uint64_t a5, bt_ctx *ctx)
{
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return ((uint64_t)getgid() << 32) | (uint64_t)getuid();
}

static uint64_t h_get_current_comm(uint64_t buf, uint64_t size, uint64_t a3, uint64_t a4,
                                   uint64_t a5, bt_ctx *ctx)
{
    (void)a3; (void)a4; (void)a5; (void)ctx;
    char comm[16] = {0};
    char *dst = (char *)(uintptr_t)buf;
    uint32_t n = (uint32_t)size;
    if (n == 0)
        return (uint64_t)-EINVAL;
    prctl(PR_GET_NAME, comm, 0, 0, 0); /* this thread's name, like the kernel's task comm */
    size_t len = strnlen(comm, sizeof comm);
    if (len > n - 1)
        len = n - 1;
    memcpy(dst, comm, len);
    memset(dst + len, 0, n - len);
    return 0;
}

/* --- signals ------------------------------------------------------------------ */

static uint64_t send_sig(uint64_t sig, int thread)
{
    if (sig == 0 || sig >= (uint64_t)_NSIG)
        return (uint64_t)-EINVAL;
    long rc = thread ? syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), (int)sig)
                     : kill(getpid(), (int)sig);
    return rc < 0 ? (uint64_t)-errno : 0;
}

static uint64_t h_send_signal(uint64_t sig, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                              bt_ctx *ctx)
{
    (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return send_sig((uint32_t)sig, 0);
}

static uint64_t h_send_signal_thread(uint64_t sig, uint64_t a2, uint64_t a3, uint64_t a4,
                                     uint64_t a5, bt_ctx *ctx)
{
    (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    return send_sig((uint32_t)sig, 1);
}

/* --- stacks -------------------------------------------------------------------- */

int bt_user_stack(uint64_t *ips, int max, uint64_t skip)
{
    void *frames[BT_STACK_MAX + 8];
    int n = backtrace(frames, BT_STACK_MAX + 8);
    int first = 2 + (int)skip; /* bt_user_stack and the helper itself */
    int out = 0;
    for (int i = first; i < n && out < max; i++)
        ips[out++] = (uint64_t)(uintptr_t)frames[i];
    return out;
}

static uint64_t h_get_stack(uint64_t regs, uint64_t buf, uint64_t size, uint64_t flags,
                            uint64_t a5, bt_ctx *ctx)
{
    (void)regs; (void)a5; (void)ctx;
    uint32_t n = (uint32_t)size;
    if (flags & ~(BT_F_SKIP_FIELD_MASK | BT_F_USER_STACK | BT_F_STACK_BUILD_ID) || n % 8)
        return (uint64_t)-EINVAL;
    if (flags & BT_F_STACK_BUILD_ID)
        return (uint64_t)-EOPNOTSUPP;
    if (!(flags & BT_F_USER_STACK)) {
        /* a kernel stack: a user process has none */
        memset((void *)(uintptr_t)buf, 0, n);
        return (uint64_t)-EFAULT;
    }
    int got = bt_user_stack((uint64_t *)(uintptr_t)buf, (int)(n / 8), flags & BT_F_SKIP_FIELD_MASK);
    memset((uint8_t *)(uintptr_t)buf + (uint32_t)got * 8, 0, n - (uint32_t)got * 8);
    return (uint64_t)got * 8;
}

/* --- spin locks (struct bpf_spin_lock { u32 val; } inside a map value) ---------- */

static uint64_t h_spin_lock(uint64_t lock, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                            bt_ctx *ctx)
{
    (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    uint32_t *l = (uint32_t *)(uintptr_t)lock;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(l, __ATOMIC_RELAXED))
            bt_cpu_relax();
    return 0;
}

static uint64_t h_spin_unlock(uint64_t lock, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                              bt_ctx *ctx)
{
    (void)a2; (void)a3; (void)a4; (void)a5; (void)ctx;
    __atomic_store_n((uint32_t *)(uintptr_t)lock, 0, __ATOMIC_RELEASE);
    return 0;
}

/* --- strings and formatting ------------------------------------------------------ */

static uint64_t h_strncmp(uint64_t s1, uint64_t s1_sz, uint64_t s2, uint64_t a4, uint64_t a5,
                          bt_ctx *ctx)
{
    (void)a4; (void)a5; (void)ctx;
    const unsigned char *a = (const unsigned char *)(uintptr_t)s1;
    const unsigned char *b = (const unsigned char *)(uintptr_t)s2;
    for (uint32_t i = 0; i < (uint32_t)s1_sz; i++) {
        if (a[i] != b[i])
            return (uint64_t)(int64_t)(a[i] < b[i] ? -1 : 1);
        if (!a[i])
            return 0;
    }
    return 0;
}

static uint64_t h_snprintf(uint64_t str, uint64_t str_size, uint64_t fmt, uint64_t data,
                           uint64_t data_len, bt_ctx *ctx)
{
    (void)ctx;
    uint32_t len = (uint32_t)data_len;
    if (len % 8 || len / 8 > BT_MAX_SNPRINTF_ARGS || (len && !data) || !(uint32_t)str_size)
        return (uint64_t)-EINVAL;
    long n = bt_format((char *)(uintptr_t)str, (uint32_t)str_size, (const char *)(uintptr_t)fmt,
                       (size_t)-1, (const uint64_t *)(uintptr_t)data, len / 8);
    return n < 0 ? (uint64_t)n : (uint64_t)(n + 1);
}

/* --- bpf_loop -------------------------------------------------------------------- */

static uint64_t h_loop(uint64_t nr_loops, uint64_t callback_fn, uint64_t callback_ctx,
                       uint64_t flags, uint64_t a5, bt_ctx *ctx)
{
    (void)a5;
    uint32_t n = (uint32_t)nr_loops;
    if (flags)
        return (uint64_t)-EINVAL;
    if (n > BT_MAX_LOOPS)
        return (uint64_t)-E2BIG;
    if (!ctx->callback)
        return (uint64_t)-EINVAL;
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint64_t r = ctx->callback(ctx, callback_fn, i, callback_ctx, 0, 0, 0);
        if (ctx->exit_flag != BT_EXIT_NONE)
            return 0;
        if (r == 1)
            return i + 1;
    }
    return i;
}

/* --- attach context ---------------------------------------------------------------- */

static uint64_t h_override_return(uint64_t regs, uint64_t rc, uint64_t a3, uint64_t a4,
                                  uint64_t a5, bt_ctx *ctx)
{
    (void)regs; (void)a3; (void)a4; (void)a5;
    ctx->override_set = 1;
    ctx->override_value = rc;
    return 0;
}

static uint64_t h_get_attach_cookie(uint64_t c, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                    bt_ctx *ctx)
{
    (void)c; (void)a2; (void)a3; (void)a4; (void)a5;
    return ctx->cookie;
}

static uint64_t h_get_func_arg(uint64_t c, uint64_t n, uint64_t value, uint64_t a4, uint64_t a5,
                               bt_ctx *ctx)
{
    (void)c; (void)a4; (void)a5;
    /* rdi, rsi, rdx, rcx, r8, r9 as u64 indexes into x86_64 struct pt_regs */
    static const uint8_t pt_regs_arg[6] = {14, 13, 12, 11, 9, 8};
    uint64_t *out = (uint64_t *)(uintptr_t)value;
    if ((uint32_t)n >= ctx->func_nargs || (!ctx->func_args && !ctx->func_regs)
            || (ctx->func_regs && n >= 6)) {
        *out = 0;
        return (uint64_t)-EINVAL;
    }
    *out = ctx->func_regs ? ctx->func_regs[pt_regs_arg[n]] : ctx->func_args[(uint32_t)n];
    return 0;
}

static uint64_t h_get_func_ret(uint64_t c, uint64_t value, uint64_t a3, uint64_t a4, uint64_t a5,
                               bt_ctx *ctx)
{
    (void)c; (void)a3; (void)a4; (void)a5;
    *(uint64_t *)(uintptr_t)value = ctx->func_ret;
    return 0;
}

static uint64_t h_get_func_arg_cnt(uint64_t c, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                   bt_ctx *ctx)
{
    (void)c; (void)a2; (void)a3; (void)a4; (void)a5;
    return ctx->func_nargs;
}

/* --- the table ------------------------------------------------------------------------ */

static void set(bt_helper_fn *table, size_t n, size_t id, bt_helper_fn fn)
{
    if (id < n)
        table[id] = fn;
}

void bt_helpers__fill_core(bt_helper_fn *t, size_t n)
{
    set(t, n, BT_FN_probe_read, h_probe_read);
    set(t, n, BT_FN_ktime_get_ns, h_ktime_get_ns);
    set(t, n, BT_FN_get_prandom_u32, h_get_prandom_u32);
    set(t, n, BT_FN_get_smp_processor_id, h_get_smp_processor_id);
    set(t, n, BT_FN_get_current_pid_tgid, h_get_current_pid_tgid);
    set(t, n, BT_FN_get_current_uid_gid, h_get_current_uid_gid);
    set(t, n, BT_FN_get_current_comm, h_get_current_comm);
    set(t, n, BT_FN_probe_read_str, h_probe_read_str);
    set(t, n, BT_FN_override_return, h_override_return);
    set(t, n, BT_FN_get_stack, h_get_stack);
    set(t, n, BT_FN_spin_lock, h_spin_lock);
    set(t, n, BT_FN_spin_unlock, h_spin_unlock);
    set(t, n, BT_FN_send_signal, h_send_signal);
    set(t, n, BT_FN_probe_read_user, h_probe_read);
    set(t, n, BT_FN_probe_read_kernel, h_probe_read_kernel);
    set(t, n, BT_FN_probe_read_user_str, h_probe_read_str);
    set(t, n, BT_FN_probe_read_kernel_str, h_probe_read_kernel_str);
    set(t, n, BT_FN_send_signal_thread, h_send_signal_thread);
    set(t, n, BT_FN_ktime_get_boot_ns, h_ktime_get_boot_ns);
    set(t, n, BT_FN_ktime_get_coarse_ns, h_ktime_get_coarse_ns);
    set(t, n, BT_FN_snprintf, h_snprintf);
    set(t, n, BT_FN_get_attach_cookie, h_get_attach_cookie);
    set(t, n, BT_FN_loop, h_loop);
    set(t, n, BT_FN_strncmp, h_strncmp);
    set(t, n, BT_FN_get_func_arg, h_get_func_arg);
    set(t, n, BT_FN_get_func_ret, h_get_func_ret);
    set(t, n, BT_FN_get_func_arg_cnt, h_get_func_arg_cnt);
}
