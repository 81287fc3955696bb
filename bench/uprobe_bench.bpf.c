// Programs of the uprobes section of bench/run.py, on uprobe_victim's target: the same
// instructions run in our agent and, through perf_event_open(uprobe PMU), in the kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

SEC("uprobe/uprobe_victim:target")
int up_empty(void *ctx) { return 0; }

SEC("uretprobe/uprobe_victim:target")
int uret_empty(void *ctx) { return 0; }

SEC("uprobe/uprobe_victim:target")
int up_hash(void *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 one = 1, *n = bpf_map_lookup_elem(&counts, &pid);

    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
