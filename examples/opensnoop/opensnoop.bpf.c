// opensnoop: one event per openat() -- pid, tid, comm, filename, flags and the return
// value -- through a ring buffer (libbpf-tools' opensnoop, reduced). The enter side
// saves the filename pointer and flags per thread; the exit side reads the string
// (the call has finished with it) and emits the event.
//
// No vmlinux.h: the tracepoint contexts are written out from tracefs's formats
// (events/syscalls/sys_enter_openat/format, events/syscalls/sys_exit_openat/format).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sys_enter_openat_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    int __syscall_nr;      /* offset 8, then 4 bytes of padding */
    __u64 dfd;             /* offset 16: arguments are 8-byte slots */
    const char *filename;  /* 24 */
    __u64 flags;           /* 32 */
    __u64 mode;            /* 40 */
};

struct sys_exit_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    int __syscall_nr;
    long ret;              /* offset 16 */
};

struct args_t {
    const char *fname;
    __s64 flags;
};

struct event {
    __u32 pid;
    __u32 tid;
    __s64 ret;
    __s64 flags;
    char comm[16];
    char fname[128];
};

/* puts struct event into BTF, where `run` finds the record type */
const struct event *unused_event __attribute__((unused));

/* 0: every process (inside a traced process, all syscalls are its own); the kernel
 * oracle sets it, since kernel tracepoint programs see every process */
const volatile __u32 targ_tgid = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);  /* thread id */
    __type(value, struct args_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 16);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct sys_enter_openat_ctx *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct args_t args = {.fname = ctx->filename, .flags = (__s64)ctx->flags};

    if (targ_tgid && (id >> 32) != targ_tgid)
        return 0;
    bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct sys_exit_ctx *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct args_t *ap = bpf_map_lookup_elem(&start, &tid);
    struct event *e;

    if (!ap)
        return 0;  /* missed the entry (attached in between) */
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->pid = id >> 32;
        e->tid = tid;
        e->ret = ctx->ret;
        e->flags = ap->flags;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_probe_read_user_str(e->fname, sizeof(e->fname), ap->fname);
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
