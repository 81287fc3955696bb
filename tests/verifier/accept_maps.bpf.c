// Programs the verifier must accept: maps, null checks, bounded indexes.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[256]);
} scratch SEC(".maps");

struct hist { __u64 buckets[32]; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

SEC("uprobe")
int count_by_pid(struct pt_regs *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
	return 0;
}

SEC("uprobe")
int slot_by_arg(struct pt_regs *ctx)
{
	__u32 key = (__u32)PT_REGS_PARM1(ctx);
	__u64 *v;
	if (key >= 64)
		return 0;
	v = bpf_map_lookup_elem(&slots, &key);
	if (!v)
		return 0;
	*v += PT_REGS_PARM2(ctx);
	return 1;
}

SEC("uprobe")
int histogram(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 size = PT_REGS_PARM1(ctx);
	struct hist *h = bpf_map_lookup_elem(&hists, &zero);
	__u32 b = 0;
	if (!h)
		return 0;
	while (size > 1 && b < 31) {
		size >>= 1;
		b++;
	}
	__sync_fetch_and_add(&h->buckets[b], 1);
	return 0;
}

SEC("uprobe")
int index_masked(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct hist *h = bpf_map_lookup_elem(&hists, &zero);
	if (!h)
		return 0;
	h->buckets[PT_REGS_PARM1(ctx) & 31] += 1;
	return 0;
}

SEC("uprobe")
int scratch_copy(struct pt_regs *ctx)
{
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	long n = bpf_probe_read_user_str(buf, 256, (void *)PT_REGS_PARM1(ctx));
	if (n <= 0)
		return 0;
	return buf[0];
}

SEC("uprobe")
int delete_key(struct pt_regs *ctx)
{
	__u32 key = PT_REGS_PARM1(ctx);
	return bpf_map_delete_elem(&counts, &key);
}

SEC("uprobe")
int sum_slots(struct pt_regs *ctx)
{
	__u64 sum = 0;
	for (__u32 i = 0; i < 16; i++) {
		__u32 k = i;
		__u64 *v = bpf_map_lookup_elem(&slots, &k);
		if (v)
			sum += *v;
	}
	return sum & 0xff;
}

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&slots, &key);
	if (v)
		*v = PT_REGS_RC(ctx);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
