/* Victim for examples/usdt: USDT probes (examples/usdt/usdt_probe.h) whose arguments
 * the compiler passes in registers of several widths, in memory and as constants, and
 * one probe guarded by a semaphore. For i in 0..N-1 it calls step(i), which fires
 *
 *   demo:step     (int i, unsigned char i*3, long -i*1000000007, const char *name)
 *   demo:mem      (long from the stack, int 42, short -7)
 *   demo:costly   (long expensive(i)), only while a tracer holds its semaphore
 *
 * and prints what it passed, one line per probe, for the test to compare with, then
 * sleeps DELAY_MS milliseconds. Usage: victim [N] [DELAY_MS] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "usdt_probe.h"

USDT_SEMAPHORE(demo, costly);

static const char *names[] = {"zero", "one", "two", "three"};

static __attribute__((noinline)) long expensive(int i)
{
    long v = 1;
    for (int k = 0; k < i; k++)
        v = v * 3 + k;
    return v;
}

static __attribute__((noinline)) void step(int i)
{
    const char *name = names[i % 4];
    unsigned char small = (unsigned char)(i * 3);
    long big = -(long)i * 1000000007L;
    volatile long slot = (long)i << 40 | 0x5a;

    USDT_PROBE(demo, step, i, small, big, name);
    printf("step %d %u %ld %s\n", i, small, big, name);
    USDT_PROBE(demo, mem, slot, 42, (short)-7);
    printf("mem %ld 42 -7\n", slot);
    if (USDT_ENABLED(demo, costly)) {
        long v = expensive(i);
        USDT_PROBE_SEM(demo, costly, v);
        printf("costly %ld\n", v);
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    int delay_ms = argc > 2 ? atoi(argv[2]) : 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n; i++) {
        step(i);
        if (delay_ms)
            usleep(delay_ms * 1000);
    }
    return 0;
}
