/*
 * mremap of private anonymous memory beyond the basics: growing in place when the pages above
 * are free, ENOMEM without MREMAP_MAYMOVE when they are not, a move that leaves the old range
 * unmapped, moving one piece out of the middle of a mapping, old_len 0, and the range checks.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    char *win = mmap(NULL, (size_t)(16 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve 16 pages", win != MAP_FAILED);
    munmap(win + 2 * pg, (size_t)(14 * pg));
    memset(win, 'w', (size_t)(2 * pg));
    char *g = mremap(win, (size_t)(2 * pg), (size_t)(6 * pg), 0);
    check("grow in place into free pages", g == win, "errno %s", errname(errno));
    check("the old pages keep their data, the new ones are zero", win[2 * pg - 1] == 'w' && win[2 * pg] == 0 &&
                                                                      win[6 * pg - 1] == 0,
          "contents differ");
    check_probe("the last grown page", win + 6 * pg - 1, "rw");
    win[6 * pg - 1] = 'e';

    char *blocker = mmap(win + 6 * pg, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    REQUIRE("map a page right above it", blocker == win + 6 * pg);
    errno = 0;
    check("grow without MREMAP_MAYMOVE when the next page is taken",
          mremap(win, (size_t)(6 * pg), (size_t)(8 * pg), 0) == MAP_FAILED && errno == ENOMEM, "errno %s",
          errname(errno));
    char *m = mremap(win, (size_t)(6 * pg), (size_t)(8 * pg), MREMAP_MAYMOVE);
    REQUIRE("grow with MREMAP_MAYMOVE", m != MAP_FAILED);
    check("it moved", m != win, "same address");
    check("the data moved with it", m[0] == 'w' && m[6 * pg - 1] == 'e' && m[7 * pg] == 0, "contents differ");
    check_probe("the old range", win, "unmapped");
    check_probe("the blocker", blocker, "r-");

    m[3 * pg] = 'M';
    CHECK_OK("mprotect the middle page of the moved mapping PROT_READ", mprotect(m + 3 * pg, (size_t)pg, PROT_READ));
    char *piece = mremap(m + 3 * pg, (size_t)pg, (size_t)pg, MREMAP_MAYMOVE | MREMAP_FIXED, win);
    check("move one page out of the middle with MREMAP_FIXED", piece == win, "errno %s", errname(errno));
    check_probe("the moved page keeps its protection", win, "r-");
    CHECK_EQ("and its data", win[0], 'M');
    check_probe("its old place is a hole", m + 3 * pg, "unmapped");
    check_probe("the page before the hole", m + 2 * pg, "rw");
    check_probe("the page after the hole", m + 4 * pg, "rw");
    errno = 0;
    check("mremap of a range spanning the hole", mremap(m, (size_t)(5 * pg), (size_t)(6 * pg), MREMAP_MAYMOVE) == MAP_FAILED &&
                                                     errno == EFAULT,
          "errno %s", errname(errno));

    errno = 0;
    check("old_len 0 on a private mapping", mremap(m, 0, (size_t)pg, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("new_len 0", mremap(m, (size_t)pg, 0, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL, "errno %s",
          errname(errno));
    errno = 0;
    check("MREMAP_FIXED onto an overlapping range",
          mremap(m, (size_t)(2 * pg), (size_t)(2 * pg), MREMAP_MAYMOVE | MREMAP_FIXED, m + pg) == MAP_FAILED &&
              errno == EINVAL,
          "errno %s", errname(errno));
    char *same = mremap(m, (size_t)(2 * pg), (size_t)(2 * pg), 0);
    check("the same size is a no-op", same == m, "errno %s", errname(errno));
    char *shr = mremap(m + 4 * pg, (size_t)(4 * pg), (size_t)pg + 1, 0);
    check("shrink with a new length that is not page aligned", shr == m + 4 * pg, "errno %s", errname(errno));
    check_probe("the page holding the unaligned end stays", m + 5 * pg, "rw");
    check_probe("the page after it is released", m + 6 * pg, "unmapped");
    munmap(m, (size_t)(8 * pg));
    munmap(win, (size_t)(7 * pg));
    return check_finish();
}
