/*
 * Reading the clock as programs do: COUNT calls of the C library's clock_gettime(CLOCK_MONOTONIC),
 * which goes through the vDSO when the runtime provides one and makes the system call otherwise,
 * and whether the clock ever went backwards.
 */
#include <stdio.h>
#include <time.h>

#include "bench.h"

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    struct timespec prev = {0, 0}, now;
    unsigned long forward = 0;

    for (unsigned long i = 0; i < n; i++) {
        if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
            return 1;
        forward += now.tv_sec > prev.tv_sec || (now.tv_sec == prev.tv_sec && now.tv_nsec >= prev.tv_nsec);
        prev = now;
    }
    printf("clock_gettime: %lu calls, %lu never backwards\n", n, forward);
    return forward == n ? 0 : 1;
}
