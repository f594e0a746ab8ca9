/*
 * The auxiliary vector of a dynamically linked program and where Linux's arm64 loader puts it
 * and its interpreter. Built twice: as a PIE (ET_DYN) and with -no-pie (ET_EXEC, WANT_ET_EXEC).
 *
 * In the process the harness starts (address randomisation on): AT_PHDR, AT_PHENT, AT_PHNUM and
 * AT_ENTRY agree with the program's own ELF header in memory; AT_BASE is the interpreter's ELF
 * header, the very file PT_INTERP names; AT_EXECFN names this program; the program lies at or
 * above ELF_ET_DYN_BASE (a PIE) or at its link address, the interpreter in the mmap area below
 * the stack. Then it runs itself again with ADDR_NO_RANDOMIZE and an 8 MiB stack limit, where
 * the addresses are exact (load_elf_binary in fs/binfmt_elf.c): a PIE at
 * ELF_ET_DYN_BASE = 2/3 of the address space aligned down to its segments' alignment
 * (0xaaaaaaaa0000 on arm64 Linux), the interpreter ending at mmap_base = TASK_SIZE - 128 MiB (mmap_base in mm/util.c: the stack
 * gap is at least MIN_GAP), the program break right after the program's last segment (within
 * the few pages a C library may already have taken).
 */
#include "dyn.h"

#include <elf.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define TASK_SIZE task_size()
#define MMAP_BASE (TASK_SIZE - (128UL << 20))
#define ET_DYN_BASE (2 * TASK_SIZE / 3)

struct image {
    unsigned long bias;     /* what the file's addresses are moved by */
    const Elf64_Ehdr *ehdr; /* its ELF header in memory */
    unsigned long lo, hi;   /* its first and past-the-last mapped byte, pages */
    unsigned long align;    /* the largest alignment of its PT_LOAD segments */
};

static void segments(struct image *im, const Elf64_Phdr *ph, int n)
{
    im->lo = ~0UL;
    im->hi = 0;
    im->align = PAGE;
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        unsigned long lo = (im->bias + ph[i].p_vaddr) & ~(PAGE - 1);
        unsigned long hi = PAGE_UP(im->bias + ph[i].p_vaddr + ph[i].p_memsz);
        if (lo < im->lo)
            im->lo = lo;
        if (hi > im->hi)
            im->hi = hi;
        if (ph[i].p_align > im->align)
            im->align = ph[i].p_align;
    }
}

/* The program, found through AT_PHDR and its PT_PHDR entry. */
static int program(struct image *im)
{
    const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
    int n = (int)getauxval(AT_PHNUM);
    im->ehdr = NULL;
    for (int i = 0; i < n; i++)
        if (ph[i].p_type == PT_PHDR)
            im->bias = (unsigned long)ph - ph[i].p_vaddr;
    for (int i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            im->ehdr = (const Elf64_Ehdr *)(im->bias + ph[i].p_vaddr);
            break;
        }
    segments(im, ph, n);
    return im->ehdr != NULL;
}

static const char *interp_name(const struct image *prog)
{
    const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
    for (unsigned long i = 0; i < getauxval(AT_PHNUM); i++)
        if (ph[i].p_type == PT_INTERP)
            return (const char *)(prog->bias + ph[i].p_vaddr);
    return NULL;
}

/* The file mapped at `addr` according to /proc/self/maps, into `path`. */
static int mapped_file(unsigned long addr, char *path, size_t size)
{
    static char maps[65536];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return 0;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof maps - 1 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    maps[len] = '\0';
    for (char *line = maps; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned long start = strtoul(line, NULL, 16);
        char *slash = strchr(line, '/');
        if (start == addr && slash) {
            snprintf(path, size, "%s", slash);
            return 1;
        }
        line = next;
    }
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int exact_layout(const char *execfn_want)
{
    struct image prog, ld;
    REQUIRE("the child finds itself", program(&prog));
    ld.bias = getauxval(AT_BASE);
    ld.ehdr = (const Elf64_Ehdr *)ld.bias;
    segments(&ld, (const Elf64_Phdr *)(ld.bias + ld.ehdr->e_phoff), ld.ehdr->e_phnum);
    check("AT_EXECFN is the path execve was given", !strcmp((const char *)getauxval(AT_EXECFN),
          execfn_want), "another path");
#ifdef WANT_ET_EXEC
    check("without randomisation the program lies at its link address 0x400000",
          prog.bias == 0 && prog.lo == 0x400000, "bias %#lx, at %#lx", prog.bias, prog.lo);
#else
    unsigned long base = ET_DYN_BASE & ~(prog.align - 1);
    check("without randomisation a PIE lies at ELF_ET_DYN_BASE aligned to its segments",
          prog.bias == base, "at %#lx, want %#lx", prog.bias, base);
#endif
    check("without randomisation the interpreter ends at mmap_base, TASK_SIZE - 128 MiB",
          ld.hi == MMAP_BASE, "ends at %#lx, want %#lx", ld.hi, MMAP_BASE);
    check("without randomisation the interpreter starts at its page", ld.lo == ld.bias,
          "at %#lx, base %#lx", ld.lo, ld.bias);
    /* musl's loader has already grown it by a page or two by now, glibc's not at all. */
    unsigned long brk = (unsigned long)sbrk(0);
    check("without randomisation the break starts right after the program",
          brk >= prog.hi && brk <= prog.hi + 16 * PAGE, "at %#lx, program ends at %#lx", brk,
          prog.hi);
    return check_finish();
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "exact"))
        return exact_layout(argv[2]);

    struct image prog, ld;
    REQUIRE("AT_PHDR leads to the program's ELF header", program(&prog));
    const Elf64_Ehdr *e = prog.ehdr;
    REQUIRE("the program's ELF header is in memory", !memcmp(e->e_ident, ELFMAG, SELFMAG));
#ifdef WANT_ET_EXEC
    CHECK_EQ("the program is ET_EXEC", e->e_type, ET_EXEC);
    CHECK_EQ("an ET_EXEC program is not moved", prog.bias, 0);
#else
    CHECK_EQ("the program is ET_DYN", e->e_type, ET_DYN);
    check("a PIE lies at or above ELF_ET_DYN_BASE, within the randomisation range",
          prog.bias >= (ET_DYN_BASE & ~(prog.align - 1)) && prog.bias < ET_DYN_BASE + (1UL << 31),
          "at %#lx", prog.bias);
#endif
    CHECK_EQ("AT_PHDR is the program's phdrs", getauxval(AT_PHDR),
             (unsigned long)e + e->e_phoff);
    CHECK_EQ("AT_PHENT", getauxval(AT_PHENT), sizeof(Elf64_Phdr));
    CHECK_EQ("AT_PHNUM", getauxval(AT_PHNUM), e->e_phnum);
    CHECK_EQ("AT_ENTRY is the program's entry", getauxval(AT_ENTRY), prog.bias + e->e_entry);
    CHECK_EQ("AT_PAGESZ", getauxval(AT_PAGESZ), PAGE);
    CHECK_EQ("AT_SECURE", getauxval(AT_SECURE), 0);

    ld.bias = getauxval(AT_BASE);
    REQUIRE("AT_BASE is set", ld.bias != 0);
    ld.ehdr = (const Elf64_Ehdr *)ld.bias;
    REQUIRE("AT_BASE is the interpreter's ELF header", !memcmp(ld.ehdr->e_ident, ELFMAG, SELFMAG));
    CHECK_EQ("the interpreter is ET_DYN", ld.ehdr->e_type, ET_DYN);
    CHECK_EQ("the interpreter is aarch64", ld.ehdr->e_machine, EM_AARCH64);
    CHECK_EQ("AT_BASE is page aligned", ld.bias % PAGE, 0);
    segments(&ld, (const Elf64_Phdr *)(ld.bias + ld.ehdr->e_phoff), ld.ehdr->e_phnum);
    const char *interp = interp_name(&prog);
    char file[PATH_MAX];
    check("the file mapped at AT_BASE is the one PT_INTERP names", interp &&
          mapped_file(ld.bias, file, sizeof file) && same_file(file, interp), "%s",
          interp ? "another file" : "no PT_INTERP");
    int local;
    check("the interpreter lies above the program and below the stack",
          ld.lo >= prog.hi && ld.hi <= (unsigned long)&local, "at %#lx", ld.bias);
    check("the interpreter lies in the top-down mmap area", ld.hi <= MMAP_BASE &&
          ld.lo >= MMAP_BASE - (8UL << 30), "ends at %#lx", ld.hi);
    unsigned long brk = (unsigned long)sbrk(0);
    check("the break lies above the program and below the interpreter",
          brk >= prog.hi && brk < ld.lo, "at %#lx", brk);

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    char exe[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    check("AT_EXECFN names this program", execfn && realpath(execfn, real) &&
          !strcmp(real, exe), "another file");

    /* Again, exactly: no randomisation, an 8 MiB stack limit. */
    struct rlimit stack = {8UL << 20, 8UL << 20};
    struct rlimit old;
    getrlimit(RLIMIT_STACK, &old);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < stack.rlim_max)
        stack.rlim_max = old.rlim_max;
    CHECK_OK("an 8 MiB stack limit", setrlimit(RLIMIT_STACK, &stack));
    CHECK_OK("ADDR_NO_RANDOMIZE", personality(PER_LINUX | ADDR_NO_RANDOMIZE));
    char *child_argv[] = {argv[0], "exact", exe, NULL};
    static char buf[8192];
    int status = run_capture(exe, child_argv, (char *[]){NULL}, NULL, buf, sizeof buf);
    out("%s", buf);
    CHECK_EQ("the exact run passes", exit_of(status), 0);
    return check_finish();
}
