/*
 * Single-threaded atomics: COUNT increments of one word, either with the LSE `ldadd` (three
 * instructions per iteration with the loop's count and branch) or with an `ldaxr`/`stlxr`
 * retry loop (six). A runtime that makes every atomic parallel-safe pays for it here even
 * though no other thread exists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t counter;

int main(int argc, char **argv)
{
    unsigned long n, left;
    char *end;
    uint64_t old, status;
    int insns;

    if (argc != 3 || (strcmp(argv[1], "lse") != 0 && strcmp(argv[1], "llsc") != 0)) {
        fprintf(stderr, "usage: %s lse|llsc COUNT\n", argc > 0 ? argv[0] : "atomics");
        return 2;
    }
    n = strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || n == 0) {
        fprintf(stderr, "%s: COUNT must be a positive integer\n", argv[0]);
        return 2;
    }
    left = n;
    if (strcmp(argv[1], "lse") == 0) {
        insns = 3;
        __asm__ volatile(".arch_extension lse\n"
                         "1:\n\t"
                         "ldaddal %[one], %[old], [%[word]]\n\t"
                         "subs    %[left], %[left], #1\n\t"
                         "b.ne    1b"
                         : [left] "+r"(left), [old] "=&r"(old)
                         : [word] "r"(&counter), [one] "r"((uint64_t)1)
                         : "cc", "memory");
    } else {
        insns = 6;
        __asm__ volatile("1:\n\t"
                         "ldaxr   %[old], [%[word]]\n\t"
                         "add     %[old], %[old], #1\n\t"
                         "stlxr   %w[status], %[old], [%[word]]\n\t"
                         "cbnz    %w[status], 1b\n\t"
                         "subs    %[left], %[left], #1\n\t"
                         "b.ne    1b"
                         : [left] "+r"(left), [old] "=&r"(old), [status] "=&r"(status)
                         : [word] "r"(&counter)
                         : "cc", "memory");
    }
    printf("atomics %s: %lu iterations x %d insns, counter %llu\n", argv[1], n, insns,
           (unsigned long long)counter);
    return 0;
}
