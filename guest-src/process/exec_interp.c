/*
 * execve of a program with a PT_INTERP: the kernel maps the interpreter and starts it with the
 * program's auxv (AT_BASE the interpreter's base, AT_ENTRY/AT_PHDR/AT_PHNUM/AT_PHENT the
 * program's). The case writes both files itself: a tiny position-independent ET_DYN program and
 * a tiny ET_DYN interpreter that checks the auxv and jumps to the program's entry, which exits
 * with the interpreter's bitmask. Then the errors of load_elf_binary: a missing interpreter
 * (ENOENT), one without execute permission or a directory (EACCES), one that is not an aarch64
 * ELF (ELIBBAD), a PT_INTERP that is too short or not NUL-terminated (ENOEXEC).
 */
#include "check.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

/*
 * The interpreter's code, at file offset 0x80 of an image linked at 0:
 *      mov x0, sp; ldr x1, [x0], #8; add x0, x0, x1, lsl #3; add x0, x0, #8   // skip argv
 *   1: ldr x1, [x0], #8; cbnz x1, 1b                                          // skip envp
 *      mov x2..x6, #0
 *   2: ldp x1, x7, [x0], #16; cbz x1, 3f                                      // auxv walk:
 *      x2 = AT_BASE, x3 = AT_ENTRY, x4 = AT_PHDR, x5 = AT_PHNUM, x6 = AT_PHENT; b 2b
 *   3: x0 = 0
 *      bit 0: AT_BASE == this image's base (adr of the code less 0x80)
 *      bit 1: AT_ENTRY - AT_PHDR == 0x1000 - 64 (the program's entry and headers, one bias)
 *      bit 2: the first program header at AT_PHDR is the program's PT_INTERP
 *      bit 3: AT_PHNUM == 2, bit 4: AT_PHENT == 56
 *      br x3                                                                  // the program
 */
static const unsigned char interp_code[] = {
    0xe0, 0x03, 0x00, 0x91, 0x01, 0x84, 0x40, 0xf8, 0x00, 0x0c, 0x01, 0x8b, 0x00, 0x20, 0x00,
    0x91, 0x01, 0x84, 0x40, 0xf8, 0xe1, 0xff, 0xff, 0xb5, 0x02, 0x00, 0x80, 0xd2, 0x03, 0x00,
    0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2, 0x05, 0x00, 0x80, 0xd2, 0x06, 0x00, 0x80, 0xd2, 0x01,
    0x1c, 0xc1, 0xa8, 0x81, 0x01, 0x00, 0xb4, 0x3f, 0x1c, 0x00, 0xf1, 0xe2, 0x00, 0x82, 0x9a,
    0x3f, 0x24, 0x00, 0xf1, 0xe3, 0x00, 0x83, 0x9a, 0x3f, 0x0c, 0x00, 0xf1, 0xe4, 0x00, 0x84,
    0x9a, 0x3f, 0x14, 0x00, 0xf1, 0xe5, 0x00, 0x85, 0x9a, 0x3f, 0x10, 0x00, 0xf1, 0xe6, 0x00,
    0x86, 0x9a, 0xf4, 0xff, 0xff, 0x17, 0x00, 0x00, 0x80, 0xd2, 0xe9, 0xfc, 0xff, 0x10, 0x29,
    0x01, 0x02, 0xd1, 0x5f, 0x00, 0x09, 0xeb, 0xea, 0x17, 0x9f, 0x9a, 0x00, 0x00, 0x0a, 0xaa,
    0x6b, 0x00, 0x04, 0xcb, 0x7f, 0x01, 0x3f, 0xf1, 0xea, 0x17, 0x9f, 0x9a, 0x00, 0x04, 0x0a,
    0xaa, 0x8b, 0x00, 0x40, 0xb9, 0x7f, 0x0d, 0x00, 0x71, 0xea, 0x17, 0x9f, 0x9a, 0x00, 0x08,
    0x0a, 0xaa, 0xbf, 0x08, 0x00, 0xf1, 0xea, 0x17, 0x9f, 0x9a, 0x00, 0x0c, 0x0a, 0xaa, 0xdf,
    0xe0, 0x00, 0xf1, 0xea, 0x17, 0x9f, 0x9a, 0x00, 0x10, 0x0a, 0xaa, 0x60, 0x00, 0x1f, 0xd6,
};

/* The program's code, at file offset 0x1000: orr x0, x0, #32; mov x8, #93; svc #0 (exit). */
static const unsigned char program_code[] = {
    0x00, 0x00, 0x7b, 0xb2, 0xa8, 0x0b, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4,
};

#define INTERP_CODE 0x80
#define PROGRAM_CODE 0x1000
#define ALL_CHECKS 63

static void header(Elf64_Ehdr *eh, uint64_t entry, int phnum, uint16_t machine)
{
    memset(eh, 0, sizeof *eh);
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_DYN;
    eh->e_machine = machine;
    eh->e_version = EV_CURRENT;
    eh->e_entry = entry;
    eh->e_phoff = sizeof *eh;
    eh->e_ehsize = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = phnum;
}

static void load_segment(Elf64_Phdr *ph, uint64_t size)
{
    memset(ph, 0, sizeof *ph);
    ph->p_type = PT_LOAD;
    ph->p_flags = PF_R | PF_X;
    ph->p_filesz = ph->p_memsz = size;
    ph->p_align = 0x1000;
}

static int write_file(const char *name, const void *bytes, size_t len, mode_t mode)
{
    unlink(name);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, bytes, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/*
 * An interpreter image for `machine`, a whole page long: Linux 6.1's load_elf_interp zeroes the
 * rest of the last file page (padzero) even without a .bss, and fails on a read-only one.
 */
static int write_interp(const char *name, uint16_t machine, mode_t mode)
{
    static unsigned char image[0x1000];
    memset(image, 0, sizeof image);
    header((Elf64_Ehdr *)image, INTERP_CODE, 1, machine);
    load_segment((Elf64_Phdr *)(image + sizeof(Elf64_Ehdr)), sizeof image);
    memcpy(image + INTERP_CODE, interp_code, sizeof interp_code);
    return write_file(name, image, sizeof image, mode);
}

/* A program whose PT_INTERP holds `interp_len` bytes of `interp` (its NUL included or not). */
static int write_program(const char *name, const char *interp, size_t interp_len)
{
    static unsigned char image[PROGRAM_CODE + sizeof program_code];
    size_t at = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
    if (at + interp_len > PROGRAM_CODE)
        return -1;
    memset(image, 0, sizeof image);
    header((Elf64_Ehdr *)image, PROGRAM_CODE, 2, EM_AARCH64);
    Elf64_Phdr *ph = (Elf64_Phdr *)(image + sizeof(Elf64_Ehdr));
    memset(ph, 0, sizeof *ph);
    ph->p_type = PT_INTERP;
    ph->p_flags = PF_R;
    ph->p_offset = ph->p_vaddr = at;
    ph->p_filesz = ph->p_memsz = interp_len;
    ph->p_align = 1;
    load_segment(ph + 1, sizeof image);
    memcpy(image + at, interp, interp_len);
    memcpy(image + PROGRAM_CODE, program_code, sizeof program_code);
    return write_file(name, image, sizeof image, 0755);
}

/* Runs `name` in a child: its exit status, or -errno when execve failed. */
static int run(const char *name)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1000;
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(pipefd[0]);
        fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
        char *argv[] = {(char *)name, NULL};
        char *envp[] = {NULL};
        execve(name, argv, envp);
        int e = errno;
        ssize_t w = write(pipefd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pipefd[1]);
    int e = 0;
    ssize_t n = read(pipefd[0], &e, sizeof e);
    close(pipefd[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1001;
    if (n == (ssize_t)sizeof e)
        return -e;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -2000 - WTERMSIG(status);
}

static void check_errno(const char *what, int got, int want)
{
    check(what, got == -want, "got %d (%s), want %s", got, got < 0 ? errname(-got) : "status",
          errname(want));
}

int main(void)
{
    char cwd[1024], path[1200];
    REQUIRE("getcwd", getcwd(cwd, sizeof cwd) != NULL);
#define AT(name) (snprintf(path, sizeof path, "%s/%s", cwd, name), path)

    REQUIRE("write the interpreter", write_interp("interp", EM_AARCH64, 0755) == 0);
    REQUIRE("write the program", write_program("prog", AT("interp"), strlen(path) + 1) == 0);
    int status = run("./prog");
    CHECK_EQ("the interpreter ran, saw the program's auxv and started the program", status,
             ALL_CHECKS);
    for (int bit = 0; bit < 5 && status >= 0; bit++) {
        static const char *names[] = {"AT_BASE", "AT_ENTRY", "AT_PHDR", "AT_PHNUM", "AT_PHENT"};
        check(names[bit], status & (1 << bit), "wrong");
    }

    REQUIRE("write", write_program("missing", "/nonexistent/ld.so", 19) == 0);
    check_errno("a missing interpreter is ENOENT", run("./missing"), ENOENT);

    REQUIRE("write", write_interp("noexec-interp", EM_AARCH64, 0644) == 0);
    REQUIRE("write", write_program("noexec", AT("noexec-interp"), strlen(path) + 1) == 0);
    check_errno("an interpreter without execute permission is EACCES", run("./noexec"), EACCES);

    REQUIRE("mkdir", mkdir("dir-interp", 0755) == 0);
    REQUIRE("write", write_program("dir", AT("dir-interp"), strlen(path) + 1) == 0);
    check_errno("a directory as interpreter is EACCES", run("./dir"), EACCES);

    REQUIRE("write", write_interp("x86-interp", EM_X86_64, 0755) == 0);
    REQUIRE("write", write_program("x86", AT("x86-interp"), strlen(path) + 1) == 0);
    check_errno("an x86-64 interpreter is ELIBBAD", run("./x86"), ELIBBAD);

    static char text[256];
    memset(text, '#', sizeof text);
    REQUIRE("write", write_file("text-interp", text, sizeof text, 0755) == 0);
    REQUIRE("write", write_program("text", AT("text-interp"), strlen(path) + 1) == 0);
    check_errno("an interpreter that is not an ELF is ELIBBAD", run("./text"), ELIBBAD);

    REQUIRE("write", write_program("unterminated", AT("interp"), strlen(path)) == 0);
    check_errno("a PT_INTERP without its NUL is ENOEXEC", run("./unterminated"), ENOEXEC);

    REQUIRE("write", write_program("short", "/", 1) == 0);
    check_errno("a one-byte PT_INTERP is ENOEXEC", run("./short"), ENOEXEC);
    return check_finish();
}
