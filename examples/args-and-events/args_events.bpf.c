// Arguments and events: a uprobe reads open_file()'s string and integer arguments and
// sends one struct event per call through a ring buffer; `run` prints each record,
// decoded with BTF (the record type is the object's struct event).
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

SEC("uprobe/args_victim:open_file")
int BPF_KPROBE(on_open, const char *path, long flags)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    e->pid = id >> 32;
    e->tid = (__u32)id;
    e->flags = flags;
    bpf_probe_read_user_str(e->path, sizeof(e->path), path);
    /* before the submit: once submitted, the record belongs to the reader (the
     * verifier refuses any use of e after it) */
    bpf_printk("open_file %s", e->path);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
