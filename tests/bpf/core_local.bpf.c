// Generic CO-RE relocations against the types of core_target.bpf.c: a flavoured
// local struct with another layout, bitfields read with BPF_CORE_READ_BITFIELD,
// enum values, type existence and size. probe() writes what it finds to out[].
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum state___local {
	S_SLEEP___local = 40,
	S_ZOMBIE___local = 16,
};

struct task___local {
	unsigned long long arr[3][4];
	int c : 7;
	unsigned int b : 5;
	char comm[16];
	long x;
	enum state___local st;
	int pid;
	int missing;
	short sval;
} __attribute__((preserve_access_index));

struct nothere {
	int z;
};

__u64 out[20];

SEC("syscall")
int probe(struct task___local *t)
{
	out[0] = bpf_core_field_offset(t->pid);
	out[1] = bpf_core_field_offset(t->x);
	out[2] = bpf_core_field_offset(t->comm);
	out[3] = bpf_core_field_size(t->comm);
	out[4] = bpf_core_field_offset(t->arr[2][1]);
	out[5] = bpf_core_field_exists(t->missing);
	out[6] = bpf_core_field_exists(t->sval);
	out[7] = bpf_core_field_size(t->sval);
	out[8] = __builtin_preserve_field_info(t->c, BPF_FIELD_SIGNED);
	out[9] = __builtin_preserve_field_info(t->b, BPF_FIELD_SIGNED);
	out[10] = __builtin_preserve_field_info(t->c, BPF_FIELD_LSHIFT_U64);
	out[11] = __builtin_preserve_field_info(t->c, BPF_FIELD_RSHIFT_U64);
	out[12] = __builtin_preserve_field_info(t->b, BPF_FIELD_LSHIFT_U64);
	out[13] = bpf_core_type_size(struct task___local);
	out[14] = bpf_core_type_exists(struct nothere);
	out[15] = bpf_core_enum_value(enum state___local, S_SLEEP___local);
	out[16] = bpf_core_enum_value_exists(enum state___local, S_ZOMBIE___local);
	out[17] = BPF_CORE_READ_BITFIELD(t, c);
	out[18] = BPF_CORE_READ_BITFIELD(t, b);
	out[19] = t->x + t->sval;
	return bpf_core_type_id_kernel(struct task___local);
}

char LICENSE[] SEC("license") = "GPL";
