/*
 * A MAP_PRIVATE file mapping next to a MAP_SHARED one of the same file: each private page follows
 * the file (writes through the shared mapping, pwrite) until the private mapping writes that page;
 * from then on that page alone is a private copy, which truncating the file still discards.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    int fd = open("follow.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 3-page file", fd >= 0);
    char page[65536];
    for (int i = 0; i < 3; i++) {
        memset(page, 'a' + i, (size_t)pg);
        NEED("fill a page", write(fd, page, (size_t)pg) == pg);
    }
    volatile char *p = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    volatile char *s = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("a MAP_PRIVATE and a MAP_SHARED mapping", p != MAP_FAILED && s != MAP_FAILED);

    CHECK_EQ("the private mapping reads the file", p[0], 'a');
    s[0] = 'X';
    CHECK_EQ("a page it has only read follows a write through the shared mapping", p[0], 'X');
    pwrite(fd, "Y", 1, 1);
    CHECK_EQ("and follows pwrite", p[1], 'Y');

    p[pg] = 'p';
    CHECK_EQ("a private write is not seen through the shared mapping", s[pg], 'b');
    char c = 0;
    pread(fd, &c, 1, pg);
    CHECK_EQ("nor in the file", c, 'b');
    s[pg + 1] = 'S';
    CHECK_EQ("the written page no longer follows the shared mapping", p[pg + 1], 'b');
    pwrite(fd, "W", 1, pg + 2);
    CHECK_EQ("nor pwrite", p[pg + 2], 'b');
    CHECK_EQ("it keeps the private write", p[pg], 'p');
    s[2 * pg] = 'Z';
    CHECK_EQ("the untouched third page still follows", p[2 * pg], 'Z');
    s[3] = 'Q';
    CHECK_EQ("and so does the first page, still only read", p[3], 'Q');

    CHECK_OK("mprotect the private mapping read-only", mprotect((void *)p, (size_t)(3 * pg), PROT_READ));
    CHECK_OK("and back", mprotect((void *)p, (size_t)(3 * pg), PROT_READ | PROT_WRITE));
    CHECK_EQ("the private copy survives mprotect", p[pg], 'p');
    s[4] = 'R';
    CHECK_EQ("and the first page still follows", p[4], 'R');

    CHECK_OK("ftruncate the file to zero and back", ftruncate(fd, 0) == 0 ? ftruncate(fd, 3 * pg) : -1);
    CHECK_EQ("a following page now reads the zeroed file", p[0], 0);
    /* truncate_pagecache() unmaps private copies too (even_cows): the copy is dropped. */
    CHECK_EQ("truncation drops the private copy as well", p[pg], 0);
    munmap((void *)p, (size_t)(3 * pg));
    munmap((void *)s, (size_t)(3 * pg));
    close(fd);
    unlink("follow.bin");
    return check_finish();
}
