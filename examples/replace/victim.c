/* Victim for examples/replace (build it as replace_victim: the program names that
 * binary). Prints price_with_tax(p) for N prices p = 100, 200, ... and how many times
 * the function really ran, then exits with STATUS (default 0).
 * Usage: replace_victim [N [STATUS]] */
#include <stdio.h>
#include <stdlib.h>

static volatile long ran;

__attribute__((noinline)) long price_with_tax(long cents)
{
    ran++;
    return cents + cents / 5 + (cents % 5 ? 1 : 0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int status = argc > 2 ? atoi(argv[2]) : 0;
    for (int i = 1; i <= n; i++)
        printf("price_with_tax(%d): %ld\n", i * 100, price_with_tax(i * 100L));
    printf("price_with_tax ran %ld times\n", ran);
    fflush(stdout);
    return status;
}
