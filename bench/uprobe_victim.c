/* Victim for the uprobes section of bench/run.py.
 *
 * target and target_nop5 are written in assembly so their first instructions are
 * fixed whatever the compiler: target starts with push %rbp (the kernel emulates it:
 * its usual uprobe case), target_nop5 with a 5-byte nop (Linux 6.18 turns that into a
 * call to its uprobe trampoline: the kernel's best case). Both are 16+ bytes, as
 * frida's replaceFast needs.
 *
 * Usage: uprobe_victim FN N REPS. Prints "first_ns T" (CLOCK_MONOTONIC right after the
 * first call, for the time from `run` to the first probe hit), then for each rep
 * "ns_per_call X" over N calls of FN (target or target_nop5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile long sink;
long target(long x);
long target_nop5(long x);

__asm__(".text\n"
        ".globl target\n.type target, @function\n.p2align 4\n"
        "target:\n"
        "  push %rbp\n  mov %rsp, %rbp\n  lea 1(%rdi,%rdi,1), %rax\n"
        "  addq %rdi, sink(%rip)\n  pop %rbp\n  ret\n"
        ".size target, .-target\n"
        ".globl target_nop5\n.type target_nop5, @function\n.p2align 4\n"
        "target_nop5:\n"
        "  nopl 0(%rax,%rax,1)\n  push %rbp\n  mov %rsp, %rbp\n  lea 1(%rdi,%rdi,1), %rax\n"
        "  addq %rdi, sink(%rip)\n  pop %rbp\n  ret\n"
        ".size target_nop5, .-target_nop5\n");

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long (*volatile fn)(long) = argc > 1 && strcmp(argv[1], "target_nop5") == 0 ? target_nop5
                                                                                 : target;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    long (*f)(long) = fn;
    f(0);
    printf("first_ns %.0f\n", now_ns());
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            f(i);
        printf("ns_per_call %.3f\n", (now_ns() - t0) / n);
    }
    return 0;
}
