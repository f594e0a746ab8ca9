/*
 * Instruction fetches: a call into a page mapped without PROT_EXEC raises SIGSEGV/SEGV_ACCERR
 * with si_addr at the target, an unmapped target SEGV_MAPERR; the same code runs once mprotect
 * adds PROT_EXEC; and what PROT_EXEC alone allows data reads to do (printed).
 */
#include "mm.h"

/* mov w0, #42; ret */
static const uint32_t code[] = {0x52800540, 0xd65f03c0};

static int call(char *p)
{
    return ((int (*)(void))(uintptr_t)p)();
}

int main(void)
{
    mm_init();
    fault_install();
    char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap 2 pages", p != MAP_FAILED);
    memcpy(p, code, sizeof code);
    memcpy(p + pg, code, sizeof code);
    check_fault("code in a PROT_READ|PROT_WRITE page", p, ACC_EXEC, SIGSEGV, SEGV_ACCERR);
    CHECK_OK("mprotect the first page PROT_READ", mprotect(p, (size_t)pg, PROT_READ));
    check_fault("code in a PROT_READ page", p, ACC_EXEC, SIGSEGV, SEGV_ACCERR);
    CHECK_OK("mprotect the first page PROT_READ|PROT_EXEC", mprotect(p, (size_t)pg, PROT_READ | PROT_EXEC));
    __builtin___clear_cache(p, p + sizeof code);
    CHECK_EQ("the code runs", call(p), 42);
    CHECK_OK("mprotect the second page PROT_EXEC alone", mprotect(p + pg, (size_t)pg, PROT_EXEC));
    __builtin___clear_cache(p + pg, p + pg + sizeof code);
    CHECK_EQ("code in a PROT_EXEC page runs", call(p + pg), 42);
    char got = 0;
    int faulted = try_access(p + pg, ACC_READ, 0, &got);
    out("a data read of a PROT_EXEC-only page: %s\n",
        !faulted ? (got == (char)0x40 ? "reads the code" : "reads something else")
                 : fault_sig == SIGSEGV && fault_code == SEGV_ACCERR ? "SIGSEGV SEGV_ACCERR" : "another fault");
    check_fault("code in a PROT_EXEC page", p + pg + 4, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    CHECK_OK("mprotect the second page PROT_NONE", mprotect(p + pg, (size_t)pg, PROT_NONE));
    check_fault("code in a PROT_NONE page", p + pg, ACC_EXEC, SIGSEGV, SEGV_ACCERR);
    CHECK_OK("munmap the second page", munmap(p + pg, (size_t)pg));
    check_fault("an unmapped page", p + pg, ACC_EXEC, SIGSEGV, SEGV_MAPERR);
    CHECK_EQ("the first page still runs", call(p), 42);
    munmap(p, (size_t)pg);
    return check_finish();
}
