/* bpf_override_return in a sys_enter program (tests/test_syscall_abi.py): close(-1) is
 * not made and returns 0, as bpftime allows for syscall tracepoints. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sys_enter_ctx {
    unsigned long long common;
    long id;
    unsigned long args[6];
};

SEC("tracepoint/syscalls/sys_enter_close")
int fake_close(struct sys_enter_ctx *ctx)
{
    if ((int)ctx->args[0] == -1)
        bpf_override_return(ctx, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
