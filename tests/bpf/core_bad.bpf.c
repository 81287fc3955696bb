// A CO-RE access to a field the runtime's struct pt_regs does not have.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pt_regs {
	long unsigned int di;
	long unsigned int foo;
} __attribute__((preserve_access_index));

SEC("uprobe/./app:f")
int handle(struct pt_regs *ctx)
{
	return ctx->di + ctx->foo;
}

char LICENSE[] SEC("license") = "GPL";
