// The mixed example's victim: do_work(k) writes k times (to /dev/null, 10 bytes each);
// main also writes outside it.   usage: mixed_victim ROUNDS
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int devnull;

__attribute__((noinline)) int do_work(int k)
{
    int done = 0;
    for (int i = 0; i < k; i++)
        done += write(devnull, "0123456789", 10) == 10;
    return done;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3, total = 0;
    devnull = open("/dev/null", O_WRONLY);
    for (int r = 1; r <= rounds; r++) {
        total += do_work(r);
        write(devnull, "x", 1);  /* outside do_work */
    }
    printf("writes in do_work %d\n", total);
    return 0;
}
