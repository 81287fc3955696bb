/* Syscall tracepoints for tests/test_syscall_abi.py: raw_syscalls enter/exit counts per
 * syscall number, and the per-syscall getppid/close tracepoints with their context
 * fields (the kernel's trace_event_raw_sys_enter / sys_exit layouts, written out). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sys_enter_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    long id;
    unsigned long args[6];
};

struct sys_exit_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    long id;
    long ret;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, __u64);
} enters SEC(".maps"), exits SEC(".maps");

/* 0: getppid enters, 1: getppid exits with ret > 0, 2: close(-1) enters, 3: close exits
 * with -EBADF, 4: enters whose common_pid is not the caller's tid */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 5);
    __type(key, __u32);
    __type(value, __s64);
} facts SEC(".maps");

static void count(void *map, __u32 key)
{
    __u64 one = 1, *v = bpf_map_lookup_elem(map, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

static void add(__u32 key)
{
    __s64 *v = bpf_map_lookup_elem(&facts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int raw_enter(struct sys_enter_ctx *ctx)
{
    count(&enters, (__u32)ctx->id);
    if (ctx->common_pid != (int)bpf_get_current_pid_tgid())
        add(4);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int raw_exit(struct sys_exit_ctx *ctx)
{
    count(&exits, (__u32)ctx->id);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ppid_enter(struct sys_enter_ctx *ctx)
{
    add(0);
    return 0;
}

SEC("tp/syscalls/sys_exit_getppid")
int ppid_exit(struct sys_exit_ctx *ctx)
{
    if (ctx->ret > 0)
        add(1);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int close_enter(struct sys_enter_ctx *ctx)
{
    if ((int)ctx->args[0] == -1)
        add(2);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_close")
int close_exit(struct sys_exit_ctx *ctx)
{
    if (ctx->ret == -9)
        add(3);
    return 0;
}

/* makes the agent call libc's memchr (an AVX2 routine ending in vzeroupper when glibc
 * picks one) on every getpid: the victim checks its ymm registers across one */
SEC("tracepoint/syscalls/sys_enter_getpid")
int pid_enter(struct sys_enter_ctx *ctx)
{
    char src[8] = "getpid", dst[8];
    bpf_probe_read_user_str(dst, sizeof(dst), src);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
