/*
 * remap_file_pages (mm/mmap.c), which Linux carries out as an mmap of the same object: pages
 * of a shared file mapping are made to show other pages of the file, in any order, and writes
 * through them reach those pages of the file; a shared anonymous mapping is rearranged the same
 * way. Errors: a protection other than 0, a private mapping, no mapping at the start, a range
 * running past its mapping into nothing, an empty range.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static long remap(void *start, size_t size, int prot, size_t pgoff, int flags)
{
    return syscall(SYS_remap_file_pages, start, size, prot, pgoff, flags);
}

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("pages", O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE("a file", fd >= 0);
    char *buf = malloc(page);
    for (int p = 0; p < 4; p++) {
        memset(buf, 'A' + p, page);
        NEED("write a page", pwrite(fd, buf, page, p * page) == page);
    }
    char *map = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap of 4 pages, shared", map != MAP_FAILED);

    CHECK_OK("page 0 shows file page 3", remap(map, page, 0, 3, 0));
    CHECK_EQ("it reads D", map[0] == 'D' && map[page - 1] == 'D', 1);
    CHECK_OK("pages 1 and 2 show file pages 0 and 1", remap(map + page, 2 * page, 0, 0, 0));
    CHECK_EQ("they read A and B", map[page] == 'A' && map[2 * page] == 'B', 1);
    CHECK_EQ("page 3 is untouched: D", map[3 * page], 'D');
    map[0] = 'z';
    char c = 0;
    CHECK_EQ("a write through page 0 reaches file page 3",
             pread(fd, &c, 1, 3 * page) == 1 && c == 'z', 1);
    CHECK_EQ("and shows in page 3's own view", map[3 * page], 'z');
    CHECK_OK("an unaligned start and size are rounded down", remap(map + 10, page + 10, 0, 2, 0));
    CHECK_EQ("page 0 shows C", map[0], 'C');

    char *anon = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared anonymous mapping", anon != MAP_FAILED);
    anon[0] = 'x';
    anon[page] = 'y';
    CHECK_OK("its page 0 shows its page 1", remap(anon, page, 0, 1, 0));
    CHECK_EQ("reads y", anon[0], 'y');

    CHECK_ERR("a protection other than 0", remap(map, page, PROT_READ, 0, 0), EINVAL);
    char *priv = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE("a private mapping", priv != MAP_FAILED);
    CHECK_ERR("a private mapping", remap(priv, page, 0, 1, 0), EINVAL);
    munmap(priv, page);
    CHECK_ERR("no mapping at the start", remap(priv, page, 0, 0, 0), EINVAL);
    CHECK_ERR("a range running past the mapping", remap(map + 3 * page, 4 * page, 0, 0, 0),
              EINVAL);
    CHECK_ERR("an empty range", remap(map, 0, 0, 0, 0), EINVAL);
    return check_finish();
}
