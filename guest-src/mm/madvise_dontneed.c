/*
 * MADV_DONTNEED drops a range's pages: private anonymous memory reads zero again, a private file
 * page written by the process reads the file again, shared mappings (file and anonymous) keep
 * their contents; a range with a hole is applied around it and reported as ENOMEM; locked memory
 * refuses with EINVAL.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    char *a = map_anon(3);
    memset(a, 'a', (size_t)(3 * pg));
    CHECK_OK("private anonymous: MADV_DONTNEED of the middle page", madvise(a + pg, (size_t)pg, MADV_DONTNEED));
    check("the page reads zero", a[pg] == 0 && a[2 * pg - 1] == 0, "old contents");
    check("its neighbours keep their data", a[pg - 1] == 'a' && a[2 * pg] == 'a', "changed");
    a[pg] = 'n';
    CHECK_EQ("the page is usable again", a[pg], 'n');

    int fd = open("dontneed.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 2-page file", fd >= 0 && ftruncate(fd, 2 * pg) == 0 && pwrite(fd, "file", 4, 0) == 4);
    char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("private file mapping", p != MAP_FAILED);
    p[0] = 'P';
    CHECK_EQ("private file: the private write is there", p[0], 'P');
    CHECK_OK("MADV_DONTNEED", madvise(p, (size_t)(2 * pg), MADV_DONTNEED));
    CHECK_MEM("the page reads the file again", p, "file", 4);
    pwrite(fd, "F", 1, 0);
    CHECK_EQ("and follows the file again", p[0], 'F');

    char *s = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("shared file mapping", s != MAP_FAILED);
    s[pg] = 'S';
    CHECK_OK("shared file: MADV_DONTNEED", madvise(s, (size_t)(2 * pg), MADV_DONTNEED));
    CHECK_EQ("the shared write is kept", s[pg], 'S');
    char *sa = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("shared anonymous mapping", sa != MAP_FAILED);
    sa[0] = 'A';
    CHECK_OK("shared anonymous: MADV_DONTNEED", madvise(sa, (size_t)pg, MADV_DONTNEED));
    CHECK_EQ("the contents are kept", sa[0], 'A');

    char *h = map_anon(3);
    memset(h, 'h', (size_t)(3 * pg));
    munmap(h + pg, (size_t)pg);
    CHECK_ERR("MADV_DONTNEED over a hole", madvise(h, (size_t)(3 * pg), MADV_DONTNEED), ENOMEM);
    CHECK_EQ("the page before the hole was still dropped", h[0], 0);
    CHECK_EQ("and so was the page after it", h[2 * pg], 0);

    char *pn = map_anon(1);
    pn[0] = 'n';
    mprotect(pn, (size_t)pg, PROT_NONE);
    CHECK_OK("MADV_DONTNEED of a PROT_NONE page", madvise(pn, (size_t)pg, MADV_DONTNEED));
    mprotect(pn, (size_t)pg, PROT_READ);
    CHECK_EQ("it reads zero once readable again", pn[0], 0);

    char *l = map_anon(1);
    l[0] = 'l';
    REQUIRE("mlock a page", mlock(l, (size_t)pg) == 0);
    CHECK_ERR("MADV_DONTNEED of locked memory", madvise(l, (size_t)pg, MADV_DONTNEED), EINVAL);
    CHECK_EQ("the locked page keeps its data", l[0], 'l');
    munlock(l, (size_t)pg);
    close(fd);
    unlink("dontneed.bin");
    return check_finish();
}
