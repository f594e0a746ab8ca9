/*
 * What a file mapping may do, given how the file was opened: O_RDONLY allows MAP_SHARED reading
 * and any MAP_PRIVATE mapping but no shared writing (not even by mprotect later); O_WRONLY
 * refuses, O_APPEND does not; directories and pipes cannot be mapped; /dev/zero maps as zero
 * memory; offsets must be page aligned and may lie past the end of the file.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    int fd = open("access.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 2-page file", fd >= 0 && ftruncate(fd, 2 * pg) == 0);
    pwrite(fd, "file", 4, 0);
    int rd = open("access.bin", O_RDONLY);
    int wr = open("access.bin", O_WRONLY);
    int ap = open("access.bin", O_RDWR | O_APPEND);
    REQUIRE("open it O_RDONLY, O_WRONLY, O_RDWR|O_APPEND", rd >= 0 && wr >= 0 && ap >= 0);

    char *s = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, rd, 0);
    check("O_RDONLY: MAP_SHARED PROT_READ", s != MAP_FAILED && memcmp(s, "file", 4) == 0, "errno %s", errname(errno));
    CHECK_ERR("O_RDONLY: mprotect of that mapping to PROT_WRITE", mprotect(s, (size_t)pg, PROT_READ | PROT_WRITE), EACCES);
    CHECK_OK("O_RDONLY: mprotect of it to PROT_READ|PROT_EXEC", mprotect(s, (size_t)pg, PROT_READ | PROT_EXEC));
    MMAP_ERR("O_RDONLY: MAP_SHARED PROT_WRITE", mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, rd, 0), EACCES);
    char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, rd, 0);
    check("O_RDONLY: MAP_PRIVATE PROT_WRITE", p != MAP_FAILED, "errno %s", errname(errno));
    if (p != MAP_FAILED) {
        p[0] = 'P';
        CHECK_EQ("a private write does not reach the shared view", s[0], 'f');
    }
    char *p2 = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, rd, 0);
    CHECK_OK("O_RDONLY: mprotect of a MAP_PRIVATE PROT_READ mapping to PROT_WRITE",
             mprotect(p2, (size_t)pg, PROT_READ | PROT_WRITE));
    MMAP_ERR("O_WRONLY: MAP_SHARED PROT_READ", mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, wr, 0), EACCES);
    MMAP_ERR("O_WRONLY: MAP_SHARED PROT_WRITE", mmap(NULL, (size_t)pg, PROT_WRITE, MAP_SHARED, wr, 0), EACCES);
    MMAP_ERR("O_WRONLY: MAP_PRIVATE PROT_READ", mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, wr, 0), EACCES);
    /* Only the append-only inode attribute (chattr +a) refuses shared writing, not O_APPEND. */
    char *apw = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0);
    check("O_APPEND: MAP_SHARED PROT_WRITE", apw != MAP_FAILED, "errno %s", errname(errno));
    if (apw != MAP_FAILED) {
        apw[pg - 1] = 'A';
        char c = 0;
        pread(fd, &c, 1, pg - 1);
        CHECK_EQ("writes through it reach the file in place", c, 'A');
    }

    int dir = open(".", O_RDONLY | O_DIRECTORY);
    MMAP_ERR("a directory", mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV);
    int pfd[2];
    REQUIRE("pipe", pipe(pfd) == 0);
    MMAP_ERR("a pipe", mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, pfd[0], 0), ENODEV);
    MMAP_ERR("a closed fd", mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, 999, 0), EBADF);
    int zero = open("/dev/zero", O_RDWR);
    REQUIRE("open /dev/zero", zero >= 0);
    char *z = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
    check("/dev/zero MAP_PRIVATE is zero memory", z != MAP_FAILED && z[0] == 0 && z[2 * pg - 1] == 0,
          "errno %s", errname(errno));
    if (z != MAP_FAILED) {
        z[1] = 'z';
        CHECK_EQ("and writable", z[1], 'z');
    }

    errno = 0;
    check("an unaligned offset", syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, fd, 100L) == -1 && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    long neg = syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_PRIVATE, fd, -pg);
    out("a negative page-aligned offset: %s\n", neg == -1 ? errname(errno) : "mapped");
    char *far = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 64 * pg);
    check("an offset past the end of the file maps", far != MAP_FAILED, "errno %s", errname(errno));
    char *tail = mmap(NULL, (size_t)(4 * pg), PROT_READ, MAP_SHARED, fd, pg);
    check("a mapping longer than the rest of the file maps", tail != MAP_FAILED, "errno %s", errname(errno));
    close(fd);
    unlink("access.bin");
    return check_finish();
}
