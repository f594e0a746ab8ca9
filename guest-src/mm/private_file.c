/* A MAP_PRIVATE file mapping: reads the file, writes stay private, untouched pages follow the file. */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    int fd = open("priv.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    char *page = malloc((size_t)pg);
    memset(page, 'A', (size_t)pg);
    write(fd, page, (size_t)pg);
    memset(page, 'B', (size_t)pg);
    write(fd, page, (size_t)pg);
    write(fd, "tail", 4);

    char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("mmap MAP_PRIVATE", m != MAP_FAILED);
    check("first page from the file", m[0] == 'A' && m[pg - 1] == 'A', "got %c", m[0]);
    check("second page from the file", m[pg] == 'B', "got %c", m[pg]);
    CHECK_MEM("partial last page", m + 2 * pg, "tail", 4);
    check("rest of the last page is zero", m[2 * pg + 4] == 0 && m[3 * pg - 1] == 0, "non-zero");

    m[0] = 'x';
    char c = 0;
    pread(fd, &c, 1, 0);
    CHECK_EQ("private write does not reach the file", c, 'A');
    pwrite(fd, "y", 1, 1);
    CHECK_EQ("a written page no longer follows the file", m[1], 'A');
    pwrite(fd, "z", 1, pg);
    CHECK_EQ("an untouched page follows the file", m[pg], 'z');

    char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, pg);
    REQUIRE("mmap at a file offset", ro != MAP_FAILED);
    CHECK_EQ("offset mapping sees the file", ro[0], 'z');
    errno = 0;
    check("unaligned offset", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    int wo = open("priv.bin", O_WRONLY);
    errno = 0;
    check("mapping a write-only fd", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, wo, 0) == MAP_FAILED && errno == EACCES,
          "errno %s", errname(errno));
    CHECK_OK("munmap", munmap(m, 3 * pg));
    munmap(ro, pg);
    close(fd);
    unlink("priv.bin");
    return check_finish();
}
