// Programs of the syscalls section of bench/run.py: an empty sys_enter program and a
// counting one (a hash map keyed by syscall number), run on every getppid() of
// bench/syscall_victim.c, by the kernel and by us. Rebuild: see bench/README.md.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* raw_syscalls/sys_enter's format (tracefs) */
struct trace_event_raw_sys_enter {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    long id;
    unsigned long args[6];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);   /* syscall number */
    __type(value, __u64); /* calls */
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_empty(void *ctx)
{
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int tp_count(struct trace_event_raw_sys_enter *ctx)
{
    __u32 nr = (__u32)ctx->id;
    __u64 one = 1, *n = bpf_map_lookup_elem(&counts, &nr);

    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&counts, &nr, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
