/* Probes on a library the victim loads later (tests/test_uprobe_late.py): attached by
 * hand to late_fn, and getppid counted by a syscall tracepoint. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} late_counts SEC(".maps");

static void bump(__u32 key)
{
    __u64 *v = bpf_map_lookup_elem(&late_counts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
}

SEC("uprobe")
int on_late_fn(void *ctx)
{
    bump(0);
    return 0;
}

SEC("uretprobe")
int on_late_ret(void *ctx)
{
    bump(1);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
    bump(2);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
