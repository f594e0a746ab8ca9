/* The program break: query, grow, use, shrink, and refusal below the start. */
#include "check.h"
#include <stdint.h>
#include <sys/syscall.h>

int main(void)
{
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    check("brk(0) returns the current break", cur != 0, "zero");
    uintptr_t want = cur + 256 * 1024;
    CHECK_EQ("grow by 256 KiB", (uintptr_t)syscall(SYS_brk, want), want);
    unsigned char *mem = (unsigned char *)cur;
    int ok = 1;
    for (size_t i = 0; i < 256 * 1024; i += 4096)
        ok &= mem[i] == 0;
    check("grown heap is zero", ok, "non-zero");
    for (size_t i = 0; i < 256 * 1024; i++)
        mem[i] = (unsigned char)i;
    ok = 1;
    for (size_t i = 0; i < 256 * 1024; i++)
        ok &= mem[i] == (unsigned char)i;
    check("grown heap holds data", ok, "differs");
    CHECK_EQ("shrink back", (uintptr_t)syscall(SYS_brk, cur + 4096), cur + 4096);
    CHECK_EQ("grow again", (uintptr_t)syscall(SYS_brk, want), want);
    ok = 1;
    for (size_t i = 8192; i < 256 * 1024; i += 4096)
        ok &= mem[i] == 0;
    check("memory released by shrinking comes back zeroed", ok, "old data visible");
    CHECK_EQ("brk below the start is refused (returns the current break)",
             (uintptr_t)syscall(SYS_brk, 4096), want);
    void *m = malloc(1 << 20);
    check("malloc still works around brk use", m != NULL, "NULL");
    free(m);
    return check_finish();
}
