// A ureplace program with no target in its section, for obj.attach_ureplace(...):
// the replaced function returns twice its first argument.
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("ureplace")
long double_it(struct pt_regs *ctx)
{
    return PT_REGS_PARM1(ctx) * 2;
}

/* a negative 64-bit result must reach the caller whole */
SEC("ureplace")
long minus_one(struct pt_regs *ctx)
{
    return -1;
}

char LICENSE[] SEC("license") = "GPL";
