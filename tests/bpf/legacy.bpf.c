// Legacy map definitions in the "maps" section (struct bpf_map_def, libbpf < 1.0).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 128,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 16,
	.max_entries = 2,
	.map_flags = BPF_F_MMAPABLE,
};

SEC("socket")
int count(void *skb)
{
	int key = 0;
	long *v = bpf_map_lookup_elem(&legacy_hash, &key);
	char *a = bpf_map_lookup_elem(&legacy_array, &key);

	if (v)
		*v += 1;
	if (a)
		a[3] = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
