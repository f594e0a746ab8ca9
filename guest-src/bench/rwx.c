/*
 * Stores to a read-write-execute page (an executable stack, a JIT heap): the load/store loop of
 * `loadstore.c` on a 64 KiB buffer mapped PROT_READ|PROT_WRITE|PROT_EXEC that holds no code.
 */
#include <sys/mman.h>

#include "bench.h"

#define BUFFER_BYTES 65536

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    uint64_t *buffer = mmap(NULL, BUFFER_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (buffer == MAP_FAILED) {
        perror("rwx: mmap");
        return 1;
    }
    uint64_t sum = loadstore_loop(buffer, BUFFER_BYTES, n);
    printf("rwx: %lu iterations x %d insns, result %016llx\n", n, LOADSTORE_INSNS_PER_ITERATION,
           (unsigned long long)sum);
    return 0;
}
