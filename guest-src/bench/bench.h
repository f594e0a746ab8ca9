/*
 * bench.h — shared by the benchmark guests (`cargo xtask bench`).
 *
 * Each benchmark takes its work size from argv[1], does the work in a loop the compiler cannot
 * remove (the loop bodies are inline asm, so their instruction counts are exact), and prints one
 * result line that depends on every iteration. Both runtimes must print the same line.
 */
#ifndef ELFVISOR_BENCH_H
#define ELFVISOR_BENCH_H

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

#endif
