/*
 * memfd_create: an anonymous regular file sized with ftruncate; two MAP_SHARED mappings and the
 * fd's read/write all see one object, a MAP_PRIVATE mapping copies on write, and the mappings
 * outlive the fd.
 */
#include "mm.h"
#include <sys/stat.h>

int main(void)
{
    mm_init();
    int fd = memfd_create("elfvisor-mm", MFD_CLOEXEC);
    REQUIRE("memfd_create", fd >= 0);
    check("MFD_CLOEXEC sets FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC, "flags %d", fcntl(fd, F_GETFD));
    struct stat st;
    REQUIRE("fstat", fstat(fd, &st) == 0);
    check("a memfd is a regular file", S_ISREG(st.st_mode), "mode %o", (unsigned)st.st_mode);
    CHECK_EQ("a memfd starts empty", st.st_size, 0);
    CHECK_EQ("its permission bits are 0777", st.st_mode & 07777, 0777);
    CHECK_OK("ftruncate to 2 pages", ftruncate(fd, 2 * pg));
    fstat(fd, &st);
    CHECK_EQ("fstat sees the new size", st.st_size, 2 * pg);

    volatile char *m1 = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    volatile char *m2 = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("two MAP_SHARED mappings", m1 != MAP_FAILED && m2 != MAP_FAILED && m1 != m2);
    check("the object is zero-filled", m1[0] == 0 && m1[2 * pg - 1] == 0, "non-zero");
    memcpy((char *)m1 + 10, "first", 5);
    CHECK_MEM("the second mapping sees the first's write", (const char *)m2 + 10, "first", 5);
    memcpy((char *)m2 + pg + 20, "second", 6);
    CHECK_MEM("the first mapping sees the second's write", (const char *)m1 + pg + 20, "second", 6);
    char buf[16] = {0};
    CHECK_EQ("pread", pread(fd, buf, 5, 10), 5);
    CHECK_MEM("pread sees the mapped write", buf, "first", 5);
    CHECK_EQ("pwrite", pwrite(fd, "by fd", 5, 100), 5);
    CHECK_MEM("the mappings see pwrite", (const char *)m1 + 100, "by fd", 5);
    CHECK_EQ("read through the file offset", (lseek(fd, 10, SEEK_SET), read(fd, buf, 5)), 5);
    CHECK_MEM("read sees the mapped write", buf, "first", 5);

    volatile char *pv = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("MAP_PRIVATE mapping", pv != MAP_FAILED);
    CHECK_MEM("the private mapping sees the object", (const char *)pv + 10, "first", 5);
    pv[10] = 'F';
    CHECK_EQ("a private write stays private", m1[10], 'f');
    m1[11] = 'I';
    CHECK_EQ("the private copy no longer follows the object", pv[11], 'i');

    CHECK_OK("close the memfd", close(fd));
    m1[0] = 'z';
    CHECK_EQ("the mappings outlive the fd", m2[0], 'z');
    CHECK_OK("munmap", munmap((void *)m1, (size_t)(2 * pg)));
    CHECK_EQ("the last mapping keeps the object", m2[pg + 20], 's');
    munmap((void *)m2, (size_t)(2 * pg));
    munmap((void *)pv, (size_t)pg);

    int plain = memfd_create("plain", 0);
    CHECK_EQ("without MFD_CLOEXEC the fd stays open on exec", fcntl(plain, F_GETFD), 0);
    CHECK_EQ("without MFD_ALLOW_SEALING the memfd is sealed against sealing", fcntl(plain, F_GET_SEALS),
             F_SEAL_SEAL);
    close(plain);
    CHECK_ERR("memfd_create with an unknown flag", memfd_create("bad", 0x100), EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ERR("memfd_create with a name over 249 bytes", memfd_create(longname, 0), EINVAL);
    CHECK_ERR("memfd_create with a bad name pointer", (int)syscall(SYS_memfd_create, (void *)8, 0), EFAULT);
    return check_finish();
}
