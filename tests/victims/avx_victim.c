/* __m256d arguments across a probed call whose program makes the agent call libc's
 * memchr (tests/test_uprobe_avx.py): AVX2 string routines end with vzeroupper, which
 * clears the upper halves of ymm0-15 unless the trampoline saved them. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) double lanes(__m256d a, __m256d b, const char *tag)
{
    double x[4], y[4];
    _mm256_storeu_pd(x, a);
    _mm256_storeu_pd(y, b);
    return x[0] + 2 * x[1] + 3 * x[2] + 4 * x[3] + 5 * y[0] + 6 * y[1] + 7 * y[2] + 8 * y[3]
           + (double)strlen(tag);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    double total = 0;
    for (int i = 0; i < n; i++) {
        __m256d a = _mm256_set_pd(i + 4.0, i + 3.0, i + 2.0, i + 1.0);
        __m256d b = _mm256_set_pd(0.5 * i, 0.25 * i, 8.0, 9.0);
        total += lanes(a, b, "avx-tag");
    }
    printf("total %.3f\n", total);
    return 0;
}
