/* Victim for the syscalls section of bench/run.py: a cheap system call in a loop.
 *
 * Usage: syscall_victim N REPS. For each rep, N calls of syscall(SYS_getppid) (libc's
 * syscall() wrapper: one `syscall` instruction in libc), then "ns_per_call X".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    syscall(SYS_getppid);
    printf("first_ns %.0f\n", now_ns());
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        printf("ns_per_call %.3f\n", (now_ns() - t0) / n);
    }
    return 0;
}
