/*
 * mremap of a MAP_SHARED file mapping: growing maps more of the file (in place or moved), a
 * move keeps the mapping coherent with the file, pages past the end of the file raise
 * SIGBUS/BUS_ADRERR until the file grows, shrinking releases the tail, and old_len 0 makes a
 * second mapping.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    fault_install();
    int fd = open("remap.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a 4-page file", fd >= 0 && ftruncate(fd, 4 * pg) == 0);
    for (int i = 0; i < 4; i++)
        NEED("mark a page", pwrite(fd, "0123" + i, 1, i * pg) == 1);
    char *win = mmap(NULL, (size_t)(16 * pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve 16 pages", win != MAP_FAILED);
    munmap(win, (size_t)(16 * pg));
    char *s = mmap(win, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    REQUIRE("map the first 2 pages", s == win);

    char *g = mremap(s, (size_t)(2 * pg), (size_t)(4 * pg), 0);
    check("grow to 4 pages in place", g == s, "errno %s", errname(errno));
    check_reads("the grown part, the file's fourth page", s + 3 * pg, '3');
    s[2 * pg + 1] = 'g';
    char c = 0;
    pread(fd, &c, 1, 2 * pg + 1);
    CHECK_EQ("a write to the grown part reaches the file", c, 'g');

    char *m = mremap(s, (size_t)(4 * pg), (size_t)(6 * pg), MREMAP_MAYMOVE | MREMAP_FIXED, win + 8 * pg);
    REQUIRE("move and grow to 6 pages", m == win + 8 * pg);
    check_probe("the old range", win, "unmapped");
    check_reads("the moved mapping's first page", m, '0');
    pwrite(fd, "W", 1, 1);
    check_reads("the moved mapping after a pwrite", m + 1, 'W');
    check_fault("the fifth page, past the end of the file", m + 4 * pg + 2, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("the sixth page, past the end of the file", m + 6 * pg - 1, ACC_WRITE, SIGBUS, BUS_ADRERR);
    CHECK_OK("grow the file to 6 pages", ftruncate(fd, 6 * pg));
    check_reads("the fifth page now", m + 4 * pg + 2, 0);
    check_writes("the sixth page now", m + 6 * pg - 1, 's');
    pread(fd, &c, 1, 6 * pg - 1);
    CHECK_EQ("and that write reaches the file", c, 's');

    char *sh = mremap(m, (size_t)(6 * pg), (size_t)(3 * pg), 0);
    check("shrink to 3 pages", sh == m, "errno %s", errname(errno));
    check_probe("the fourth page is released", m + 3 * pg, "unmapped");
    check_reads("the third page, kept", m + 2 * pg + 1, 'g');

    char *dup = mremap(m, 0, (size_t)(2 * pg), MREMAP_MAYMOVE);
    check("old_len 0 makes a second mapping of the same file pages", dup != MAP_FAILED && dup != m, "errno %s",
          errname(errno));
    if (dup != MAP_FAILED) {
        dup[pg + 7] = 'd';
        CHECK_EQ("the original sees writes through it", m[pg + 7], 'd');
        munmap(dup, (size_t)(2 * pg));
    }
    munmap(m, (size_t)(3 * pg));
    close(fd);
    unlink("remap.bin");
    return check_finish();
}
