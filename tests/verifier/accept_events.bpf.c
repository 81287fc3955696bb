// Programs the verifier must accept: ringbuf, perf events, spin locks, callbacks,
// tail calls, syscall tracepoints, test programs.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event { __u32 pid; __u32 len; char comm[16]; __u64 arg; };

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct locked { struct bpf_spin_lock lock; __u64 count; __u64 sum; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 64);
	__type(value, __u64);
} queue SEC(".maps");

SEC("uprobe")
int ringbuf_event(struct pt_regs *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->arg = PT_REGS_PARM1(ctx);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (e->arg == 0) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("uprobe")
int ringbuf_output(struct pt_regs *ctx)
{
	struct event e = {};
	e.pid = bpf_get_current_pid_tgid();
	e.arg = PT_REGS_PARM2(ctx);
	return bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
}

SEC("uprobe")
int perf_output(struct pt_regs *ctx)
{
	struct event e = {};
	e.arg = PT_REGS_PARM1(ctx);
	return bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
}

SEC("uprobe")
int spin_locked(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct locked *l = bpf_map_lookup_elem(&stats, &zero);
	if (!l)
		return 0;
	bpf_spin_lock(&l->lock);
	l->count++;
	l->sum += PT_REGS_PARM1(ctx);
	bpf_spin_unlock(&l->lock);
	return 0;
}

static int loop_body(__u32 i, void *data)
{
	__u64 *acc = data;
	*acc += i;
	return *acc > 1000;
}

SEC("uprobe")
int with_bpf_loop(struct pt_regs *ctx)
{
	__u64 acc = 0;
	bpf_loop(100, loop_body, &acc, 0);
	return acc & 0xff;
}

static long count_elem(void *map, __u32 *key, __u64 *val, void *data)
{
	__u64 *n = data;
	*n += *val;
	return 0;
}

SEC("uprobe")
int for_each(struct pt_regs *ctx)
{
	__u64 n = 0;
	bpf_for_each_map_elem(&table, count_elem, &n, 0);
	return n & 0xff;
}

SEC("uprobe")
int tail_call(struct pt_regs *ctx)
{
	bpf_tail_call(ctx, &jumps, PT_REGS_PARM1(ctx) & 3);
	return 0;
}

SEC("uprobe")
int queue_ops(struct pt_regs *ctx)
{
	__u64 v = PT_REGS_PARM1(ctx), out;
	bpf_map_push_elem(&queue, &v, 0);
	if (bpf_map_pop_elem(&queue, &out))
		return 0;
	return out & 0xff;
}

struct sys_enter_args { __u16 type; __u8 flags; __u8 preempt; __s32 pid; __s64 id; __u64 args[6]; };
struct sys_exit_args { __u64 common; __s64 id; __s64 ret; };

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct sys_enter_args *ctx)
{
	char path[32];
	bpf_probe_read_user_str(path, sizeof(path), (void *)ctx->args[1]);
	return ctx->id == 257 && path[0] == '/';
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct sys_exit_args *ctx)
{
	return ctx->ret < 0;
}

SEC("syscall")
int raw_memory(void *ctx)
{
	__u32 *words = ctx;
	__u32 sum = 0;
	for (int i = 0; i < 16; i++)
		sum += words[i];
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
