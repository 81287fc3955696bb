// Uprobes written against the userspace struct pt_regs of <asm/ptrace.h>
// (rdi, rsi, ...), with plain loads (PT_REGS_PARM*) and with CO-RE reads
// (PT_REGS_PARM*_CORE, bpf_core_read), which relocate against the runtime's
// pt_regs.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#ifndef BPF_UPROBE /* libbpf >= 1.2 defines it the same way */
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif

SEC("uprobe/./app:add")
int BPF_UPROBE(plain_add, int a, long b, long c)
{
	return a * 100 + b * 10 + c;
}

SEC("uprobe/./app:add")
int core_add(struct pt_regs *ctx)
{
	long a = PT_REGS_PARM1_CORE(ctx);
	long b = PT_REGS_PARM2_CORE(ctx);
	long c;

	bpf_core_read(&c, sizeof(c), &ctx->rdx);
	return a * 100 + b * 10 + c;
}

SEC("uretprobe/./app:add")
int BPF_URETPROBE(ret_add, long rc)
{
	return rc + 1;
}

char LICENSE[] SEC("license") = "GPL";
