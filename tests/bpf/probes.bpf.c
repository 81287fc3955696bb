// Section names of the program kinds a userspace runtime supports, several
// programs in one section, a sleepable uprobe, usdt and a syscall tracepoint; a
// global with BTF type and declaration tags and a float, for the BTF tests.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct tagged {
	int __attribute__((btf_type_tag("user"))) *ptr;
	int value __attribute__((btf_decl_tag("field")));
	double ratio;
} __attribute__((btf_decl_tag("struct")));

struct tagged tagged_var;

/* a global function: a subprogram in .text, called through its symbol */
__attribute__((noinline)) int global_helper(int x)
{
	return x * 3;
}

SEC("uprobe")
int first_in_section(void *ctx)
{
	return global_helper(1) - 2;
}

SEC("uprobe")
int second_in_section(void *ctx)
{
	return 2;
}

SEC("uprobe//usr/lib/libc.so.6:malloc")
int on_malloc(void *ctx)
{
	return 3;
}

SEC("uprobe/./app:parse+0x10")
int on_parse_off(void *ctx)
{
	return 4;
}

SEC("uretprobe/./app:parse")
int on_parse_ret(void *ctx)
{
	return 4;
}

SEC("uprobe.s/./app:0x1234")
int sleepable(void *ctx)
{
	return 5;
}

SEC("usdt/./app:myprov:probe1")
int on_usdt(void *ctx)
{
	return 6;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	return 7;
}

SEC("raw_tp/sys_exit")
int on_raw(void *ctx)
{
	return 8;
}

SEC("xdp")
int on_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int on_tc(struct __sk_buff *skb)
{
	return 0;
}

SEC("perf_event")
int on_perf(void *ctx)
{
	return 0;
}

SEC("socket")
int on_socket(struct __sk_buff *skb)
{
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
