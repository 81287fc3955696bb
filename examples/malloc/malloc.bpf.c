// Count libc malloc() calls per thread (bpftime's example/malloc, as a plain uprobe).
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);   /* thread id */
    __type(value, __u64); /* malloc calls */
} malloc_calls SEC(".maps");

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(count_malloc, unsigned long size)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 one = 1, *n = bpf_map_lookup_elem(&malloc_calls, &tid);

    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&malloc_calls, &tid, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
