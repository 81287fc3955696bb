/* Syscall tracepoints must change nothing a process computes (tests/test_syscall_abi.py).
 *
 * Exercises the cases the rewritten `syscall` sites handle specially or could get wrong:
 * errno, a blocking read interrupted by a signal (EINTR without SA_RESTART, restarted
 * with it), syscalls inside a signal handler (and its rt_sigreturn), threads (clone3
 * with a new stack), fork, vfork, posix_spawn (clone3 with CLONE_VM|CLONE_VFORK and a
 * stack of its own), execve, an inline `syscall` in this executable with xmm registers
 * live across it. Prints what it saw; the output must be the same traced or not.
 * Prints the number of getppid calls it made itself, for the test to compare.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static long ppid_calls;
static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
    (void)sig;
    handled++;
    char msg[] = "";
    write(STDOUT_FILENO, msg, 0);  /* a syscall inside the handler */
    syscall(SYS_getppid);
}

static void *worker(void *arg)
{
    long n = (long)arg, sum = 0;
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid) > 0;
    return (void *)sum;
}

static void *late_writer(void *arg)
{
    usleep(100000);
    write(*(int *)arg, "x", 1);
    return NULL;
}

static int read_with_alarm(int restart)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    pthread_t t;
    pthread_create(&t, NULL, late_writer, &fds[1]);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    char c = 0;
    errno = 0;
    ssize_t r = read(fds[0], &c, 1);
    int err = errno;
    pthread_join(t, NULL);
    printf("read restart=%d: r=%zd errno=%s c=%c\n", restart, r, strerror(err), r == 1 ? c : '-');
    close(fds[0]);
    close(fds[1]);
    return 0;
}

/* xmm registers live across a syscall: the kernel keeps them, so must the hook */
static int inline_syscall_keeps_xmm(void)
{
    double in[2] = {1.5, -2.25}, out[2];
    long ret;
    __asm__ volatile(
        "movupd (%[in]), %%xmm7\n\t"
        "movupd (%[in]), %%xmm15\n\t"
        "mov $110, %%eax\n\t"            /* getppid */
        "syscall\n\t"
        "movupd %%xmm7, (%[out])\n\t"
        "subpd %%xmm15, %%xmm7\n\t"
        : "=a"(ret)
        : [in] "r"(in), [out] "r"(out)
        : "rcx", "r11", "memory", "xmm7", "xmm15");
    ppid_calls++;
    return ret > 0 && out[0] == in[0] && out[1] == in[1];
}

/* ymm registers live across a syscall (AVX CPUs): whole, as the kernel keeps them */
static int inline_syscall_keeps_ymm(void)
{
    if (!__builtin_cpu_supports("avx"))
        return -1;
    double in[4] = {1.5, -2.25, 3.0, 4.5}, out[4];
    long ret;
    __asm__ volatile(
        "vmovupd (%[in]), %%ymm7\n\t"
        "mov $39, %%eax\n\t"           /* getpid */
        "syscall\n\t"
        "vmovupd %%ymm7, (%[out])\n\t"
        "vzeroupper\n\t"
        : "=a"(ret)
        : [in] "r"(in), [out] "r"(out)
        : "rcx", "r11", "memory", "xmm7");
    return ret > 0 && memcmp(in, out, sizeof(in)) == 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    if (argc > 2 && strcmp(argv[2], "child") == 0) {
        printf("exec'd child ppid>0=%d\n", getppid() > 0);
        return 5;
    }
    if (argc > 2 && strcmp(argv[2], "page0") == 0) {  /* page 0 taken: hooks cannot go in */
        if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != NULL)
            return 1;
        for (;;)
            pause();
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    for (long i = 0; i < n; i++)
        ppid_calls += syscall(SYS_getppid) > 0;
    errno = 0;
    long r = syscall(SYS_close, -1);
    printf("close(-1): %ld %s\n", r, strerror(errno));
    printf("inline syscall keeps xmm: %d\n", inline_syscall_keeps_xmm());
    printf("inline syscall keeps ymm: %d\n", inline_syscall_keeps_ymm());
    errno = 0;
    r = syscall(1000);  /* no such syscall: ENOSYS, traced or not */
    printf("syscall(1000): %ld %s\n", r, strerror(errno));

    read_with_alarm(0);
    read_with_alarm(1);
    printf("handlers ran: %d\n", (int)handled);
    ppid_calls += handled;

    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)n);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void *v;
        pthread_join(t[i], &v);
        sum += (long)v;
    }
    ppid_calls += sum;
    printf("threads: %ld\n", sum);

    int st;
    pid_t c = fork();
    if (c == 0)
        _exit(syscall(SYS_getppid) > 0 ? 3 : 1);
    waitpid(c, &st, 0);
    ppid_calls++;
    printf("fork child: %d\n", WEXITSTATUS(st));

    pid_t v = vfork();
    if (v == 0)
        _exit(4);
    waitpid(v, &st, 0);
    printf("vfork child: %d\n", WEXITSTATUS(st));

    char *args[] = {argv[0], "1", "child", NULL};
    pid_t s;
    int rc = posix_spawn(&s, argv[0], NULL, NULL, args, environ);
    waitpid(s, &st, 0);
    printf("posix_spawn: %d %d\n", rc, WEXITSTATUS(st));

    c = fork();
    if (c == 0) {
        execve(argv[0], args, environ);
        _exit(127);
    }
    waitpid(c, &st, 0);
    printf("execve child: %d\n", WEXITSTATUS(st));
    printf("getppid calls: %ld\n", ppid_calls);
    return 9;
}
