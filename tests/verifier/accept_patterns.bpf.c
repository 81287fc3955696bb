// Programs the verifier must accept: bounds patterns clang -O2 emits.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct config { __u32 n; __u32 shift; __u64 vals[16]; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[64]);
} log2h SEC(".maps");

SEC("uprobe")
int str_last_char(struct pt_regs *ctx)
{
	char buf[64];
	long n = bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx));
	if (n <= 1 || n > 64)
		return 0;
	return buf[n - 2];
}

SEC("uprobe")
int loop_bound_from_map(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 sum = 0;
	struct config *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c)
		return 0;
	for (__u32 i = 0; i < 16 && i < c->n; i++)
		sum += c->vals[i];
	return sum & 0xff;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

SEC("uprobe")
int log2_histogram(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 *h = bpf_map_lookup_elem(&log2h, &zero);
	if (!h)
		return 0;
	__sync_fetch_and_add(&h[log2_u64(PT_REGS_PARM1(ctx))], 1);
	return 0;
}

SEC("uprobe")
int index_from_32bit(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct config *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c)
		return 0;
	__u32 i = c->shift;
	if (i < 16)
		return c->vals[i] & 0xff;
	return 0;
}

SEC("uprobe")
int signed_index(struct pt_regs *ctx)
{
	__u32 zero = 0;
	int i = (int)PT_REGS_PARM1(ctx);
	struct config *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c || i < 0 || i >= 16)
		return 0;
	c->vals[i] = 1;
	return 1;
}

SEC("uprobe")
int copy_loop(struct pt_regs *ctx)
{
	char src[32], dst[32];
	if (bpf_probe_read_user(src, sizeof(src), (void *)PT_REGS_PARM1(ctx)))
		return 0;
	#pragma unroll
	for (int i = 0; i < 32; i++)
		dst[i] = src[31 - i];
	return dst[0] + dst[31];
}

SEC("uprobe")
int var_bound(struct pt_regs *ctx)
{
	char buf[64];
	int sum = 0;
	long n = bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx));
	for (int i = 0; i < n && i < 64; i++)
		sum += buf[i];
	return sum;
}

SEC("uprobe")
int nested(struct pt_regs *ctx)
{
	__u64 m[8] = {};
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			m[i] += i * j + PT_REGS_PARM1(ctx);
	return m[3] & 0xff;
}

SEC("uprobe")
int ptr_walk(struct pt_regs *ctx)
{
	char buf[32];
	int c = 0;
	if (bpf_probe_read_user(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx)))
		return 0;
	for (char *p = buf; p < buf + sizeof(buf); p++)
		c += *p == ' ';
	return c;
}

struct args { __u64 a, b, c; };

SEC("uprobe")
int struct_arg(struct pt_regs *ctx)
{
	struct args s;
	if (bpf_probe_read_user(&s, sizeof(s), (void *)PT_REGS_PARM1(ctx)))
		return 0;
	return (s.a + s.b + s.c) & 0xff;
}
char LICENSE[] SEC("license") = "GPL";
