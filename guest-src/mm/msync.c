/* msync: flag validation, alignment, unmapped ranges, and a successful MS_SYNC. */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    int fd = open("sync.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0 && ftruncate(fd, 2 * pg) == 0);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap MAP_SHARED", m != MAP_FAILED);
    memcpy(m, "synced", 6);
    CHECK_OK("msync MS_SYNC", msync(m, 2 * pg, MS_SYNC));
    CHECK_OK("msync MS_ASYNC", msync(m, pg, MS_ASYNC));
    CHECK_OK("msync MS_INVALIDATE", msync(m, pg, MS_INVALIDATE));
    CHECK_OK("msync of a partial page length", msync(m, 10, MS_SYNC));
    char buf[8] = {0};
    pread(fd, buf, 6, 0);
    CHECK_MEM("file holds the data", buf, "synced", 6);
    CHECK_ERR("MS_SYNC|MS_ASYNC together", msync(m, pg, MS_SYNC | MS_ASYNC), EINVAL);
    CHECK_ERR("unknown flag", msync(m, pg, 0x100), EINVAL);
    CHECK_ERR("unaligned address", msync(m + 1, pg, MS_SYNC), EINVAL);
    munmap(m + pg, pg);
    CHECK_ERR("range reaching an unmapped page", msync(m, 2 * pg, MS_SYNC), ENOMEM);
    char *anon = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_OK("msync of private anonymous memory", msync(anon, pg, MS_SYNC));
    unlink("sync.bin");
    return check_finish();
}
