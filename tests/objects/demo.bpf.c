// SPDX-License-Identifier: GPL-2.0
// The object the integration tests load: BTF maps, global data, a ring buffer,
// a per-CPU hash, a log2 histogram, tail calls and bpf_printk, in one file.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 calls;
	char msg[8];
};

/* puts struct event in the BTF, so Python can decode ring buffer records */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

int tail_target(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

const volatile __u32 factor = 1;	/* .rodata: set from Python before load */
__u64 total = 0;			/* .bss */
__u32 calls = 7;			/* .data */

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;
	for (int i = 0; i < 64 && v; i++) {	/* bounded: clang unrolls or keeps a bounded loop */
		v >>= 1;
		slot++;
	}
	return slot;
}

SEC("syscall")
int tail_target(void *ctx)
{
	return 1000 + factor;
}

SEC("syscall")
int demo(void *ctx)
{
	__u32 key = 1, slot;
	__u64 one = 1, *v, *h;
	struct event *e;

	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_ANY);

	v = bpf_map_lookup_elem(&percpu, &key);
	if (v)
		*v += factor;
	else {
		__u64 f = factor;
		bpf_map_update_elem(&percpu, &key, &f, BPF_ANY);
	}

	total += factor;
	calls++;

	slot = log2_slot(calls);
	h = bpf_map_lookup_elem(&hist, &slot);
	if (h)
		__sync_fetch_and_add(h, 1);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->calls = calls;
		__builtin_memcpy(e->msg, "hello", 6);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_printk("demo run %d total %llu", calls, total);

	bpf_tail_call(ctx, &jumps, 1);
	return 0;	/* only when the tail call fails */
}

/* one lookup and an atomic increment of key 0: two processes hammer this */
SEC("syscall")
int inc(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 1;
	__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
