/*
 * Top-byte-ignore: Linux runs arm64 user space with TCR_EL1.TBI0 set, so the top byte of a data
 * address is not part of the address. Loads, stores, pairs, LL/SC and LSE atomics through a
 * pointer tagged 0x5a reach the untagged location; a fault through a tagged pointer is reported
 * to an SA_SIGINFO handler (no SA_EXPOSE_TAGBITS) with the tag cleared from si_addr.
 */
#include "mm.h"

#define TAG 0x5aUL

static volatile unsigned int word = 41;
static volatile unsigned long dword[2] = {0x1111, 0x2222};

static void *tagged(const volatile void *p)
{
    return (void *)(((uintptr_t)p & ((1UL << 56) - 1)) | (TAG << 56));
}

/* One check: the access through the tagged form of p faults with `code`; si_addr is p itself. */
static void check_tagged_fault(const char *what, volatile char *p, enum access kind, int code)
{
    char name[256];
    snprintf(name, sizeof name, "%s through a tagged pointer to %s: SIGSEGV %s, untagged si_addr",
             access_name(kind), what, code_name(SIGSEGV, code));
    volatile char *t = tagged(p);
    if (!try_access(t, kind, 1, NULL)) {
        check(name, 0, "no fault");
        return;
    }
    const char *addr = fault_addr == (void *)p   ? "untagged"
                       : fault_addr == (void *)t ? "tagged"
                                                 : "another address";
    check(name, fault_sig == SIGSEGV && fault_code == code && fault_addr == (void *)p,
          "%s %s, si_addr %s", sig_name(fault_sig), code_name(fault_sig, fault_code), addr);
}

int main(void)
{
    mm_init();
    fault_install();

    volatile unsigned int *tw = tagged(&word);
    CHECK_EQ("a 32-bit load through a tagged pointer", *tw, 41);
    *tw = 42;
    CHECK_EQ("a 32-bit store through a tagged pointer reaches the variable", word, 42);

    volatile unsigned long *td = tagged(dword);
    unsigned long a, b;
    __asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(td) : "memory");
    check("a load pair through a tagged pointer", a == 0x1111 && b == 0x2222, "got %lx %lx", a, b);
    __asm__ volatile("stp %0, %1, [%2]" : : "r"(0x3333UL), "r"(0x4444UL), "r"(td) : "memory");
    check("a store pair through a tagged pointer reaches the variable",
          dword[0] == 0x3333 && dword[1] == 0x4444, "got %lx %lx", dword[0], dword[1]);

    unsigned int old, fail;
    __asm__ volatile("1: ldaxr %w0, [%2]\n"
                     "   add %w0, %w0, #1\n"
                     "   stlxr %w1, %w0, [%2]\n"
                     "   cbnz %w1, 1b\n"
                     : "=&r"(old), "=&r"(fail)
                     : "r"(tw)
                     : "memory");
    CHECK_EQ("an LL/SC increment through a tagged pointer", word, 43);
    __asm__ volatile(".arch armv8.1-a\n"
                     "ldaddal %w1, %w0, [%2]\n"
                     : "=r"(old)
                     : "r"(10u), "r"(tw)
                     : "memory");
    check("an LSE ldaddal through a tagged pointer", old == 43 && word == 53, "old %u, now %u", old,
          word);
    unsigned int expect = 53;
    __asm__ volatile(".arch armv8.1-a\n"
                     "casal %w0, %w1, [%2]\n"
                     : "+r"(expect)
                     : "r"(60u), "r"(tw)
                     : "memory");
    check("an LSE casal through a tagged pointer", expect == 53 && word == 60, "old %u, now %u",
          expect, word);

    char *p = map_anon(3);
    memset(p, 'g', (size_t)(3 * pg));
    check_reads("through a tagged pointer into a fresh mapping", tagged(p + 5), 'g');
    check_writes("through a tagged pointer into a fresh mapping", tagged(p + pg + 7), 'w');
    CHECK_EQ("the store through the tagged pointer landed", p[pg + 7], 'w');
    CHECK_OK("make the middle page PROT_NONE", mprotect(p + pg, (size_t)pg, PROT_NONE));
    check_tagged_fault("a PROT_NONE page", p + pg + 100, ACC_READ, SEGV_ACCERR);
    check_tagged_fault("a PROT_NONE page", p + pg + 101, ACC_WRITE, SEGV_ACCERR);
    CHECK_OK("make the middle page read-only", mprotect(p + pg, (size_t)pg, PROT_READ));
    check_tagged_fault("a read-only page", p + pg + 102, ACC_WRITE, SEGV_ACCERR);
    CHECK_OK("munmap the last page", munmap(p + 2 * pg, (size_t)pg));
    check_tagged_fault("an unmapped page", p + 2 * pg + 3, ACC_READ, SEGV_MAPERR);
    check_tagged_fault("an unmapped page", p + 2 * pg + 4, ACC_WRITE, SEGV_MAPERR);
    munmap(p, (size_t)(2 * pg));
    return check_finish();
}
