// BTF-defined maps of many types, a PROG_ARRAY with .values (tail calls), an
// ARRAY_OF_MAPS with an inner map and .values, a ringbuf with a struct event, and
// map_extra both as __uint and as libbpf 1.3's __ulong.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	int pid;
	unsigned int flags;
	char comm[16];
	unsigned long long ts;
};

struct key2 {
	unsigned int a;
	unsigned short b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct key2);
	__type(value, unsigned long long);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, unsigned int);
	__type(value, struct event);
} events_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, int);
	__type(value, long);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 8);
	__uint(value_size, 24);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32);
	__type(value, unsigned int);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, unsigned long long);
	__uint(map_extra, 3);
} bloom SEC(".maps");

#ifndef __ulong /* libbpf >= 1.3 defines it the same way */
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 10);
	__type(value, unsigned int);
	__ulong(map_extra, 5);
} bloom_ulong SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, int);
	__type(value, int);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, int);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail_one(void *ctx);
int tail_two(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jmp SEC(".maps") = {
	.values = { [1] = (void *)&tail_one, [3] = (void *)&tail_two },
};

SEC("uprobe")
int tail_one(void *ctx)
{
	return 1;
}

SEC("uprobe")
int tail_two(void *ctx)
{
	return 2;
}

SEC("uprobe/./target:main")
int dispatch(void *ctx)
{
	struct key2 k = {.a = 1, .b = 2};
	unsigned long long one = 1, *v;
	int key = 7, zero = 0;
	long init = 0;
	struct event *e;
	void *inner;

	v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
	bpf_map_update_elem(&percpu, &key, &init, BPF_ANY);
	inner = bpf_map_lookup_elem(&outer, &zero);
	if (inner)
		bpf_map_lookup_elem(inner, &zero);
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->flags = 3;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->ts = bpf_ktime_get_ns();
		bpf_ringbuf_submit(e, 0);
	}
	bpf_tail_call(ctx, &jmp, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
