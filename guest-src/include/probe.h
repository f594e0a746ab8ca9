/*
 * probe.h — what the kernel lets a system call do with a byte, found without touching it from
 * user code, so without any signal handler.
 */
#ifndef ELFVISOR_PROBE_H
#define ELFVISOR_PROBE_H

#include "check.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

/* The pipe probe() goes through; opened on first use unless the case opened it itself. */
CHECK_UNUSED static int probe_pipe[2] = {-1, -1};

/*
 * "unmapped" (msync says ENOMEM), "rw", "r-" or "--" (write(2) from it and read(2) into it
 * succeed or fail with EFAULT). The byte keeps its value.
 */
CHECK_UNUSED static const char *probe(volatile char *p)
{
    if (probe_pipe[0] < 0)
        NEED("probe pipe", pipe2(probe_pipe, O_NONBLOCK) == 0);
    long page = sysconf(_SC_PAGESIZE);
    void *base = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
    if (msync(base, (size_t)page, MS_ASYNC) != 0)
        return errno == ENOMEM ? "unmapped" : "msync failed";
    if (write(probe_pipe[1], (const char *)p, 1) != 1)
        return errno == EFAULT ? "--" : "write failed";
    if (read(probe_pipe[0], (char *)p, 1) == 1)
        return "rw";
    int e = errno;
    char drain;
    while (read(probe_pipe[0], &drain, 1) == 1)
        ;
    return e == EFAULT ? "r-" : "read failed";
}

/* One check: probe(p) says `want`. */
CHECK_UNUSED static void check_probe(const char *what, volatile char *p, const char *want)
{
    char name[256];
    snprintf(name, sizeof name, "%s: %s", what, want);
    const char *got = probe(p);
    check(name, strcmp(got, want) == 0, "%s", got);
}

#endif
