// Latency of funclatency_victim's slow(): uprobe + uretprobe, log2 histogram in
// microseconds (bcc's funclatency, for one function of one binary).
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);   /* thread id */
    __type(value, __u64); /* entry time, ns */
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 64);
    __type(key, __u32);   /* log2 slot: values in [2^(k-1), 2^k - 1] */
    __type(value, __u64);
} usecs_hist SEC(".maps");

static __always_inline __u32 log2l(__u64 v)
{
    __u32 r = 0;
#pragma unroll
    for (int s = 32; s > 0; s >>= 1) {
        if (v >> s) {
            v >>= s;
            r += s;
        }
    }
    return r;
}

SEC("uprobe/funclatency_victim:slow")
int BPF_KPROBE(slow_enter)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 now = bpf_ktime_get_ns();

    bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
    return 0;
}

SEC("uretprobe/funclatency_victim:slow")
int BPF_KRETPROBE(slow_return)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *t0 = bpf_map_lookup_elem(&start, &tid);

    if (!t0)
        return 0;
    __u64 us = (bpf_ktime_get_ns() - *t0) / 1000;
    bpf_map_delete_elem(&start, &tid);
    __u32 slot = us ? log2l(us) + 1 : 0;
    __u64 *n = bpf_map_lookup_elem(&usecs_hist, &slot);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
