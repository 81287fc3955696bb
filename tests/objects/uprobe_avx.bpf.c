/* A uprobe on tests/victims/avx_victim.c's lanes(): bpf_probe_read_user_str makes the
 * agent call memchr, an AVX2 routine when glibc picks one (tests/test_uprobe_avx.py). */
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} avx_hits SEC(".maps");

SEC("uprobe/avx_victim:lanes")
int on_lanes(struct pt_regs *ctx)
{
    char tag[16];
    __u32 k = 0;
    bpf_probe_read_user_str(tag, sizeof(tag), (void *)PT_REGS_PARM1(ctx));
    __u64 *v = bpf_map_lookup_elem(&avx_hits, &k);
    if (v && tag[0] == 'a')
        __sync_fetch_and_add(v, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
