/* Victim for examples/malloc: THREADS threads each call malloc exactly CALLS times
 * through a volatile function pointer (so the compiler cannot drop or merge them),
 * after a start barrier, then print their thread ids. Usage: victim [THREADS] [CALLS] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *(*volatile do_malloc)(size_t) = malloc;
static void (*volatile do_free)(void *) = free;
static long calls = 1000;
static pthread_barrier_t start;

static void *worker(void *arg)
{
    long *tid = arg;
    *tid = gettid();
    pthread_barrier_wait(&start);
    for (long i = 0; i < calls; i++)
        do_free(do_malloc(16 + (size_t)i % 64));
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    calls = argc > 2 ? atol(argv[2]) : 1000;
    pthread_t th[64];
    long tids[64];
    if (threads < 1 || threads > 64)
        return 2;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, &tids[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < threads; i++)
        printf("tid %ld malloc %ld\n", tids[i], calls);
    return 0;
}
