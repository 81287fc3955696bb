/* A library tests/victims/late_victim.c loads with dlopen after it started: probes on
 * it are attached once it is loaded (tests/test_uprobe_late.py). */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

volatile long late_sink;

__attribute__((noinline)) long late_fn(long x)
{
    long r = x * 3 + 1;
    for (int i = 0; i < 4; i++)
        late_sink += r ^ i;
    return r;
}

/* an inline syscall in the library: seen only if its sites are rewritten after dlopen */
long late_getppid(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
    return ret;
}
