/*
 * Pointer chasing: a linked list of one node per 64-byte line over 64 MiB, in a random cyclic
 * order, walked COUNT steps (three instructions per step: a dependent load, the count, the
 * branch). Every step lands on a random line of a random page, so the time goes to the
 * runtime's address translation for loads, not to the code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define INSNS_PER_ITERATION 3
#define NODE_BYTES 64
#define NODES ((64u << 20) / NODE_BYTES)

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t *memory = malloc((size_t)NODES * NODE_BYTES);
    uint32_t *order = malloc(sizeof(uint32_t) * NODES);
    uint64_t seed = 0x9e3779b97f4a7c15ull, left = n, *p;

    if (memory == NULL || order == NULL) {
        fprintf(stderr, "chase: out of memory\n");
        return 1;
    }
    /* Sattolo's shuffle: one cycle through every node. */
    for (uint32_t i = 0; i < NODES; i++)
        order[i] = i;
    for (uint32_t i = NODES - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % i);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i < NODES; i++) {
        uint32_t from = order[i], to = order[(i + 1) % NODES];
        memory[(size_t)from * (NODE_BYTES / 8)] = (uint64_t)(uintptr_t)&memory[(size_t)to * (NODE_BYTES / 8)];
    }
    free(order);
    p = memory;
    __asm__ volatile("1:\n\t"
                     "ldr   %[p], [%[p]]\n\t"
                     "subs  %[left], %[left], #1\n\t"
                     "b.ne  1b"
                     : [left] "+r"(left), [p] "+r"(p)
                     :
                     : "cc", "memory");
    printf("chase: %lu iterations x %d insns, node %lu\n", n, INSNS_PER_ITERATION,
           (unsigned long)(((uintptr_t)p - (uintptr_t)memory) / NODE_BYTES));
    return 0;
}
