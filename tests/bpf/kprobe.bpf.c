// A kernel attach type, which a userspace runtime cannot attach: loading fails.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe")
int fine(void *ctx)
{
	return 0;
}

SEC("kprobe/do_sys_openat2")
int kernel_only(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
