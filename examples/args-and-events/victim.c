/* Victim for examples/args-and-events (build it as args_victim: the probe names that
 * binary). Calls open_file(path, flags) for N paths "/tmp/file-<i>" with flags i * 10,
 * then prints how many. Usage: args_victim [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile long opened;

__attribute__((noinline)) long open_file(const char *path, long flags)
{
    opened++;
    return (long)strlen(path) + flags;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    char path[64];
    long sum = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/tmp/file-%d", i);
        sum += open_file(path, i * 10L);
    }
    printf("opened %ld files (%ld)\n", opened, sum);
    return 0;
}
