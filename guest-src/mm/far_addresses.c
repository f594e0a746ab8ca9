/*
 * far_addresses — accesses at the top of the guest's address space and beyond it: the last
 * byte below 1 TiB, 1 TiB itself, the last byte of the 48-bit user space, the last doubleword
 * of the 64-bit space (kernel half), and each through tagged pointers (0x5a and 0xff in the top
 * byte). Each faults with SIGSEGV, and si_addr is the address with its tag bits hidden (Linux's
 * arch_untagged_si_addr: sign-extended from bit 55, so a kernel-half address keeps its top
 * byte). A page mapped just below 1 TiB works up to its last byte, and loads that run off its
 * end fault there.
 */
#include "mm.h"

#define TIB (1UL << 40)

static void report(const char *what, volatile char *p, enum access kind)
{
    char name[256];
    snprintf(name, sizeof name, "%s at %s", access_name(kind), what);
    if (!try_access(p, kind, 1, NULL)) {
        check(name, 0, "no fault");
        return;
    }
    out("%s: %s %s, si_addr %#lx\n", name, sig_name(fault_sig), code_name(fault_sig, fault_code),
        (unsigned long)fault_addr);
}

static volatile char *at(unsigned long addr)
{
    return (volatile char *)addr;
}

static unsigned long tag(unsigned long addr, unsigned long t)
{
    return (addr & ((1UL << 56) - 1)) | (t << 56);
}

/* An 8-byte load at p; returns 1 when it faulted. */
static int load64(volatile char *p, unsigned long *got)
{
    fault_sig = 0;
    fault_addr = NULL;
    if (sigsetjmp(fault_env, 1) != 0)
        return 1;
    unsigned long v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(p) : "memory");
    *got = v;
    return 0;
}

/* A 16-byte load pair at p; returns 1 when it faulted. */
static int loadpair(volatile char *p)
{
    fault_sig = 0;
    fault_addr = NULL;
    if (sigsetjmp(fault_env, 1) != 0)
        return 1;
    unsigned long a, b;
    __asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(p) : "memory");
    (void)a;
    (void)b;
    return 0;
}

int main(void)
{
    mm_init();
    fault_install();

    static const struct {
        const char *name;
        unsigned long addr;
    } places[] = {
        {"2^40-1", TIB - 1},
        {"2^40", TIB},
        {"2^48-1", (1UL << 48) - 1},
        {"2^64-8", ~0UL - 7},
    };
    for (unsigned i = 0; i < sizeof places / sizeof places[0]; i++) {
        char what[128];
        for (int kind = ACC_READ; kind <= ACC_WRITE; kind++) {
            report(places[i].name, at(places[i].addr), (enum access)kind);
            snprintf(what, sizeof what, "%s tagged 0x5a", places[i].name);
            report(what, at(tag(places[i].addr, 0x5a)), (enum access)kind);
            snprintf(what, sizeof what, "%s tagged 0xff", places[i].name);
            report(what, at(tag(places[i].addr, 0xff)), (enum access)kind);
        }
    }

    /* The last page below 1 TiB, mapped: usable to its last byte, faulting past it. */
    char *last = mmap((void *)(TIB - 4096), 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    REQUIRE("map the last page below 1 TiB", last == (char *)(TIB - 4096));
    check_writes("the last byte below 1 TiB", at(TIB - 1), 0x7e);
    check_reads("the last byte below 1 TiB", at(TIB - 1), 0x7e);
    check_reads("it through a tagged pointer", at(tag(TIB - 1, 0x5a)), 0x7e);
    unsigned long got = 0;
    CHECK_EQ("an 8-byte load ending at the last byte", load64(at(TIB - 8), &got), 0);
    CHECK_EQ("its value", got >> 56, 0x7e);
    check("an 8-byte load running past 1 TiB faults", load64(at(TIB - 4), &got) == 1, "no fault");
    out("its signal: %s %s, si_addr %#lx\n", sig_name(fault_sig), code_name(fault_sig, fault_code),
        (unsigned long)fault_addr);
    check("a load pair running past 1 TiB faults", loadpair(at(TIB - 8)) == 1, "no fault");
    out("its signal: %s %s, si_addr %#lx\n", sig_name(fault_sig), code_name(fault_sig, fault_code),
        (unsigned long)fault_addr);
    CHECK_OK("unmap it", munmap(last, 4096));
    report("2^40-1 again", at(TIB - 1), ACC_READ);
    return check_finish();
}
