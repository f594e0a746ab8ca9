/*
 * Random reads: `randread MIB COUNT [THREADS]` reads one word at a random 8-byte offset of an
 * MIB MiB buffer COUNT times (seven instructions per read: the generator step, the offset, the
 * load, the sum, the count and the branch). Above a few hundred pages nearly every read lands on
 * a page other than the last few, so the time goes to the runtime's address translation: a
 * runtime whose TLB covers fewer pages than the buffer pays a refill on most reads. With
 * THREADS > 1 each thread does COUNT reads of its own over the same buffer (each vCPU has a TLB
 * of its own).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSNS_PER_ITERATION 7
#define MAX_THREADS 8

static const uint64_t *buffer;
static uint64_t mask;
static unsigned long count;

struct work {
    uint64_t seed, sum;
};

static void *reads(void *arg)
{
    struct work *w = arg;
    uint64_t left = count, x = w->seed, off, word, sum = 0;
    const uint64_t a = 6364136223846793005ull, c = 1442695040888963407ull;

    __asm__ volatile("1:\n\t"
                     "madd  %[x], %[x], %[a], %[c]\n\t"
                     "lsr   %[off], %[x], #20\n\t"
                     "and   %[off], %[off], %[mask]\n\t"
                     "ldr   %[word], [%[base], %[off]]\n\t"
                     "add   %[sum], %[sum], %[word]\n\t"
                     "subs  %[left], %[left], #1\n\t"
                     "b.ne  1b"
                     : [left] "+r"(left), [x] "+r"(x), [off] "=&r"(off), [word] "=&r"(word),
                       [sum] "+r"(sum)
                     : [a] "r"(a), [c] "r"(c), [mask] "r"(mask), [base] "r"(buffer)
                     : "cc", "memory");
    w->sum = sum;
    return NULL;
}

static unsigned long number(const char *s, const char *what)
{
    char *end;
    unsigned long n = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || n == 0) {
        fprintf(stderr, "randread: %s must be a positive integer, not \"%s\"\n", what, s);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    unsigned long mib, threads = 1, words;
    uint64_t *memory, total = 0;
    struct work work[MAX_THREADS];
    pthread_t tids[MAX_THREADS];

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s MIB COUNT [THREADS]\n", argc > 0 ? argv[0] : "randread");
        return 2;
    }
    mib = number(argv[1], "MIB");
    count = number(argv[2], "COUNT");
    if (argc == 4)
        threads = number(argv[3], "THREADS");
    if ((mib & (mib - 1)) != 0 || mib > 1024 || threads > MAX_THREADS) {
        fprintf(stderr, "randread: MIB must be a power of two up to 1024, THREADS at most %d\n",
                MAX_THREADS);
        return 2;
    }
    words = (mib << 20) / 8;
    memory = malloc(mib << 20);
    if (memory == NULL) {
        fprintf(stderr, "randread: out of memory\n");
        return 1;
    }
    for (unsigned long i = 0; i < words; i++)
        memory[i] = i;
    buffer = memory;
    mask = (mib << 20) - 8;
    for (unsigned long t = 0; t < threads; t++) {
        work[t].seed = 0x9e3779b97f4a7c15ull + t;
        work[t].sum = 0;
    }
    for (unsigned long t = 1; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, reads, &work[t]) != 0) {
            fprintf(stderr, "randread: pthread_create failed\n");
            return 1;
        }
    }
    reads(&work[0]);
    for (unsigned long t = 1; t < threads; t++)
        pthread_join(tids[t], NULL);
    for (unsigned long t = 0; t < threads; t++)
        total += work[t].sum;
    printf("randread %lu MiB: %lu iterations x %d insns, %lu threads, sum %llu\n", mib, count,
           INSNS_PER_ITERATION, threads, (unsigned long long)total);
    return 0;
}
