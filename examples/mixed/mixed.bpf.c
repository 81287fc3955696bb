// A uprobe and a syscall tracepoint in one object: a uprobe/uretprobe pair marks the
// threads that are inside the victim's do_work(), and the sys_enter_write tracepoint
// counts the write() calls made there (key 1) and elsewhere (key 0).
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* the format of syscalls/sys_enter_write (tracefs) */
struct sys_enter_write_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    int __syscall_nr;
    __u64 fd;
    const char *buf;
    __u64 count;
};

/* 0: every process; the kernel oracle sets it (kernel tracepoints see every process) */
const volatile __u32 targ_tgid = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);  /* thread id */
    __type(value, __u8); /* inside do_work() */
} in_work SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);   /* 1: inside do_work(), 0: elsewhere */
    __type(value, __u64); /* write() calls */
} writes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64); /* bytes asked to write inside do_work() */
} work_bytes SEC(".maps");

SEC("uprobe/mixed_victim:do_work")
int BPF_KPROBE(work_enter)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u8 one = 1;

    bpf_map_update_elem(&in_work, &tid, &one, BPF_ANY);
    return 0;
}

SEC("uretprobe/mixed_victim:do_work")
int BPF_KRETPROBE(work_exit)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();

    bpf_map_delete_elem(&in_work, &tid);
    return 0;
}

SEC("tp/syscalls/sys_enter_write")
int count_write(struct sys_enter_write_ctx *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, key, zero = 0;
    __u64 *n, *bytes;

    if (targ_tgid && (id >> 32) != targ_tgid)
        return 0;
    key = bpf_map_lookup_elem(&in_work, &tid) ? 1 : 0;
    n = bpf_map_lookup_elem(&writes, &key);
    if (n)
        __sync_fetch_and_add(n, 1);
    if (key) {
        bytes = bpf_map_lookup_elem(&work_bytes, &zero);
        if (bytes)
            __sync_fetch_and_add(bytes, ctx->count);
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
