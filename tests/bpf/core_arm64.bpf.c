// aarch64 uprobes (built with -D__TARGET_ARCH_arm64): bpf_tracing.h reads
// struct user_pt_regs, and a flavoured local view of the kernel's struct
// pt_regs reaches regs[] through its anonymous union.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));

struct pt_regs___mine {
	__u64 orig_x0;
	__u64 pc;
	__u64 regs[31];
} __attribute__((preserve_access_index));

#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#ifndef BPF_UPROBE /* libbpf >= 1.2 defines it the same way */
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif

SEC("uprobe/./app:add")
int BPF_UPROBE(arm_add, long a, long b)
{
	return a * 10 + b + PT_REGS_SP(ctx) * 1000;
}

SEC("uprobe/./app:add")
int kernel_view(struct pt_regs___mine *ctx)
{
	return ctx->regs[2] + ctx->pc * 10 + ctx->orig_x0 * 100;
}

char LICENSE[] SEC("license") = "GPL";
