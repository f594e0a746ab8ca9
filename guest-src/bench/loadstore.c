/*
 * Memory access: COUNT iterations over a 64 KiB buffer, each loading two words and storing two
 * words back (eleven instructions per iteration including the loop branch), then a checksum of
 * the buffer so every store counts.
 */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

/* Instructions per iteration of the loop below; `cargo xtask bench` reads it from the output. */
#define INSNS_PER_ITERATION 11
#define BUFFER_WORDS 8192 /* 64 KiB: a power of two, the offset wraps with a mask */

static uint64_t buffer[BUFFER_WORDS];

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t left = n, offset = 0, p, a, b, sum = 0;
    const uint64_t mask = sizeof(buffer) - 1;

    for (unsigned i = 0; i < BUFFER_WORDS; i++)
        buffer[i] = i;
    __asm__ volatile("1:\n\t"
                     "add   %[p], %[base], %[off]\n\t"
                     "ldr   %[a], [%[p]]\n\t"
                     "ldr   %[b], [%[p], #8]\n\t"
                     "add   %[a], %[a], %[left]\n\t"
                     "eor   %[b], %[b], %[a]\n\t"
                     "str   %[a], [%[p], #8]\n\t"
                     "str   %[b], [%[p]]\n\t"
                     "add   %[off], %[off], #16\n\t"
                     "and   %[off], %[off], %[mask]\n\t"
                     "subs  %[left], %[left], #1\n\t"
                     "b.ne  1b"
                     : [left] "+r"(left), [off] "+r"(offset), [p] "=&r"(p), [a] "=&r"(a),
                       [b] "=&r"(b)
                     : [base] "r"(buffer), [mask] "r"(mask)
                     : "cc", "memory");
    for (unsigned i = 0; i < BUFFER_WORDS; i++)
        sum = sum * 31 + buffer[i];
    printf("loadstore: %lu iterations x %d insns, result %016llx\n", n, INSNS_PER_ITERATION,
           (unsigned long long)sum);
    return 0;
}
