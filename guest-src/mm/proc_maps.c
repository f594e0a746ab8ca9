/*
 * /proc/self/maps in Linux's format: every line has the address range, perms, offset, device,
 * inode and path columns, in ascending non-overlapping order; for regions the case maps itself
 * it prints only normalised facts (perms, offset, length in pages, and the path's kind: a file's
 * name, [heap], [stack], /memfd:NAME (deleted), /dev/zero (deleted), /SYSV... (deleted)), never
 * an address. A page re-protected in the middle of a region splits its line in three.
 */
#include "mm.h"
#include <sys/stat.h>

struct line {
    uintptr_t start, end;
    char perms[8];
    char offset[32];
    unsigned dev_major, dev_minor;
    unsigned long inode;
    const char *path;
};

static char text[1 << 17];
static struct line lines[1024];
static int nlines;
static char pathbuf[1 << 17];

static int perms_ok(const char *p)
{
    return strlen(p) == 4 && (p[0] == 'r' || p[0] == '-') && (p[1] == 'w' || p[1] == '-') &&
           (p[2] == 'x' || p[2] == '-') && (p[3] == 'p' || p[3] == 's');
}

/* Reads and parses /proc/self/maps; returns the number of lines that did not parse. */
static int load_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    NEED("open /proc/self/maps", fd >= 0);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof text - 1 && (n = read(fd, text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    text[len] = 0;
    nlines = 0;
    int bad = 0;
    char *paths = pathbuf;
    for (char *s = text; *s && nlines < (int)(sizeof lines / sizeof lines[0]);) {
        char *eol = strchr(s, '\n');
        if (!eol)
            eol = s + strlen(s);
        char saved = *eol;
        *eol = 0;
        struct line *l = &lines[nlines];
        unsigned long start, end, inode;
        int used = 0;
        if (sscanf(s, "%lx-%lx %7s %31s %x:%x %lu%n", &start, &end, l->perms, l->offset, &l->dev_major,
                   &l->dev_minor, &inode, &used) == 7 &&
            perms_ok(l->perms) && strspn(l->offset, "0123456789abcdef") == strlen(l->offset)) {
            const char *path = s + used;
            while (*path == ' ')
                path++;
            l->start = start;
            l->end = end;
            l->inode = inode;
            strcpy(paths, path);
            l->path = paths;
            paths += strlen(path) + 1;
            nlines++;
        } else {
            bad++;
        }
        *eol = saved;
        s = saved ? eol + 1 : eol;
    }
    return bad;
}

static const struct line *line_at(const void *addr)
{
    for (int i = 0; i < nlines; i++)
        if (lines[i].start <= (uintptr_t)addr && (uintptr_t)addr < lines[i].end)
            return &lines[i];
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/*
 * Prints the normalised line of the region that starts at addr. A path ending with file_suffix
 * is printed as "<label>" with whether its inode is file_inode.
 */
static void describe_file(const char *what, const void *addr, const char *file_suffix, const char *label,
                          unsigned long file_inode)
{
    const struct line *l = line_at(addr);
    if (!l || l->start != (uintptr_t)addr) {
        check(what, 0, "%s", l ? "no line starts at the region" : "no line");
        return;
    }
    char path[256];
    if (l->path[0] == 0)
        snprintf(path, sizeof path, "no path, device %02x:%02x, inode %lu", l->dev_major, l->dev_minor, l->inode);
    else if (file_suffix && ends_with(l->path, file_suffix))
        snprintf(path, sizeof path, "path %s, inode %s", label,
                 l->inode == file_inode ? "matches fstat" : "differs from fstat");
    else if (l->path[0] == '[' || !strncmp(l->path, "/memfd:", 7) || !strncmp(l->path, "/dev/zero", 9) ||
             !strncmp(l->path, "/SYSV", 5))
        snprintf(path, sizeof path, "path %s", l->path);
    else
        snprintf(path, sizeof path, "another path");
    long pages = (long)((l->end - l->start) / (uintptr_t)pg);
    out("%s: %s offset %s, %ld page%s, %s\n", what, l->perms, l->offset, pages, pages == 1 ? "" : "s", path);
}

static void describe(const char *what, const void *addr)
{
    describe_file(what, addr, NULL, NULL, 0);
}

int main(void)
{
    mm_init();
    int fd = open("maps-probe.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 3-page file", fd >= 0 && ftruncate(fd, 3 * pg) == 0);
    struct stat st;
    fstat(fd, &st);
    int mfd = memfd_create("elfvisor-maps", 0);
    REQUIRE("memfd_create", mfd >= 0 && ftruncate(mfd, pg) == 0);
    char shm_name[64];
    snprintf(shm_name, sizeof shm_name, "/elfvisor-mm-maps-%d", (int)getpid());
    int sfd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    REQUIRE("shm_open", sfd >= 0 && ftruncate(sfd, pg) == 0);
    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)pg, IPC_CREAT | 0600));
    REQUIRE("shmget", id >= 0);
    /* Raw brk: musl's sbrk refuses to move the break. */
    uintptr_t brk0 = (uintptr_t)syscall(SYS_brk, 0);
    REQUIRE("grow the heap by a page", (uintptr_t)syscall(SYS_brk, brk0 + (uintptr_t)pg) == brk0 + (uintptr_t)pg);

    /* Every region in its own slot of a reserved window, with unmapped gaps between them. */
    char *win = mmap(NULL, (size_t)(64 * pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve a window", win != MAP_FAILED);
    munmap(win, (size_t)(64 * pg));
    int fixed = MAP_FIXED;
    char *file_ro = mmap(win, (size_t)pg, PROT_READ, MAP_PRIVATE | fixed, fd, pg);
    char *file_rw = mmap(win + 4 * pg, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | fixed, fd, 0);
    char *anon = mmap(win + 8 * pg, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    char *none = mmap(win + 13 * pg, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    char *memfd = mmap(win + 16 * pg, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | fixed, mfd, 0);
    char *shanon = mmap(win + 20 * pg, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | fixed, -1, 0);
    char *shm = mmap(win + 24 * pg, (size_t)pg, PROT_READ, MAP_SHARED | fixed, sfd, 0);
    char *sysv = shmat(id, win + 28 * pg, 0);
    char *exec = mmap(win + 32 * pg, (size_t)pg, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    REQUIRE("map every region at its slot",
            file_ro == win && file_rw == win + 4 * pg && anon == win + 8 * pg && none == win + 13 * pg &&
                memfd == win + 16 * pg && shanon == win + 20 * pg && shm == win + 24 * pg && sysv == win + 28 * pg &&
                exec == win + 32 * pg);
    anon[0] = 1;
    file_rw[0] = 1;

    int bad = load_maps();
    CHECK_EQ("every line has range, perms, offset, device, inode and path columns", bad, 0);
    int order = 1;
    for (int i = 0; i < nlines; i++) {
        order &= lines[i].start < lines[i].end && (lines[i].start & (uintptr_t)(pg - 1)) == 0 &&
                 (lines[i].end & (uintptr_t)(pg - 1)) == 0;
        if (i > 0)
            order &= lines[i - 1].end <= lines[i].start;
    }
    check("lines are page aligned, ascending and disjoint", order, "out of order");
    describe_file("private read-only file mapping at page 1", file_ro, "/maps-probe.bin", "ends with /maps-probe.bin",
                  st.st_ino);
    describe_file("shared read-write file mapping", file_rw, "/maps-probe.bin", "ends with /maps-probe.bin", st.st_ino);
    describe("private anonymous", anon);
    describe("PROT_NONE", none);
    describe("memfd", memfd);
    describe("shared anonymous", shanon);
    char shm_path[80];
    snprintf(shm_path, sizeof shm_path, "/dev/shm%s", shm_name);
    struct stat sst;
    fstat(sfd, &sst);
    describe_file("shm_open object", shm, shm_path, "/dev/shm/<name>", sst.st_ino);
    describe("SysV segment", sysv);
    describe("anonymous PROT_READ|PROT_EXEC", exec);
    check("the gap after the anonymous region has no line", line_at(anon + 3 * pg) == NULL, "mapped");
    const struct line *l = line_at((void *)(uintptr_t)main);
    check("the program's code is r-xp and names a file", l && !strcmp(l->perms, "r-xp") && l->path[0] == '/',
          "%s", l ? l->perms : "no line");
    int heap = 0, stack = 0;
    for (int i = 0; i < nlines; i++) {
        heap += !strcmp(lines[i].path, "[heap]") && !strcmp(lines[i].perms, "rw-p");
        stack += !strcmp(lines[i].path, "[stack]") && !strcmp(lines[i].perms, "rw-p");
    }
    CHECK_EQ("one rw-p [heap] line", heap, 1);
    CHECK_EQ("one rw-p [stack] line", stack, 1);
    int on_stack = 0;
    l = line_at(&on_stack);
    check("a local variable lies in [stack]", l && !strcmp(l->path, "[stack]"), "elsewhere");

    CHECK_OK("mprotect the middle page of the anonymous region", mprotect(anon + pg, (size_t)pg, PROT_READ));
    CHECK_OK("munmap the PROT_NONE region", munmap(none, (size_t)pg));
    load_maps();
    describe("after mprotect: first page", anon);
    describe("after mprotect: middle page", anon + pg);
    describe("after mprotect: last page", anon + 2 * pg);
    check("the unmapped region's line is gone", line_at(none) == NULL, "still there");

    shmdt(sysv);
    shmctl(id, IPC_RMID, NULL);
    shm_unlink(shm_name);
    unlink("maps-probe.bin");
    return check_finish();
}
