// Sections bpftime cannot attach, one program each (tests/test_uprobe_abi.py).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe/abi_victim:tiny")
int too_short(void *ctx) { return 0; }

SEC("uprobe/abi_victim:no_such_function")
int no_symbol(void *ctx) { return 0; }

SEC("uprobe/./no/such/binary:main")
int no_binary(void *ctx) { return 0; }

SEC("uprobe/libnotloaded.so.1:f")
int not_loaded(void *ctx) { return 0; }

SEC("uprobe")
int no_target(void *ctx) { return 0; }

SEC("uprobe/abi_victim:0x7fffffff")
int bad_offset(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
