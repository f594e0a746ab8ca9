/*
 * Scalar floating point: COUNT iterations of a dependent chain of double-precision multiply-add,
 * add, multiply, subtract and divide (seven instructions with the loop's count and branch).
 */
#include <stdio.h>

#include "bench.h"

#define INSNS_PER_ITERATION 7

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    unsigned long left = n;
    double x = 1.0, sum = 0.0, t, u;
    const double half = 0.5, step = 0.25, three = 3.0;

    __asm__ volatile("1:\n\t"
                     "fmadd %d[x], %d[x], %d[half], %d[step]\n\t"
                     "fadd  %d[sum], %d[sum], %d[x]\n\t"
                     "fmul  %d[t], %d[sum], %d[half]\n\t"
                     "fsub  %d[u], %d[t], %d[step]\n\t"
                     "fdiv  %d[u], %d[u], %d[three]\n\t"
                     "subs  %[left], %[left], #1\n\t"
                     "b.ne  1b"
                     : [left] "+r"(left), [x] "+w"(x), [sum] "+w"(sum), [t] "=&w"(t), [u] "=&w"(u)
                     : [half] "w"(half), [step] "w"(step), [three] "w"(three)
                     : "cc");
    printf("fp: %lu iterations x %d insns, sum %.17g, last %.17g\n", n, INSNS_PER_ITERATION, sum,
           u);
    return 0;
}
