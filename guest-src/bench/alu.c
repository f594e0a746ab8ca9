/*
 * Integer arithmetic: COUNT iterations of a dependent chain (a 64-bit LCG step folded into a
 * running hash), six instructions per iteration including the loop branch.
 */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

/* Instructions per iteration of the loop below; `cargo xtask bench` reads it from the output. */
#define INSNS_PER_ITERATION 6

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t x = 0x9e3779b97f4a7c15u, sum = 0, left = n;
    const uint64_t mul = 6364136223846793005u, inc = 1442695040888963407u;

    __asm__ volatile("1:\n\t"
                     "madd  %[x], %[x], %[mul], %[inc]\n\t" /* x = x * mul + inc */
                     "eor   %[x], %[x], %[x], lsr #17\n\t"
                     "add   %[sum], %[sum], %[x]\n\t"
                     "eor   %[sum], %[sum], %[sum], lsl #5\n\t"
                     "subs  %[left], %[left], #1\n\t"
                     "b.ne  1b"
                     : [x] "+r"(x), [sum] "+r"(sum), [left] "+r"(left)
                     : [mul] "r"(mul), [inc] "r"(inc)
                     : "cc");
    printf("alu: %lu iterations x %d insns, result %016llx\n", n, INSNS_PER_ITERATION,
           (unsigned long long)(sum ^ x));
    return 0;
}
