/* Victim for examples/error-inject (build it as errinj_victim: the probe names that
 * binary). Calls open_config() N times and prints what each call returned, how many
 * failed and how many times the function really ran. Usage: errinj_victim [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile long ran;

__attribute__((noinline)) long open_config(const char *path)
{
    ran++;
    return 100 + (long)strlen(path);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 9, failed = 0;
    for (int i = 1; i <= n; i++) {
        long rc = open_config("/etc/app.conf");
        printf("call %d: %ld\n", i, rc);
        failed += rc < 0;
    }
    printf("failed %d of %d, open_config ran %ld times\n", failed, n, ran);
    return failed ? 1 : 0;
}
