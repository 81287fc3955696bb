// syscount's victim: N getppid() through libc, N more through a `syscall`
// instruction in this executable, from the main thread and from a thread; and M
// openat() of a missing file.   usage: syscount_victim N M
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int n;

static long inline_getppid(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
    return ret;
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < n; i++)
        inline_getppid();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s N M\n", argv[0]);
        return 2;
    }
    n = atoi(argv[1]);
    int m = atoi(argv[2]);
    for (int i = 0; i < n; i++)
        getppid();
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < m; i++)
        openat(AT_FDCWD, "/nonexistent/bpftime-syscount", O_RDONLY);
    printf("getppid %d openat %d\n", 2 * n, m);
    return 0;
}
