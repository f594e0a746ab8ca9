/*
 * mmap flags that change little or nothing visible: MAP_NORESERVE, MAP_POPULATE, MAP_STACK,
 * MAP_LOCKED, the ignored legacy flags and unknown bits; MAP_SHARED_VALIDATE, which refuses what
 * it does not know; the flag combinations mmap refuses; and unknown PROT bits, which mmap ignores.
 */
#include "mm.h"

static int works(char *p, long pages)
{
    if (p == MAP_FAILED)
        return 0;
    for (long i = 0; i < pages; i++)
        if (p[i * pg] != 0)
            return 0;
    for (long i = 0; i < pages; i++)
        p[i * pg + 1] = (char)(i + 1);
    for (long i = 0; i < pages; i++)
        if (p[i * pg + 1] != (char)(i + 1))
            return 0;
    return 1;
}

static char *anon(int extra, long pages)
{
    return mmap(NULL, (size_t)(pages * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
}

#define FLAG_WORKS(name, extra)                                                                \
    do {                                                                                       \
        errno = 0;                                                                             \
        char *p_ = anon((extra), 8);                                                           \
        check(name, works(p_, 8), "errno %s", errname(errno));                                 \
        if (p_ != MAP_FAILED)                                                                  \
            munmap(p_, (size_t)(8 * pg));                                                      \
    } while (0)

int main(void)
{
    mm_init();
    FLAG_WORKS("MAP_NORESERVE: zero-filled and writable", MAP_NORESERVE);
    FLAG_WORKS("MAP_POPULATE: zero-filled and writable", MAP_POPULATE);
    FLAG_WORKS("MAP_STACK: zero-filled and writable", MAP_STACK);
    FLAG_WORKS("MAP_LOCKED: zero-filled and writable", MAP_LOCKED);
    FLAG_WORKS("MAP_NONBLOCK|MAP_POPULATE: zero-filled and writable", MAP_NONBLOCK | MAP_POPULATE);
    FLAG_WORKS("MAP_DENYWRITE and MAP_EXECUTABLE are ignored", MAP_DENYWRITE | MAP_EXECUTABLE);
    FLAG_WORKS("an unknown flag bit is ignored by MAP_PRIVATE", 0x400000);

    int fd = open("flags.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 2-page file", fd >= 0 && ftruncate(fd, 2 * pg) == 0);
    pwrite(fd, "populated", 9, pg);
    char *sp = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    check("MAP_SHARED|MAP_POPULATE of a file", sp != MAP_FAILED && memcmp(sp + pg, "populated", 9) == 0,
          "errno %s", errname(errno));
    char *v = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE, fd, 0);
    check("MAP_SHARED_VALIDATE with no other flag maps the file", v != MAP_FAILED && memcmp(v + pg, "populated", 9) == 0,
          "errno %s", errname(errno));
    if (v != MAP_FAILED) {
        v[0] = 'v';
        char c = 0;
        pread(fd, &c, 1, 0);
        CHECK_EQ("and is shared", c, 'v');
        munmap(v, (size_t)(2 * pg));
    }
    v = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED_VALIDATE | MAP_POPULATE | MAP_NORESERVE, fd, 0);
    check("MAP_SHARED_VALIDATE with legacy flags", v != MAP_FAILED, "errno %s", errname(errno));
    MMAP_ERR("MAP_SHARED_VALIDATE with an unknown flag bit",
             mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED_VALIDATE | 0x400000, fd, 0), EOPNOTSUPP);
    MMAP_ERR("MAP_SHARED_VALIDATE|MAP_SYNC of a file that is not DAX",
             mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0), EOPNOTSUPP);
    char *u = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED | 0x400000, fd, 0);
    check("MAP_SHARED ignores the same unknown bit", u != MAP_FAILED, "errno %s", errname(errno));
    char *sva = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0);
    out("MAP_SHARED_VALIDATE|MAP_ANONYMOUS: %s\n", sva != MAP_FAILED ? "mapped" : errname(errno));
    if (sva != MAP_FAILED)
        munmap(sva, (size_t)pg);

    MMAP_ERR("a mapping type of 0x0f", mmap(NULL, (size_t)pg, PROT_READ, 0x0f | MAP_ANONYMOUS, -1, 0), EINVAL);
    MMAP_ERR("MAP_GROWSDOWN with MAP_SHARED|MAP_ANONYMOUS",
             mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0), EINVAL);
    /* mmap never validates prot (mprotect does: see split_vma). */
    char *odd = mmap(NULL, (size_t)pg, PROT_READ | 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap ignores an unknown PROT bit", odd != MAP_FAILED, "errno %s", errname(errno));
    MMAP_ERR("a length that overflows when rounded", mmap(NULL, (size_t)-100, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
             ENOMEM);
    char *ign = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 77, 12345 * pg);
    check("MAP_ANONYMOUS ignores fd and offset", ign != MAP_FAILED && ign[0] == 0, "errno %s", errname(errno));
    close(fd);
    unlink("flags.bin");
    return check_finish();
}
