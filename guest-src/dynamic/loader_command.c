/*
 * The dynamic loader run as a command (`ld.so PROG`), where Linux puts it: the kernel loads the
 * loader as the program, an ET_DYN image without an interpreter, so it goes where an mmap of its
 * whole span would — top-down below mmap_base, its start aligned to its largest p_align — and
 * its break moves to ELF_ET_DYN_BASE, page aligned up, even without address randomisation
 * (load_elf_binary in fs/binfmt_elf.c); AT_BASE is 0; the loader then maps the program below
 * itself. Run with ADDR_NO_RANDOMIZE and an 8 MiB stack limit, so the addresses are exact.
 * (AT_EXECFN is left alone: glibc's loader rewrites it to the program's name, musl's does not.)
 */
#include "dyn.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>

#ifdef __GLIBC__
#define LOADER "/lib/ld-linux-aarch64.so.1"
#else
#define LOADER "/lib/ld-musl-aarch64.so.1"
#endif

/* The lowest address /proc/self/maps shows for the file with inode `ino`, or 0. */
static unsigned long lowest_mapping(unsigned long ino)
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
    unsigned long lowest = 0;
    for (char *line = maps; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned long start, end, offset, inode;
        char perms[8], dev[16];
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &start, &end, perms, &offset, dev,
                   &inode) == 6 && inode == ino && (!lowest || start < lowest))
            lowest = start;
        line = next;
    }
    return lowest;
}

static int loaded(void)
{
    struct stat st;
    REQUIRE("the loader is there", stat(LOADER, &st) == 0);
    unsigned long lo = lowest_mapping(st.st_ino);
    REQUIRE("the loader is mapped", lo != 0);
    const Elf64_Ehdr *e = (const Elf64_Ehdr *)lo;
    REQUIRE("its ELF header is at its lowest mapping", !memcmp(e->e_ident, ELFMAG, SELFMAG));
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(lo + e->e_phoff);
    unsigned long span = 0, align = PAGE;
    for (int i = 0; i < e->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz) > span)
            span = PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz);
        if (ph[i].p_align > align)
            align = ph[i].p_align;
    }
    unsigned long mmap_base = task_size() - (128UL << 20);
    unsigned long want = (mmap_base - span) & ~(align - 1);
    check("the loader lies at the highest start below mmap_base aligned to its p_align",
          lo == want, "at %#lx, want %#lx", lo, want);
    unsigned long brk = (unsigned long)sbrk(0);
    unsigned long brk_base = PAGE_UP(2 * task_size() / 3);
    check("the break starts at ELF_ET_DYN_BASE, page aligned up", brk >= brk_base &&
          brk <= brk_base + 16 * PAGE, "at %#lx, want %#lx", brk, brk_base);
    CHECK_EQ("AT_BASE is 0: the kernel loaded no interpreter", getauxval(AT_BASE), 0);
    Dl_info info;
    check("the loader mapped the program below itself", dladdr((void *)loaded, &info) &&
          (unsigned long)info.dli_fbase < lo, "at or above it");
    return check_finish();
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "loaded"))
        return loaded();
    struct rlimit stack = {8UL << 20, 8UL << 20};
    struct rlimit old;
    getrlimit(RLIMIT_STACK, &old);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < stack.rlim_max)
        stack.rlim_max = old.rlim_max;
    CHECK_OK("an 8 MiB stack limit", setrlimit(RLIMIT_STACK, &stack));
    CHECK_OK("ADDR_NO_RANDOMIZE", personality(PER_LINUX | ADDR_NO_RANDOMIZE));
    char *child_argv[] = {"ld.so", (char *)tree("loader_command"), "loaded", NULL};
    static char buf[8192];
    int status = run_capture(LOADER, child_argv, (char *[]){NULL}, NULL, buf, sizeof buf);
    out("%s", buf);
    CHECK_EQ("the program run through its loader passes", exit_of(status), 0);
    return check_finish();
}
