/*
 * mremap of MAP_SHARED|MAP_ANONYMOUS memory: the object keeps the size it was created with, so a
 * mapping grown past it raises SIGBUS/BUS_ADRERR at the exact address beyond the object (in place
 * or moved), shrinking and regrowing keeps the object's pages, and old_len 0 makes a second
 * mapping of the same object.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    fault_install();
    char *win = mmap(NULL, (size_t)(16 * pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve 16 pages", win != MAP_FAILED);
    munmap(win, (size_t)(16 * pg));
    char *s = mmap(win, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    REQUIRE("a 2-page MAP_SHARED|MAP_ANONYMOUS mapping", s == win);
    s[0] = 'a';
    s[pg] = 'b';

    char *g = mremap(s, (size_t)(2 * pg), (size_t)(4 * pg), 0);
    check("grow to 4 pages in place", g == s, "errno %s", errname(errno));
    check_reads("the object's second page", s + pg, 'b');
    check_fault("the third page, past the object", s + 2 * pg + 9, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("the fourth page, past the object", s + 4 * pg - 1, ACC_WRITE, SIGBUS, BUS_ADRERR);
    check_probe("the grown range past the object (mapped, but EFAULT to system calls)", s + 3 * pg, "--");

    char *m = mremap(s, (size_t)(4 * pg), (size_t)(6 * pg), MREMAP_MAYMOVE | MREMAP_FIXED, win + 8 * pg);
    REQUIRE("move and grow to 6 pages", m == win + 8 * pg);
    check_reads("the moved object's first page", m, 'a');
    check_fault("the moved mapping's fifth page", m + 4 * pg, ACC_READ, SIGBUS, BUS_ADRERR);

    char *sh = mremap(m, (size_t)(6 * pg), (size_t)pg, 0);
    check("shrink to one page", sh == m, "errno %s", errname(errno));
    check_probe("the second page is released", m + pg, "unmapped");
    char *rg = mremap(m, (size_t)pg, (size_t)(2 * pg), 0);
    check("grow back to two pages", rg == m, "errno %s", errname(errno));
    check_reads("the object's second page after the shrink and regrowth", m + pg, 'b');

    char *dup = mremap(m, 0, (size_t)(2 * pg), MREMAP_MAYMOVE);
    check("old_len 0 makes a second mapping of the object", dup != MAP_FAILED && dup != m, "errno %s",
          errname(errno));
    if (dup != MAP_FAILED) {
        check_probe("the original mapping stays", m, "rw");
        check_reads("the duplicate", dup + pg, 'b');
        dup[5] = 'd';
        CHECK_EQ("a write through the duplicate is seen through the original", m[5], 'd');
        m[pg + 5] = 'e';
        CHECK_EQ("and the other way round", dup[pg + 5], 'e');
    }
    return check_finish();
}
