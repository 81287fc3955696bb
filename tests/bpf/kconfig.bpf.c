// __kconfig externs of every kind libbpf fills: a bool, a tristate, a char, integers
// of two sizes, a string, a runtime fact (LINUX_HAS_BPF_COOKIE) and a weak extern
// nobody sets. The program copies them into .bss, where tests read them.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern bool CONFIG_BPFTIME_BOOL __kconfig;
extern enum libbpf_tristate CONFIG_BPFTIME_TRI __kconfig;
extern char CONFIG_BPFTIME_CHAR __kconfig;
extern int CONFIG_BPFTIME_INT __kconfig;
extern unsigned long long CONFIG_BPFTIME_HEX __kconfig;
extern char CONFIG_BPFTIME_STR[8] __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern int CONFIG_BPFTIME_UNSET __kconfig __weak;

struct {
    long b, tri, ch, i, hex, cookie, unset;
    char str[8];
} out;

SEC("uprobe")
int read_kconfig(void *ctx)
{
    out.b = CONFIG_BPFTIME_BOOL;
    out.tri = CONFIG_BPFTIME_TRI;
    out.ch = CONFIG_BPFTIME_CHAR;
    out.i = CONFIG_BPFTIME_INT;
    out.hex = CONFIG_BPFTIME_HEX;
    out.cookie = LINUX_HAS_BPF_COOKIE;
    out.unset = CONFIG_BPFTIME_UNSET;
    __builtin_memcpy(out.str, CONFIG_BPFTIME_STR, 8);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
