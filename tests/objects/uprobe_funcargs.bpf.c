/* bpf_get_func_arg / bpf_get_func_arg_cnt / bpf_get_func_ret inside a traced process
 * (tests/test_uprobe_abi.py): mix()'s six register arguments, summed per position. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 9);
    __type(key, __u32);
    __type(value, __s64);
} fa_sums SEC(".maps");

static __always_inline void add(__u32 k, __s64 v)
{
    __s64 *p = bpf_map_lookup_elem(&fa_sums, &k);
    if (p)
        __sync_fetch_and_add(p, v);
}

SEC("uprobe/abi_victim:mix")
int args_in(void *ctx)
{
    for (__u32 i = 0; i < 6; i++) {
        __u64 v = 0;
        if (bpf_get_func_arg(ctx, i, &v) == 0)
            add(i, (__s64)v);
    }
    __u64 v = 0;
    add(6, bpf_get_func_arg_cnt(ctx));
    add(7, bpf_get_func_arg(ctx, 6, &v));  /* past the register arguments: -EINVAL */
    return 0;
}

SEC("uretprobe/abi_victim:fib")
int fib_ret(void *ctx)
{
    __u64 ret = 0;
    bpf_get_func_ret(ctx, &ret);
    add(8, (__s64)ret);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
