/* A MAP_SHARED file mapping: coherent with read/write/pread and with a second mapping, no msync. */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    int fd = open("shared.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    REQUIRE("size the file", ftruncate(fd, 2 * pg) == 0);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap MAP_SHARED", m != MAP_FAILED);
    char *m2 = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("second mapping of the same file", m2 != MAP_FAILED && m2 != m);

    memcpy(m + 100, "through the map", 15);
    char buf[32] = {0};
    CHECK_EQ("pread", pread(fd, buf, 15, 100), 15);
    CHECK_MEM("pread sees the mapped write without msync", buf, "through the map", 15);
    CHECK_MEM("the second mapping sees it", m2 + 100, "through the map", 15);
    pwrite(fd, "by pwrite", 9, pg + 7);
    CHECK_MEM("the mapping sees pwrite", m + pg + 7, "by pwrite", 9);
    lseek(fd, 500, SEEK_SET);
    write(fd, "by write", 8);
    CHECK_MEM("the mapping sees write", m + 500, "by write", 8);
    memcpy(m2 + 1000, "second", 6);
    CHECK_MEM("the first mapping sees the second's write", m + 1000, "second", 6);

    CHECK_OK("munmap the first mapping", munmap(m, 2 * pg));
    CHECK_MEM("data survives in the second mapping", m2 + 100, "through the map", 15);
    close(fd);
    memcpy(m2 + 2000, "after close", 11);
    CHECK_OK("munmap the second mapping", munmap(m2, 2 * pg));
    fd = open("shared.bin", O_RDONLY);
    CHECK_EQ("pread after close and unmap", pread(fd, buf, 11, 2000), 11);
    CHECK_MEM("a write after close reached the file", buf, "after close", 11);
    struct stat st;
    fstat(fd, &st);
    CHECK_EQ("file size unchanged by mapping", st.st_size, 2 * pg);
    int ro = open("shared.bin", O_RDONLY);
    errno = 0;
    check("PROT_WRITE shared mapping of a read-only fd",
          mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES,
          "errno %s", errname(errno));
    unlink("shared.bin");
    return check_finish();
}
