// Replace mode: price_with_tax() in replace_victim never runs; this program runs in
// its place and its return value is what the caller gets (bpftime's UREPLACE). Here
// the tax becomes 0 for every price: the function returns the price unchanged.
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} replaced SEC(".maps");

SEC("ureplace/replace_victim:price_with_tax")
long no_tax(struct pt_regs *ctx)
{
    __u32 k = 0;
    __u64 *n = bpf_map_lookup_elem(&replaced, &k);

    if (n)
        __sync_fetch_and_add(n, 1);
    return PT_REGS_PARM1(ctx); /* the price, tax-free: r0 is the function's result */
}

char LICENSE[] SEC("license") = "GPL";
