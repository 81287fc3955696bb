// Probes for tests/victims/abi_victim.c (tests/test_uprobe_abi.py): counts entries and
// returns, and reads arguments, a stack-passed argument and return registers.
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

enum {
    MIX_IN, MIX_OUT, FIB_IN, FIB_OUT, FIB_RET_SUM, PAIR_A_SUM, PAIR_B_SUM, JUMP_IN, JUMP_OUT,
    WORK_IN, WORK_OUT, MIX_I7_SUM, BIG_OUT, VSUM_IN, MIX_I1_SUM, WORK_RET_SUM, RZ_IN, RZ_ARG_SUM,
    OFF_IN, NCOUNTS,
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NCOUNTS);
    __type(key, __u32);
    __type(value, __s64);
} counts SEC(".maps");

static __always_inline void add(__u32 k, __s64 v)
{
    __s64 *p = bpf_map_lookup_elem(&counts, &k);
    if (p)
        __sync_fetch_and_add(p, v);
}

SEC("uprobe/abi_victim:mix")
int mix_in(struct pt_regs *ctx)
{
    long i7 = 0;
    /* first stack-passed argument: just above the return address */
    bpf_probe_read_user(&i7, sizeof(i7), (void *)(PT_REGS_SP(ctx) + 8));
    add(MIX_IN, 1);
    add(MIX_I7_SUM, i7);
    add(MIX_I1_SUM, PT_REGS_PARM1(ctx));
    return 0;
}

SEC("uretprobe/abi_victim:mix")
int mix_out(struct pt_regs *ctx) { add(MIX_OUT, 1); return 0; }

SEC("uprobe/abi_victim:fib")
int fib_in(struct pt_regs *ctx) { add(FIB_IN, 1); return 0; }

SEC("uretprobe/abi_victim:fib")
int fib_out(struct pt_regs *ctx)
{
    add(FIB_OUT, 1);
    add(FIB_RET_SUM, PT_REGS_RC(ctx));
    return 0;
}

SEC("uretprobe/abi_victim:mkpair")
int pair_out(struct pt_regs *ctx)
{
    add(PAIR_A_SUM, ctx->rax);
    add(PAIR_B_SUM, ctx->rdx);
    return 0;
}

SEC("uretprobe/abi_victim:mkbig")
int big_out(struct pt_regs *ctx) { add(BIG_OUT, 1); return 0; }

SEC("uprobe/abi_victim:vsum")
int vsum_in(struct pt_regs *ctx) { add(VSUM_IN, 1); return 0; }

SEC("uprobe/abi_victim:jumper")
int jump_in(struct pt_regs *ctx) { add(JUMP_IN, 1); return 0; }

SEC("uretprobe/abi_victim:jumper")
int jump_out(struct pt_regs *ctx) { add(JUMP_OUT, 1); return 0; }

SEC("uprobe/abi_victim:work")
int work_in(struct pt_regs *ctx) { add(WORK_IN, 1); return 0; }

SEC("uretprobe/abi_victim:work")
int work_out(struct pt_regs *ctx)
{
    add(WORK_OUT, 1);
    add(WORK_RET_SUM, PT_REGS_RC(ctx));
    return 0;
}

/* inside a function: after its first instruction, with live data in the red zone */
SEC("uprobe/abi_victim:redzone+5")
int rz_in(struct pt_regs *ctx)
{
    add(RZ_IN, 1);
    add(RZ_ARG_SUM, PT_REGS_PARM1(ctx));
    return 0;
}

/* the same function by file offset (the test points this one at vsum's entry) */
SEC("uprobe/abi_victim:0x0")
int by_offset(struct pt_regs *ctx) { add(OFF_IN, 1); return 0; }

char LICENSE[] SEC("license") = "GPL";
