/* The auxiliary vector: present after envp on the initial stack and sane in every entry we use. */
#include "check.h"
#include <elf.h>
#include <sys/auxv.h>

#ifndef HWCAP_FP
#define HWCAP_FP (1 << 0)
#endif
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif

extern char **environ;

int main(void)
{
    unsigned long pagesz = getauxval(AT_PAGESZ);
    check("AT_PAGESZ is a power of two >= 4096", pagesz >= 4096 && (pagesz & (pagesz - 1)) == 0,
          "got %lu", pagesz);
    CHECK_EQ("AT_PAGESZ matches sysconf", pagesz, sysconf(_SC_PAGESIZE));

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    check("AT_RANDOM present", rnd != NULL, "missing");
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero |= rnd[i];
    check("AT_RANDOM bytes are not all zero", nonzero != 0, "16 zero bytes");

    unsigned long hwcap = getauxval(AT_HWCAP);
    check("AT_HWCAP has FP and ASIMD", (hwcap & (HWCAP_FP | HWCAP_ASIMD)) == (HWCAP_FP | HWCAP_ASIMD),
          "hwcap bits missing");

    CHECK_EQ("AT_PHENT is sizeof(Elf64_Phdr)", getauxval(AT_PHENT), sizeof(Elf64_Phdr));
    const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
    unsigned long phnum = getauxval(AT_PHNUM);
    check("AT_PHDR and AT_PHNUM present", phdr != NULL && phnum > 0, "phnum %lu", phnum);
    int has_load = 0;
    for (unsigned long i = 0; phdr && i < phnum; i++)
        has_load |= phdr[i].p_type == PT_LOAD;
    check("AT_PHDR points at our program headers", has_load, "no PT_LOAD found");
    check("AT_ENTRY present", getauxval(AT_ENTRY) != 0, "zero");
    CHECK_EQ("AT_UID matches getuid", getauxval(AT_UID), getuid());
    CHECK_EQ("AT_EUID matches geteuid", getauxval(AT_EUID), geteuid());
    CHECK_EQ("AT_GID matches getgid", getauxval(AT_GID), getgid());
    CHECK_EQ("AT_SECURE", getauxval(AT_SECURE), 0);
    CHECK_EQ("AT_CLKTCK", getauxval(AT_CLKTCK), 100);
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    check("AT_EXECFN is a string", execfn != NULL && execfn[0] != '\0', "missing");

    /* Walk the vector where the kernel put it: right after envp's NULL. */
    char **e = environ;
    while (*e)
        e++;
    const Elf64_auxv_t *av = (const Elf64_auxv_t *)(e + 1);
    unsigned long seen_pagesz = 0;
    int entries = 0;
    for (; av->a_type != AT_NULL && entries < 256; av++, entries++)
        if (av->a_type == AT_PAGESZ)
            seen_pagesz = av->a_un.a_val;
    check("auxv follows envp and ends with AT_NULL", av->a_type == AT_NULL, "no AT_NULL");
    CHECK_EQ("auxv on the stack agrees with getauxval", seen_pagesz, pagesz);
    return check_finish();
}
