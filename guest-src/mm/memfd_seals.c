/*
 * memfd seals: F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE (refused while a writable shared
 * mapping exists), F_SEAL_FUTURE_WRITE (existing mappings keep writing) and F_SEAL_SEAL.
 */
#include "mm.h"

static int seals(int fd)
{
    return fcntl(fd, F_GET_SEALS);
}

int main(void)
{
    mm_init();
    int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
    REQUIRE("memfd_create MFD_ALLOW_SEALING", fd >= 0 && ftruncate(fd, 2 * pg) == 0);
    CHECK_EQ("no seals at first", seals(fd), 0);

    CHECK_OK("add F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    CHECK_ERR("shrinking is refused", ftruncate(fd, pg), EPERM);
    CHECK_OK("growing is allowed", ftruncate(fd, 3 * pg));
    CHECK_OK("ftruncate to the same size is allowed", ftruncate(fd, 3 * pg));

    CHECK_OK("add F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    CHECK_ERR("growing is refused", ftruncate(fd, 4 * pg), EPERM);
    CHECK_ERR("a write past the end is refused", pwrite(fd, "x", 1, 3 * pg), EPERM);
    CHECK_EQ("a write inside the file is allowed", pwrite(fd, "in", 2, 0), 2);
    CHECK_EQ("both seals are reported", seals(fd), F_SEAL_SHRINK | F_SEAL_GROW);

    volatile char *w = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("writable shared mapping", w != MAP_FAILED);
    CHECK_ERR("F_SEAL_WRITE while a writable shared mapping exists", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
    volatile char *pv = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("writable private mapping", pv != MAP_FAILED);
    CHECK_OK("munmap the shared mapping", munmap((void *)w, (size_t)pg));
    CHECK_OK("F_SEAL_WRITE once it is gone (a private mapping does not count)",
             fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    CHECK_ERR("write is refused", pwrite(fd, "x", 1, 0), EPERM);
    CHECK_OK("ftruncate to the same size is not a write", ftruncate(fd, 3 * pg));
    errno = 0;
    check("a writable shared mapping is refused",
          mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM,
          "errno %s", errname(errno));
    volatile char *ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
    check("a read-only shared mapping is allowed", ro != MAP_FAILED, "errno %s", errname(errno));
    if (ro != MAP_FAILED) {
        CHECK_MEM("it reads the contents", (const char *)ro, "in", 2);
        CHECK_ERR("mprotect of it to PROT_WRITE", mprotect((void *)ro, (size_t)pg, PROT_READ | PROT_WRITE), EACCES);
    }
    pv[0] = 'P';
    CHECK_EQ("the private mapping still copies on write", pv[0], 'P');
    char c = 0;
    pread(fd, &c, 1, 0);
    CHECK_EQ("and the object is unchanged", c, 'i');
    volatile char *pv2 = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("a new writable private mapping is allowed", pv2 != MAP_FAILED, "errno %s", errname(errno));

    CHECK_OK("add F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    CHECK_ERR("no seal can be added after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), EPERM);
    CHECK_EQ("all four seals are reported", seals(fd), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    CHECK_ERR("an unknown seal bit", fcntl(fd, F_ADD_SEALS, 0x1000), EINVAL);

    int fw = memfd_create("future", MFD_ALLOW_SEALING);
    REQUIRE("second memfd", fw >= 0 && ftruncate(fw, pg) == 0);
    volatile char *old = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0);
    REQUIRE("writable shared mapping of it", old != MAP_FAILED);
    CHECK_OK("F_SEAL_FUTURE_WRITE with a writable shared mapping present", fcntl(fw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
    old[0] = 'o';
    c = 0;
    pread(fw, &c, 1, 0);
    CHECK_EQ("the existing mapping still writes the object", c, 'o');
    CHECK_ERR("write is refused", pwrite(fw, "x", 1, 0), EPERM);
    errno = 0;
    check("a new writable shared mapping is refused",
          mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0) == MAP_FAILED && errno == EPERM,
          "errno %s", errname(errno));

    int unsealable = memfd_create("unsealable", 0);
    CHECK_ERR("F_ADD_SEALS without MFD_ALLOW_SEALING", fcntl(unsealable, F_ADD_SEALS, F_SEAL_GROW), EPERM);
    int pipefd[2];
    pipe(pipefd);
    CHECK_ERR("F_GET_SEALS on a pipe", fcntl(pipefd[0], F_GET_SEALS), EINVAL);
    return check_finish();
}
