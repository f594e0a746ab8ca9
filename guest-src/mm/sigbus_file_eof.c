/*
 * A file mapping longer than the file: the partial last page reads the file then zeros, and a
 * store into that tail neither extends nor reaches the file; whole pages past the end raise
 * SIGBUS/BUS_ADRERR at the exact address (shared and private mappings, and a mapping that starts
 * past the end); growing the file makes them readable, shrinking it makes them fault again.
 */
#include "mm.h"
#include <sys/stat.h>

int main(void)
{
    mm_init();
    fault_install();
    int fd = open("short.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a file of one and a half pages", fd >= 0);
    char buf[65536];
    memset(buf, 'f', sizeof buf);
    long size = pg + pg / 2;
    REQUIRE("fill it", write(fd, buf, (size_t)size) == size);
    char *s = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("map 3 pages MAP_SHARED", s != MAP_FAILED);

    check_reads("the last byte of the file", s + size - 1, 'f');
    check_reads("the first byte past the end, same page", s + size, 0);
    check_reads("the last byte of the partial page", s + 2 * pg - 1, 0);
    check_writes("the tail of the partial page", s + size + 10, 't');
    struct stat st;
    fstat(fd, &st);
    CHECK_EQ("the store did not extend the file", st.st_size, size);
    CHECK_EQ("pread past the end reads nothing", pread(fd, buf, 16, size + 10), 0);
    check_fault("the first page wholly past the end", s + 2 * pg, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("the first page wholly past the end", s + 2 * pg + 77, ACC_WRITE, SIGBUS, BUS_ADRERR);
    check_fault("its last byte", s + 3 * pg - 1, ACC_READ, SIGBUS, BUS_ADRERR);

    char *p = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("map it 3 pages MAP_PRIVATE", p != MAP_FAILED);
    check_reads("MAP_PRIVATE: the partial page", p + pg, 'f');
    check_fault("MAP_PRIVATE: the page past the end", p + 2 * pg + 1, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("MAP_PRIVATE: the page past the end", p + 2 * pg + 2, ACC_WRITE, SIGBUS, BUS_ADRERR);
    char *far = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 8 * pg);
    REQUIRE("map one page at offset 8 pages", far != MAP_FAILED);
    check_fault("a mapping that starts past the end", far, ACC_READ, SIGBUS, BUS_ADRERR);

    CHECK_OK("grow the file to 3 pages", ftruncate(fd, 3 * pg));
    check_reads("the third page now", s + 2 * pg + 77, 0);
    check_reads("MAP_PRIVATE: the third page now", p + 3 * pg - 1, 0);
    s[2 * pg] = 'x';
    char c = 0;
    pread(fd, &c, 1, 2 * pg);
    CHECK_EQ("a store there reaches the file", c, 'x');

    CHECK_OK("shrink the file to half a page", ftruncate(fd, pg / 2));
    check_reads("the first page, inside the file", s + 5, 'f');
    check_reads("the first page, past the new end", s + pg / 2, 0);
    check_fault("the second page", s + pg, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("the third page", s + 2 * pg, ACC_READ, SIGBUS, BUS_ADRERR);
    check_fault("MAP_PRIVATE: the second page", p + pg, ACC_READ, SIGBUS, BUS_ADRERR);
    CHECK_OK("munmap", munmap(s, (size_t)(3 * pg)));
    munmap(p, (size_t)(3 * pg));
    munmap(far, (size_t)pg);
    close(fd);
    unlink("short.bin");
    return check_finish();
}
