// Global data (.data, .bss, .rodata with const volatile knobs, a custom .data.*
// section, string literals), static __noinline subprograms, a bpf_loop callback
// and bpf_printk. compute() uses only subprograms, globals and arithmetic, so a
// test can run it on the engines.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct config {
	int scale;
	unsigned char mode;
	char name[8];
};

int counter = 5;
long long history[4] = {1, 2, 3, 4};
unsigned int hits;
const volatile int knob = 3;
const volatile struct config cfg = {.scale = 2, .mode = 1, .name = "abc"};
int custom SEC(".data.custom") = 42;
static int calls = 100;

static __noinline int scale(int x)
{
	calls += 1;
	return x * cfg.scale + knob;
}

static __noinline int twice_scaled(int x)
{
	return scale(x) + scale(x + 1);
}

SEC("syscall")
int compute(void *ctx)
{
	int r;

	counter += 1;
	r = twice_scaled(counter);
	hits = r + history[2];
	history[3] = r;
	custom += calls;
	return r + cfg.mode;
}

struct loop_ctx {
	int sum;
};

static int add_index(__u32 index, void *data)
{
	struct loop_ctx *c = data;

	c->sum += index;
	return 0;
}

SEC("syscall")
int looper(void *ctx)
{
	struct loop_ctx c = {0};

	bpf_loop(10, add_index, &c, 0);
	return c.sum + scale(1);
}

SEC("tp/syscalls/sys_enter_write")
int printer(void *ctx)
{
	bpf_printk("hits=%u counter=%d", hits, counter);
	bpf_trace_printk("literal\n", sizeof("literal\n"));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
