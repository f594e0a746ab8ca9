/*
 * Memory access: COUNT iterations over a 64 KiB buffer, each loading two words and storing two
 * words back (eleven instructions per iteration including the loop branch), then a checksum of
 * the buffer so every store counts.
 */
#include "bench.h"

#define BUFFER_WORDS 8192 /* 64 KiB: a power of two, the offset wraps with a mask */

static uint64_t buffer[BUFFER_WORDS];

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t sum = loadstore_loop(buffer, sizeof(buffer), n);
    printf("loadstore: %lu iterations x %d insns, result %016llx\n", n,
           LOADSTORE_INSNS_PER_ITERATION, (unsigned long long)sum);
    return 0;
}
