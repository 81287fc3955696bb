/* Victim for examples/funclatency (build it as funclatency_victim: the probes name
 * that binary). slow(us) sleeps us microseconds; main calls it FAST times with 1100 us
 * and SLOW times with 20000 us, so the histogram holds FAST values in 1024 -> 2047
 * and SLOW in 16384 -> 32767 (sleeps overshoot by far less than the 900 us and 12 ms
 * those slots leave). Usage: funclatency_victim [FAST] [SLOW] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile long calls;

__attribute__((noinline)) long slow(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    calls++;
    nanosleep(&ts, NULL);
    return us;
}

int main(int argc, char **argv)
{
    int fast = argc > 1 ? atoi(argv[1]) : 20, slower = argc > 2 ? atoi(argv[2]) : 10;
    long total = 0;
    for (int i = 0; i < fast; i++)
        total += slow(1100);
    for (int i = 0; i < slower; i++)
        total += slow(20000);
    printf("slow() called %ld times, %ld us asked\n", calls, total);
    return 0;
}
