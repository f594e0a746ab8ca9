/*
 * madvise's other advice and its argument checks: the access-pattern hints and WILLNEED succeed
 * and change no contents, MADV_FREE is for private anonymous memory only (a later write cancels
 * it), MADV_REMOVE is for shared memory only and zeroes it; unknown advice and unaligned starts are
 * EINVAL, unmapped ranges ENOMEM, a zero length does nothing.
 */
#include "mm.h"

#define ADVISE(name, addr, len, advice, want_errno)                                            \
    do {                                                                                       \
        if ((want_errno) == 0)                                                                 \
            CHECK_OK(name, madvise((addr), (len), (advice)));                                  \
        else                                                                                   \
            CHECK_ERR(name, madvise((addr), (len), (advice)), (want_errno));                   \
    } while (0)

int main(void)
{
    mm_init();
    char *a = map_anon(4);
    memset(a, 'a', (size_t)(4 * pg));
    ADVISE("MADV_NORMAL", a, (size_t)(4 * pg), MADV_NORMAL, 0);
    ADVISE("MADV_RANDOM", a, (size_t)(4 * pg), MADV_RANDOM, 0);
    ADVISE("MADV_SEQUENTIAL", a, (size_t)(4 * pg), MADV_SEQUENTIAL, 0);
    ADVISE("MADV_WILLNEED on anonymous memory", a, (size_t)(4 * pg), MADV_WILLNEED, 0);
    ADVISE("MADV_DOFORK", a, (size_t)(4 * pg), MADV_DOFORK, 0);
    check("the hints left the contents alone", a[0] == 'a' && a[4 * pg - 1] == 'a', "changed");

    int fd = open("advice.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 2-page file", fd >= 0 && ftruncate(fd, 2 * pg) == 0 && pwrite(fd, "file", 4, 0) == 4);
    char *f = mmap(NULL, (size_t)(2 * pg), PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE("map it", f != MAP_FAILED);
    ADVISE("MADV_WILLNEED on a file mapping", f, (size_t)(2 * pg), MADV_WILLNEED, 0);
    CHECK_MEM("the file mapping reads the file", f, "file", 4);

    ADVISE("MADV_FREE on private anonymous memory", a, (size_t)(2 * pg), MADV_FREE, 0);
    a[0] = 'w';
    a[pg] = 'x';
    CHECK_EQ("a write after MADV_FREE sticks", a[0] + a[pg], 'w' + 'x');
    ADVISE("MADV_FREE on a file mapping", f, (size_t)pg, MADV_FREE, EINVAL);
    char *sa = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared anonymous mapping", sa != MAP_FAILED);
    sa[0] = 's';
    sa[pg] = 't';
    ADVISE("MADV_FREE on shared anonymous memory", sa, (size_t)pg, MADV_FREE, EINVAL);
    ADVISE("MADV_REMOVE on private anonymous memory", a, (size_t)pg, MADV_REMOVE, EINVAL);
    ADVISE("MADV_REMOVE on shared anonymous memory", sa, (size_t)pg, MADV_REMOVE, 0);
    CHECK_EQ("it punched the page out: zero", sa[0], 0);
    CHECK_EQ("the next page is kept", sa[pg], 't');

    ADVISE("unknown advice", a, (size_t)pg, 1000, EINVAL);
    ADVISE("an unaligned start", a + 1, (size_t)pg, MADV_NORMAL, EINVAL);
    ADVISE("length 0", a, 0, MADV_DONTNEED, 0);
    CHECK_EQ("did nothing", a[0], 'w');
    ADVISE("length 0 with an unaligned start", a + 1, 0, MADV_NORMAL, EINVAL);
    ADVISE("a length that is not a page multiple", a, 1, MADV_NORMAL, 0);
    ADVISE("a range that wraps around", a, (size_t)-pg, MADV_NORMAL, EINVAL);
    char *u = map_anon(1);
    munmap(u, (size_t)pg);
    ADVISE("an unmapped range", u, (size_t)pg, MADV_NORMAL, ENOMEM);
    ADVISE("MADV_WILLNEED on an unmapped range", u, (size_t)pg, MADV_WILLNEED, ENOMEM);
    ADVISE("unknown advice on an unmapped range", u, (size_t)pg, 1000, EINVAL);
    close(fd);
    unlink("advice.bin");
    return check_finish();
}
