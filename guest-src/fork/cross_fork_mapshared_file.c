/* MAP_SHARED of a mkstemp file stays shared across fork and reaches the file on disk. */
#include "mapshared.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char path[] = "mapsharedXXXXXX";
    int fd = mkstemp(path);
    REQUIRE("mkstemp", fd >= 0);
    unlink(path);
    REQUIRE("size the file", ftruncate(fd, pg) == 0);
    volatile char *map = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap MAP_SHARED file", map != MAP_FAILED);
    mapshared_exchange(map);
    mapshared_reconcile_fd(fd, "the file on disk");
    return check_finish();
}
