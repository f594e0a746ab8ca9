/*
 * MAP_FIXED replaces exactly the pages it covers (anonymous or file) and leaves the neighbours;
 * MAP_FIXED_NOREPLACE maps a free range at the given address but refuses any overlap with EEXIST.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    char *p = map_anon(4);
    for (int i = 0; i < 4; i++)
        memset(p + i * pg, 'a' + i, (size_t)pg);

    char *f = mmap(p + pg, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED over the middle two pages returns the address", f == p + pg, "other address");
    check("the replaced pages are zero", p[pg] == 0 && p[3 * pg - 1] == 0, "old contents");
    check("the neighbours keep their contents", p[pg - 1] == 'a' && p[3 * pg] == 'd', "changed");
    check_probe("the first page", p, "rw");
    check_probe("the last page", p + 3 * pg, "rw");

    int fd = open("fixed.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a one-page file of 'F'", fd >= 0);
    char page[65536];
    memset(page, 'F', sizeof page);
    NEED("fill it", write(fd, page, (size_t)pg) == pg);
    char *ff = mmap(p + 2 * pg, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    check("MAP_FIXED of a file over the third page", ff == p + 2 * pg, "errno %s", errname(errno));
    CHECK_EQ("it shows the file", p[2 * pg], 'F');
    check_probe("with the file mapping's protection", p + 2 * pg, "r-");
    CHECK_EQ("the page before it is untouched", p[pg], 0);

    errno = 0;
    char *nr = mmap(p, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check("MAP_FIXED_NOREPLACE over a mapped page", nr == MAP_FAILED && errno == EEXIST, "errno %s", errname(errno));
    CHECK_EQ("the page is untouched", p[0], 'a');
    CHECK_OK("unmap the last page", munmap(p + 3 * pg, (size_t)pg));
    errno = 0;
    nr = mmap(p + 2 * pg, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check("MAP_FIXED_NOREPLACE overlapping one mapped page", nr == MAP_FAILED && errno == EEXIST,
          "errno %s", errname(errno));
    check_probe("the free page stays free", p + 3 * pg, "unmapped");
    nr = mmap(p + 3 * pg, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check("MAP_FIXED_NOREPLACE of the free page uses the address", nr == p + 3 * pg, "errno %s", errname(errno));
    CHECK_EQ("and is zero", p[3 * pg], 0);
    errno = 0;
    check("MAP_FIXED_NOREPLACE at an unaligned address",
          mmap(p + 1, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED &&
              errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("MAP_FIXED at an unaligned address",
          mmap(p + 1, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    CHECK_EQ("the failed calls changed nothing", p[0], 'a');
    CHECK_OK("munmap all four pages", munmap(p, (size_t)(4 * pg)));
    close(fd);
    unlink("fixed.bin");
    return check_finish();
}
