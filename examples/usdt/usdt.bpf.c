// USDT probes with libbpf's <bpf/usdt.bpf.h>: each probe of examples/usdt/victim.c sends
// one struct event with its arguments, read by bpf_usdt_arg (registers of several
// widths, the stack, constants), through a ring buffer. demo:costly is guarded by a
// semaphore: attaching turns it on in the victim.
#include <linux/bpf.h>
#include <stdbool.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct event {
    __u32 probe;   /* 1 step, 2 mem, 3 costly */
    __s32 argc;    /* bpf_usdt_arg_cnt */
    __s64 args[4]; /* bpf_usdt_arg 0..3 (0 past argc) */
    __u64 cookie;  /* bpf_usdt_cookie */
    char name[16]; /* demo:step's string argument */
};

/* puts struct event into BTF, where `run` finds the record type */
const struct event *unused_event __attribute__((unused));

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 16);
} events SEC(".maps");

static __always_inline struct event *record(struct pt_regs *ctx, __u32 probe)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    long v;

    if (!e)
        return 0;
    e->probe = probe;
    e->argc = bpf_usdt_arg_cnt(ctx);
    for (int i = 0; i < 4; i++) {
        bpf_usdt_arg(ctx, i, &v);
        e->args[i] = v;
    }
    e->cookie = bpf_usdt_cookie(ctx);
    e->name[0] = 0;
    return e;
}

SEC("usdt/usdt_victim:demo:step")
int BPF_USDT(on_step, int i, unsigned char small, long big, const char *name)
{
    struct event *e = record(ctx, 1);

    if (!e)
        return 0;
    bpf_probe_read_user_str(e->name, sizeof(e->name), name);
    bpf_printk("step %d %u %s", i, small, e->name);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("usdt/usdt_victim:demo:mem")
int on_mem(struct pt_regs *ctx)
{
    struct event *e = record(ctx, 2);

    if (e)
        bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("usdt/usdt_victim:demo:costly")
int BPF_USDT(on_costly, long v)
{
    struct event *e = record(ctx, 3);

    if (!e)
        return 0;
    bpf_printk("costly %ld", v);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
