// Arguments and events: a uprobe reads open_file()'s string and integer arguments and
// sends one struct event per call through a ring buffer, and the same struct through a
// perf buffer (bpf_perf_event_output); `run` prints each record, decoded with BTF (the
// record type is the object's struct event), and at exit how many were lost because
// a ring was full.
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
    __u32 pid;
    __u32 tid;
    __s64 flags;
    char path[48];
};

/* puts struct event into BTF, where `run` finds the record type */
const struct event *unused_event __attribute__((unused));

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 16);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

SEC("uprobe/args_victim:open_file")
int BPF_KPROBE(on_open, const char *path, long flags)
{
    struct event e = {};
    __u64 id = bpf_get_current_pid_tgid();

    e.pid = id >> 32;
    e.tid = (__u32)id;
    e.flags = flags;
    bpf_probe_read_user_str(e.path, sizeof(e.path), path);
    bpf_printk("open_file %s", e.path);
    /* both fail (and count the record lost) when their ring is full */
    bpf_ringbuf_output(&events, &e, sizeof(e), 0);
    bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
