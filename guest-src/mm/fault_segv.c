/*
 * SIGSEGV from data accesses, caught with an SA_SIGINFO handler and left with siglongjmp: a
 * PROT_NONE guard page between two accessible pages is SEGV_ACCERR, a hole left by munmap and the
 * page past the end of a mapping are SEGV_MAPERR, a store to read-only data (an mprotect'ed page,
 * the program's own code and constants) is SEGV_ACCERR; si_addr is always the exact byte.
 */
#include "mm.h"

static const char constant[] = "constant";
/* Read at run time, so the compiler cannot see a null pointer and replace the access by a trap. */
static volatile uintptr_t low[2] = {0, 4095};

int main(void)
{
    mm_init();
    fault_install();
    char *p = map_anon(3);
    memset(p, 'g', (size_t)(3 * pg));
    CHECK_OK("make the middle page a PROT_NONE guard", mprotect(p + pg, (size_t)pg, PROT_NONE));
    check_fault("the guard page's first byte", p + pg, ACC_READ, SIGSEGV, SEGV_ACCERR);
    check_fault("the guard page's last byte", p + 2 * pg - 1, ACC_READ, SIGSEGV, SEGV_ACCERR);
    check_fault("the guard page", p + pg + 100, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    check_reads("the byte before the guard", p + pg - 1, 'g');
    check_writes("the byte after the guard", p + 2 * pg, 'h');
    CHECK_OK("mprotect the guard back to PROT_READ", mprotect(p + pg, (size_t)pg, PROT_READ));
    check_reads("the former guard", p + pg + 100, 'g');
    check_fault("the now read-only page", p + pg + 200, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    CHECK_EQ("the refused store changed nothing", p[pg + 200], 'g');

    CHECK_OK("munmap the middle page", munmap(p + pg, (size_t)pg));
    check_fault("the hole", p + pg + 3, ACC_READ, SIGSEGV, SEGV_MAPERR);
    check_fault("the hole", p + 2 * pg - 8, ACC_WRITE, SIGSEGV, SEGV_MAPERR);
    CHECK_OK("munmap the last page", munmap(p + 2 * pg, (size_t)pg));
    check_fault("the byte just past the end of the mapping", p + pg, ACC_READ, SIGSEGV, SEGV_MAPERR);
    check_reads("the last byte of the mapping", p + pg - 1, 'g');

    check_fault("the program's own code", (volatile char *)(uintptr_t)main, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    check_fault("a string constant", (volatile char *)constant, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    check_fault("address 0", (volatile char *)low[0], ACC_READ, SIGSEGV, SEGV_MAPERR);
    check_fault("address 4095", (volatile char *)low[1], ACC_WRITE, SIGSEGV, SEGV_MAPERR);
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    check("after the faults neither SIGSEGV nor SIGBUS is blocked",
          !sigismember(&cur, SIGSEGV) && !sigismember(&cur, SIGBUS), "blocked");
    munmap(p, (size_t)pg);
    return check_finish();
}
