/*
 * MREMAP_DONTUNMAP moves the pages but keeps the old range mapped: private anonymous memory reads
 * zero there afterwards, a private file mapping reads the file again, and shared mappings (anonymous
 * and file) still show the same object through both ranges. Argument rules: MAYMOVE and equal
 * sizes are required.
 */
#include "mm.h"

static char *dontunmap(void *old, long pages)
{
    return mremap(old, (size_t)(pages * pg), (size_t)(pages * pg), MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
}

int main(void)
{
    mm_init();
    char *a = map_anon(2);
    memset(a, 'a', (size_t)(2 * pg));
    char *na = dontunmap(a, 2);
    REQUIRE("private anonymous: MREMAP_DONTUNMAP", na != MAP_FAILED);
    check("the data moved", na != a && na[0] == 'a' && na[2 * pg - 1] == 'a', "contents differ");
    check_probe("the old range stays mapped", a, "rw");
    CHECK_EQ("and reads zero", a[0], 0);
    a[1] = 'o';
    CHECK_EQ("a write there does not reach the new range", na[1], 'a');

    int fd = open("dontunmap.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 2-page file", fd >= 0 && ftruncate(fd, 2 * pg) == 0 && pwrite(fd, "file", 4, 0) == 4);
    char *pf = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("a private file mapping", pf != MAP_FAILED);
    pf[0] = 'P';
    char *npf = dontunmap(pf, 2);
    check("private file: the private copy moved", npf != MAP_FAILED && npf[0] == 'P' && npf[1] == 'i', "errno %s",
          errname(errno));
    check_probe("the old range stays mapped", pf, "rw");
    CHECK_MEM("and reads the file again", pf, "file", 4);

    char *sh = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("a shared file mapping", sh != MAP_FAILED);
    char *nsh = dontunmap(sh, 2);
    check("shared file: MREMAP_DONTUNMAP", nsh != MAP_FAILED && memcmp(nsh, "file", 4) == 0, "errno %s",
          errname(errno));
    if (nsh != MAP_FAILED) {
        check_probe("the old range stays mapped", sh, "rw");
        nsh[pg] = 'n';
        CHECK_EQ("the old range sees writes through the new one", sh[pg], 'n');
        sh[pg + 1] = 'o';
        CHECK_EQ("and the other way round", nsh[pg + 1], 'o');
        char c = 0;
        pread(fd, &c, 1, pg);
        CHECK_EQ("both write the file", c, 'n');
    }

    char *sa = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared anonymous mapping", sa != MAP_FAILED);
    sa[0] = 's';
    char *nsa = dontunmap(sa, 1);
    check("shared anonymous: MREMAP_DONTUNMAP", nsa != MAP_FAILED && nsa[0] == 's', "errno %s", errname(errno));
    if (nsa != MAP_FAILED) {
        check_probe("the old range stays mapped", sa, "rw");
        CHECK_EQ("and still shows the object", sa[0], 's');
        nsa[1] = 't';
        CHECK_EQ("including writes through the new range", sa[1], 't');
    }

    char *fx = map_anon(2);
    char *b = map_anon(1);
    b[0] = 'b';
    char *to = mremap(b, (size_t)pg, (size_t)pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, fx + pg);
    check("with MREMAP_FIXED the pages land at the given address", to == fx + pg && fx[pg] == 'b', "errno %s",
          errname(errno));
    check_probe("the page below the target is untouched", fx, "rw");
    errno = 0;
    check("without MREMAP_MAYMOVE", mremap(b, (size_t)pg, (size_t)pg, MREMAP_DONTUNMAP) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("with a different new size",
          mremap(b, (size_t)pg, (size_t)(2 * pg), MREMAP_MAYMOVE | MREMAP_DONTUNMAP) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    close(fd);
    unlink("dontunmap.bin");
    return check_finish();
}
