// syscount: how many times each system call is made (libbpf-tools' syscount, counts
// only). raw_syscalls/sys_enter fires for every syscall; the map is keyed by the
// syscall number and printed at exit (@syscalls[<nr>]: <count>).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* the format of raw_syscalls/sys_enter (tracefs), as vmlinux.h names it */
struct trace_event_raw_sys_enter {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    long id;
    unsigned long args[6];
};

/* 0: every process; the kernel oracle sets it (kernel tracepoints see every process) */
const volatile __u32 targ_tgid = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);   /* syscall number */
    __type(value, __u64); /* calls */
} syscalls SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_enter(struct trace_event_raw_sys_enter *ctx)
{
    __u32 nr = (__u32)ctx->id;
    __u64 one = 1, *n;

    if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
        return 0;
    n = bpf_map_lookup_elem(&syscalls, &nr);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&syscalls, &nr, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
