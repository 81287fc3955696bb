// Programs written as with vmlinux.h: kernel names (di, si, ...) and
// preserve_access_index types whose local layout differs from the runtime's,
// so every field access is a CO-RE relocation; syscall tracepoint contexts;
// field/type existence and size checks.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* a local view of the kernel's struct pt_regs: a subset, in another order */
struct pt_regs {
	long unsigned int di;
	long unsigned int si;
	long unsigned int dx;
	long unsigned int cx;
	long unsigned int r8;
	long unsigned int ax;
	long unsigned int sp;
	long unsigned int ip;
	long unsigned int not_in_runtime;
} __attribute__((preserve_access_index));

struct trace_entry {
	short unsigned int type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long int id;
	long unsigned int args[6];
	char __data[0];
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long int id;
	long int ret;
	char __data[0];
} __attribute__((preserve_access_index));

struct absent_type {
	int x;
};

#define __VMLINUX_H__ /* bpf_tracing.h: use the kernel's register names */
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#ifndef BPF_UPROBE /* libbpf >= 1.2 defines it the same way */
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif

SEC("uprobe/./app:sum5")
int BPF_UPROBE(sum5, long a, long b, long c, long d, long e)
{
	return a + b * 10 + c * 100 + d * 1000 + e * 10000;
}

SEC("uprobe/./app:sum5")
int BPF_KPROBE(regs_ip_sp)
{
	return PT_REGS_IP(ctx) - PT_REGS_SP(ctx) + PT_REGS_RC(ctx);
}

SEC("uprobe/./app:sum5")
int facts(struct pt_regs *ctx)
{
	long r = 0;

	if (bpf_core_field_exists(ctx->not_in_runtime))
		r += 1;
	if (bpf_core_field_exists(ctx->ip))
		r += 2;
	if (bpf_core_type_exists(struct trace_event_raw_sys_exit))
		r += 4;
	if (bpf_core_type_exists(struct absent_type))
		r += 8;
	return r + bpf_core_type_size(struct pt_regs) * 100 + bpf_core_field_size(ctx->ip) * 100000;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	return ctx->args[1] + ctx->id * 1000 + ctx->ent.pid * 1000000;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return ctx->ret + BPF_CORE_READ(ctx, ent.preempt_count) * 1000;
}

char LICENSE[] SEC("license") = "GPL";
