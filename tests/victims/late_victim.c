/* Loads LIB with dlopen 300 ms after it starts, waits 500 ms more (the tracer looks for
 * new libraries every 50 ms), then calls late_fn and late_getppid N times each.
 *   usage: late_victim LIB N */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    usleep(300000);
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    long (*fn)(long) = (long (*)(long))dlsym(h, "late_fn");
    long (*pp)(void) = (long (*)(void))dlsym(h, "late_getppid");
    usleep(500000);
    long sum = 0, ok = 0;
    for (long i = 0; i < n; i++) {
        sum += fn(i);
        ok += pp() > 0;
    }
    printf("late_fn sum %ld getppid %ld\n", sum, ok);
    return 0;
}
