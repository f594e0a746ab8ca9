/*
 * Stores to a read-write-execute page (an executable stack, a JIT heap): the load/store loop of
 * `loadstore.c` on a 64 KiB buffer mapped PROT_READ|PROT_WRITE|PROT_EXEC that holds no code.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "bench.h"

#define INSNS_PER_ITERATION 11
#define BUFFER_BYTES 65536

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t left = n, offset = 0, p, a, b, sum = 0;
    const uint64_t mask = BUFFER_BYTES - 1;
    uint64_t *buffer = mmap(NULL, BUFFER_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (buffer == MAP_FAILED) {
        perror("rwx: mmap");
        return 1;
    }
    for (unsigned i = 0; i < BUFFER_BYTES / 8; i++)
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
    for (unsigned i = 0; i < BUFFER_BYTES / 8; i++)
        sum = sum * 31 + buffer[i];
    printf("rwx: %lu iterations x %d insns, result %016llx\n", n, INSNS_PER_ITERATION,
           (unsigned long long)sum);
    return 0;
}
