/*
 * bench.h — shared by the benchmark guests (`cargo xtask bench`).
 *
 * Each benchmark takes its work size from argv[1], does the work in a loop the compiler cannot
 * remove (the loop bodies are inline asm, so their instruction counts are exact), and prints one
 * result line that depends on every iteration. Both runtimes must print the same line.
 */
#ifndef ELFVISOR_BENCH_H
#define ELFVISOR_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* argv[1] as a positive count, or exit 2 with a usage line. */
static unsigned long bench_count(int argc, char **argv)
{
    char *end;
    unsigned long n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s COUNT\n", argc > 0 ? argv[0] : "bench");
        exit(2);
    }
    n = strtoul(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || n == 0) {
        fprintf(stderr, "%s: COUNT must be a positive integer, not \"%s\"\n", argv[0], argv[1]);
        exit(2);
    }
    return n;
}

/* Instructions per iteration of `loadstore_loop`; `cargo xtask bench` reads it from the output. */
#define LOADSTORE_INSNS_PER_ITERATION 11

/*
 * The memory-access loop of `loadstore` and `rwx`: `n` iterations over `bytes` (a power of two)
 * at `buffer`, each loading two words and storing two back, eleven instructions including the
 * loop branch. The buffer is filled first; returns a checksum of it afterwards, so every store
 * counts.
 */
__attribute__((unused)) static uint64_t loadstore_loop(uint64_t *buffer, uint64_t bytes, unsigned long n)
{
    uint64_t left = n, offset = 0, p, a, b, sum = 0;
    const uint64_t mask = bytes - 1;

    for (uint64_t i = 0; i < bytes / 8; i++)
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
    for (uint64_t i = 0; i < bytes / 8; i++)
        sum = sum * 31 + buffer[i];
    return sum;
}

#endif
