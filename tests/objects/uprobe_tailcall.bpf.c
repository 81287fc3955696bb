/* Tail calls inside a traced process (tests/test_uprobe_abi.py): fib's uprobe tail-calls
 * through a PROG_ARRAY into a program that is not attached itself. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} tc_counts SEC(".maps");

static void bump(__u32 key)
{
    __u64 *v = bpf_map_lookup_elem(&tc_counts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
}

SEC("uprobe")
int tail_target(void *ctx)
{
    bump(1);
    return 0;
}

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, int(void *));
} jmp SEC(".maps") = {
    .values = {[0] = (void *)&tail_target},
};

SEC("uprobe/abi_victim:fib")
int fib_entry(void *ctx)
{
    bump(0);
    bpf_tail_call(ctx, &jmp, 0);
    bump(2);  /* reached only if the tail call failed */
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
