// Error injection: every FAIL_EVERY-th call of errinj_victim's open_config() is skipped
// and returns -ENOENT (bpf_override_return), as bpftime's error-inject example does.
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u64 fail_every = 3; /* a knob: bpftime.load(..., rodata={"fail_every": 2}) */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);   /* 0: calls seen, 1: calls failed */
    __type(value, __u64);
} inject_stats SEC(".maps");

SEC("uprobe/errinj_victim:open_config")
int BPF_KPROBE(inject, const char *path)
{
    __u32 k = 0;
    __u64 *seen = bpf_map_lookup_elem(&inject_stats, &k);

    if (!seen)
        return 0;
    __u64 n = __sync_fetch_and_add(seen, 1) + 1;
    if (fail_every && n % fail_every == 0) {
        k = 1;
        __u64 *failed = bpf_map_lookup_elem(&inject_stats, &k);
        if (failed)
            __sync_fetch_and_add(failed, 1);
        bpf_override_return(ctx, -2); /* -ENOENT; the function does not run */
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
