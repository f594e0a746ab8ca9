/*
 * mmap.c COUNT — COUNT times: mmap 16 pages (private anonymous, then shared anonymous on odd
 * rounds), write one byte in each page, munmap. The address-space throughput.
 */
#include <sys/mman.h>

#include "bench.h"

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    unsigned long sum = 0;
    for (unsigned long i = 0; i < n; i++) {
        int flags = (i & 1) ? MAP_SHARED | MAP_ANONYMOUS : MAP_PRIVATE | MAP_ANONYMOUS;
        volatile char *p = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p == MAP_FAILED)
            return 1;
        for (int page = 0; page < 16; page++)
            p[page * 4096] = (char)(i + page);
        for (int page = 0; page < 16; page++)
            sum += (unsigned char)p[page * 4096];
        munmap((void *)p, 16 * 4096);
    }
    printf("mmap: %lu rounds of 16 pages, checksum %lu\n", n, sum);
    return 0;
}
