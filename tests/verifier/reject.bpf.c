// Programs the verifier must refuse; tests/test_verifier_corpus.py holds the
// expected message of each. Each function has one bug, written as C so the
// messages point at C lines.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[8]);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct locked { struct bpf_spin_lock lock; __u64 count; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} stats SEC(".maps");

const volatile __u64 limit = 5;

SEC("uprobe")
int no_null_check(struct pt_regs *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	return *v + 1;
}

SEC("uprobe")
int unchecked_index(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 *a = bpf_map_lookup_elem(&arr, &zero);
	if (!a)
		return 0;
	return a[PT_REGS_PARM1(ctx)];
}

SEC("uprobe")
int off_by_one(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 *a = bpf_map_lookup_elem(&arr, &zero);
	__u64 i = PT_REGS_PARM1(ctx);
	if (!a || i > 8)
		return 0;
	return a[i];
}

SEC("uprobe")
int ringbuf_leak(struct pt_regs *ctx)
{
	__u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!e)
		return 0;
	*e = PT_REGS_PARM1(ctx);
	if (*e == 0)
		return 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("uprobe")
int lock_leak(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct locked *l = bpf_map_lookup_elem(&stats, &zero);
	if (!l)
		return 0;
	bpf_spin_lock(&l->lock);
	if (PT_REGS_PARM1(ctx))
		return 1;
	bpf_spin_unlock(&l->lock);
	return 0;
}

SEC("uprobe")
int write_rodata(struct pt_regs *ctx)
{
	*(volatile __u64 *)&limit = PT_REGS_PARM1(ctx);
	return 0;
}

SEC("uprobe")
int write_ctx(struct pt_regs *ctx)
{
	ctx->rax = 0;
	return 0;
}

SEC("uprobe")
int pointer_into_map(struct pt_regs *ctx)
{
	__u32 key = 2;
	__u64 val = (__u64)&key;
	return bpf_map_update_elem(&counts, &key, &val, 0) && val;
}

SEC("uprobe")
int unbounded_loop(struct pt_regs *ctx)
{
	int seen = 0;
	while (bpf_get_prandom_u32() != 7)
		seen = 1;
	return seen;
}

SEC("uprobe")
int stack_uninit(struct pt_regs *ctx)
{
	__u64 buf[4];
	__u32 i = PT_REGS_PARM1(ctx) & 3;
	buf[0] = 1;
	return buf[i];
}

SEC("uprobe")
int helper_size_unbounded(struct pt_regs *ctx)
{
	char buf[64];
	return bpf_probe_read_user(buf, PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM1(ctx));
}

char LICENSE[] SEC("license") = "GPL";
