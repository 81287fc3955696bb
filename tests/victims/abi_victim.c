/* Victim for tests/test_uprobe_abi.py: functions whose calling convention a hook
 * could break. Prints one line per check; the test runs it with and without probes
 * and the lines must be identical (the probes change nothing), while the probes'
 * counts are checked against the numbers written in the test.
 * Usage: abi_victim N [loop] (N iterations of each check; threads run N calls each;
 * with loop, then call work() every millisecond until killed). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
/* frida's replaceFast rewrites 16 bytes: each probed function starts with this 8-byte
 * add so that even the shortest has them */
static volatile long touched;
#ifndef TOUCH
#define TOUCH() (touched++)
#endif

/* 8 integer + 10 floating-point arguments: i7, i8, f9, f10 go on the stack */
NOINLINE double mix(long i1, double f1, long i2, double f2, long i3, double f3, long i4,
                    double f4, long i5, double f5, long i6, double f6, long i7, double f7,
                    long i8, double f8, double f9, double f10)
{
    TOUCH();
    return (double)(i1 + 2 * i2 + 3 * i3 + 4 * i4 + 5 * i5 + 6 * i6 + 7 * i7 + 8 * i8) + f1 +
           f2 * 2 + f3 * 3 + f4 * 4 + f5 * 5 + f6 * 6 + f7 * 7 + f8 * 8 + f9 * 9 + f10 * 10;
}

static volatile long fib_calls, fib_ret_sum;

NOINLINE long fib(long n)
{
    TOUCH();
    fib_calls++;
    long r = n < 2 ? n : fib(n - 1) + fib(n - 2);
    fib_ret_sum += r;
    return r;
}

struct pair { long a, b; };

NOINLINE struct pair mkpair(long x)
{
    TOUCH();
    struct pair p = {x, -x};
    return p;
}

struct big { long v[6]; };

NOINLINE struct big mkbig(long x) /* returned through a hidden pointer in rdi */
{
    TOUCH();
    struct big b = {{x, x + 1, x + 2, x + 3, x + 4, x + 5}};
    return b;
}

NOINLINE double vsum(int n, ...) /* varargs: al carries the number of vector registers */
{
    TOUCH();
    va_list ap;
    double s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s += va_arg(ap, double);
    va_end(ap);
    return s;
}

NOINLINE long tiny(long x) /* 5 bytes: too short to hook */
{
    return x + 1;
}

/* long redzone(long x): 2 * x, kept in the red zone across the probe at redzone+5 (a
 * leaf function's data below rsp: a hook there must not write to it) */
long redzone(long x);
__asm__(".text\n.globl redzone\n.type redzone, @function\n.p2align 4\n"
        "redzone:\n"
        "  mov %rdi, -8(%rsp)\n"       /* 5 bytes; the probe goes after it */
        "  mov %rdi, -16(%rsp)\n"
        "  nopl 0(%rax,%rax,1)\n"
        "  mov -8(%rsp), %rax\n"
        "  add -16(%rsp), %rax\n"
        "  ret\n"
        ".size redzone, .-redzone\n");

static jmp_buf jb;

NOINLINE long jumper(long x) /* leaves through longjmp, never returns */
{
    TOUCH();
    if (x >= 0)
        longjmp(jb, 1);
    return x;
}

NOINLINE long work(long x)
{
    TOUCH();
    return x * 2 + 1;
}

static long n_iter;

static void *thread_main(void *arg)
{
    long s = 0, base = (long)arg;
    for (long i = 0; i < n_iter; i++)
        s += work(base + i);
    return (void *)s;
}

int main(int argc, char **argv)
{
    n_iter = argc > 1 ? atol(argv[1]) : 100;
    double m = 0;
    for (long i = 0; i < n_iter; i++)
        m += mix(i, 0.5, 2, 1.25, 3, 2.5, 4, 3.75, 5, 4.5, 6, 5.25, 7 + i, 6.5, 8, 7.75, 8.5, 9.25);
    printf("mix %.6f\n", m);
    long f = 0;
    for (long i = 0; i < n_iter; i++)
        f += fib(10);
    printf("fib %ld\n", f);
    long ps = 0;
    for (long i = 0; i < n_iter; i++) {
        struct pair p = mkpair(i);
        struct big b = mkbig(i);
        ps += p.a * 3 + p.b * 5 + b.v[0] + b.v[5];
    }
    printf("pairs %ld\n", ps);
    double v = 0;
    for (long i = 0; i < n_iter; i++)
        v += vsum(3, 1.5, 2.5, (double)i);
    printf("vsum %.3f\n", v);
    long rz = 0;
    for (long i = 0; i < n_iter; i++)
        rz += redzone(i);
    printf("redzone %ld\n", rz);
    long jumps = 0;
    for (long i = 0; i < n_iter; i++)
        if (setjmp(jb) == 0)
            jumper(i);
        else
            jumps++;
    printf("jumps %ld then fib %ld\n", jumps, fib(12));
    pthread_t th[4];
    long total = 0;
    for (long t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, thread_main, (void *)(t * 1000000));
    for (int t = 0; t < 4; t++) {
        void *r;
        pthread_join(th[t], &r);
        total += (long)r;
    }
    printf("threads %ld tiny %ld\n", total, tiny(41));
    printf("fib_calls %ld fib_ret_sum %ld\n", fib_calls, fib_ret_sum);
    if (argc > 2) { /* "loop": keep calling work() until killed (for attach tests) */
        fflush(stdout);
        for (long i = 0;; i++) {
            work(i);
            usleep(1000);
        }
    }
    return 3;
}
