// opensnoop's victim: opens files in DIR with known flags, from the main thread and
// from a second thread, and one missing file; prints what each open returned.
//   usage: opensnoop_victim DIR N
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *dir;

static void do_open(const char *name, int flags)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, flags, 0600);
    long ret = fd < 0 ? -errno : fd;
    printf("open %s flags=%d ret=%ld tid=%d\n", path, flags, ret, gettid());
    fflush(stdout);
    if (fd >= 0)
        close(fd);
}

static void *thread_main(void *arg)
{
    (void)arg;
    do_open("from-thread", O_WRONLY | O_CREAT | O_APPEND);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR N\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    int n = atoi(argv[2]);
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "file-%d", i);
        do_open(name, O_WRONLY | O_CREAT | O_TRUNC);
    }
    do_open("file-0", O_RDONLY);
    do_open("missing/nothing-here", O_RDONLY);  /* -ENOENT */
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    return 0;
}
