/*
 * munmap and mprotect of part of a mapping split it: the middle page of a 3-page mapping is
 * removed or re-protected while the neighbours keep their contents and protections; ranges that
 * span holes; lengths rounded up to whole pages. States are probed through system calls, with no
 * signal handler.
 */
#include "mm.h"

static char *three(void)
{
    char *p = map_anon(3);
    memset(p, 'a', (size_t)pg);
    memset(p + pg, 'b', (size_t)pg);
    memset(p + 2 * pg, 'c', (size_t)pg);
    return p;
}

int main(void)
{
    mm_init();
    char *p = three();
    CHECK_OK("munmap the middle page", munmap(p + pg, (size_t)pg));
    check_probe("first page", p, "rw");
    check_probe("middle page", p + pg, "unmapped");
    check_probe("last page", p + 2 * pg, "rw");
    check("the neighbours keep their contents", p[pg - 1] == 'a' && p[2 * pg] == 'c', "changed");
    p[0] = 'A';
    p[3 * pg - 1] = 'C';
    CHECK_EQ("the neighbours stay writable", p[0] + p[3 * pg - 1], 'A' + 'C');
    CHECK_ERR("mprotect across the hole", mprotect(p, (size_t)(3 * pg), PROT_READ), ENOMEM);
    check_probe("mprotect changed the page before the hole", p, "r-");
    check_probe("but not the page after it", p + 2 * pg, "rw");
    char *m = mmap(p + pg, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("the hole can be mapped again", m == p + pg, "errno %s", errname(errno));
    CHECK_EQ("as fresh memory", p[pg], 0);
    CHECK_OK("mprotect of the three pieces at once", mprotect(p, (size_t)(3 * pg), PROT_READ | PROT_WRITE));
    check_probe("first page", p, "rw");
    CHECK_OK("munmap across all three pieces", munmap(p, (size_t)(3 * pg)));
    check_probe("first page", p, "unmapped");
    check_probe("last page", p + 2 * pg, "unmapped");

    p = three();
    CHECK_OK("mprotect the middle page PROT_READ", mprotect(p + pg, (size_t)pg, PROT_READ));
    check_probe("first page", p, "rw");
    check_probe("middle page", p + pg, "r-");
    check_probe("last page", p + 2 * pg, "rw");
    CHECK_OK("mprotect the middle page PROT_NONE", mprotect(p + pg, (size_t)pg, PROT_NONE));
    check_probe("middle page", p + pg, "--");
    p[0] = 'x';
    p[2 * pg] = 'y';
    CHECK_EQ("writes around the PROT_NONE page work", p[0] + p[2 * pg], 'x' + 'y');
    CHECK_OK("mprotect it back to PROT_READ|PROT_WRITE", mprotect(p + pg, (size_t)pg, PROT_READ | PROT_WRITE));
    CHECK_EQ("its contents survived PROT_NONE", p[pg + 5], 'b');
    CHECK_OK("mprotect of one byte covers the whole page", mprotect(p + 2 * pg, 1, PROT_READ));
    check_probe("last page, end of it", p + 3 * pg - 1, "r-");
    CHECK_OK("mprotect of length 0", mprotect(p, 0, PROT_NONE));
    check_probe("did nothing", p, "rw");
    CHECK_ERR("mprotect with an unknown PROT bit", mprotect(p, (size_t)pg, 0x100), EINVAL);
    CHECK_ERR("PROT_GROWSDOWN on a mapping that does not grow down", mprotect(p, (size_t)pg, PROT_READ | PROT_GROWSDOWN),
              EINVAL);
    CHECK_OK("munmap of one byte removes the whole page", munmap(p + 2 * pg, 1));
    check_probe("last page", p + 2 * pg, "unmapped");
    check_probe("middle page", p + pg, "rw");
    CHECK_OK("munmap of a range that is partly a hole", munmap(p + pg, (size_t)(2 * pg)));
    check_probe("middle page", p + pg, "unmapped");
    check_probe("first page", p, "rw");
    CHECK_ERR("munmap of a range that wraps around", munmap(p, (size_t)-pg), EINVAL);
    CHECK_OK("munmap the rest", munmap(p, (size_t)pg));
    return check_finish();
}
