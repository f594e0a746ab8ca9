/*
 * System call round trip: COUNT raw `svc #0` getppid calls (no libc wrapper, no caching), and
 * how many of them agreed with the first. Loop body: mov x8 / svc / compare / count / branch.
 */
#include <stdio.h>

#include "bench.h"

#define NR_GETPPID 173 /* asm-generic */

static inline long raw_getppid(void)
{
    register long x8 __asm__("x8") = NR_GETPPID;
    register long x0 __asm__("x0");
    __asm__ volatile("svc #0" : "=r"(x0) : "r"(x8) : "memory");
    return x0;
}

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    long first = raw_getppid();
    unsigned long same = 1;

    for (unsigned long i = 1; i < n; i++)
        same += raw_getppid() == first;
    printf("getppid: %lu calls, %lu agree\n", n, same);
    return same == n ? 0 : 1;
}
