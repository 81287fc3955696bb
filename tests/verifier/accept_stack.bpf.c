// Programs the verifier must accept: stack buffers, strings, loops, subprograms.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int threshold = 10;
const char fmt[] = "pid %d arg %ld";
__u64 hits = 0;
__u64 last_arg = 5;

SEC("uprobe")
int read_string(struct pt_regs *ctx)
{
	char buf[64];
	long n = bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx));
	if (n < 2)
		return 0;
	return buf[0] == '/';
}

SEC("uprobe")
int comm_check(struct pt_regs *ctx)
{
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	return comm[0] == 'b' && comm[1] == 'a';
}

SEC("uprobe")
int globals(struct pt_regs *ctx)
{
	hits++;
	last_arg = PT_REGS_PARM1(ctx);
	return last_arg > threshold;
}

SEC("uprobe")
int printk(struct pt_regs *ctx)
{
	bpf_printk("arg %ld", PT_REGS_PARM1(ctx));
	return 0;
}

SEC("uprobe")
int snprintf_rodata(struct pt_regs *ctx)
{
	char out[32];
	__u64 args[2] = { bpf_get_current_pid_tgid() >> 32, PT_REGS_PARM1(ctx) };
	return bpf_snprintf(out, sizeof(out), fmt, args, sizeof(args));
}

SEC("uprobe")
int stack_array(struct pt_regs *ctx)
{
	__u64 vals[8] = {};
	__u32 i = PT_REGS_PARM1(ctx);
	if (i >= 8)
		return 0;
	vals[i] = PT_REGS_PARM2(ctx);
	return vals[0] + vals[7];
}

SEC("uprobe")
int loop_sum(struct pt_regs *ctx)
{
	char buf[32];
	int sum = 0;
	if (bpf_probe_read_user(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx)))
		return 0;
	for (int i = 0; i < 32; i++)
		sum += buf[i];
	return sum;
}

SEC("uprobe")
int strlen_loop(struct pt_regs *ctx)
{
	char buf[64];
	int i;
	if (bpf_probe_read_user(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx)))
		return 0;
	for (i = 0; i < 64; i++)
		if (!buf[i])
			break;
	return i;
}

static __noinline int add3(int a, int b, int c)
{
	return a + b + c;
}

static __noinline __u64 fold(__u64 x)
{
	return (x >> 32) ^ (x & 0xffffffff) ^ add3(x, 1, 2);
}

SEC("uprobe")
int subprograms(struct pt_regs *ctx)
{
	return fold(PT_REGS_PARM1(ctx)) & 0xff;
}

static __noinline int fill(char *dst, int n)
{
	for (int i = 0; i < 8; i++)
		dst[i] = n + i;
	return dst[3];
}

SEC("uprobe")
int subprogram_stack(struct pt_regs *ctx)
{
	char b[8];
	return fill(b, PT_REGS_PARM1(ctx));
}

SEC("uprobe")
int switch_case(struct pt_regs *ctx)
{
	switch (PT_REGS_PARM1(ctx)) {
	case 1: return 10;
	case 2: return 20;
	case 3: return 35;
	case 7: return 70;
	default: return 0;
	}
}

SEC("uprobe")
int strncmp_rodata(struct pt_regs *ctx)
{
	char buf[8];
	static const char want[] = "bash";
	if (bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx)) < 0)
		return 0;
	return bpf_strncmp(buf, 4, want) == 0;
}

SEC("uprobe")
int signal_and_time(struct pt_regs *ctx)
{
	if (bpf_ktime_get_ns() % 1000 == 0)
		bpf_send_signal(9);
	return bpf_get_prandom_u32() & 1;
}

SEC("uprobe")
int user_stack(struct pt_regs *ctx)
{
	__u64 ips[16];
	long n = bpf_get_stack(ctx, ips, sizeof(ips), BPF_F_USER_STACK);
	if (n <= 0)
		return 0;
	return ips[0] & 0xff;
}

char LICENSE[] SEC("license") = "GPL";
