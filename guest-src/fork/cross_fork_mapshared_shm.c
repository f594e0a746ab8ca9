/* A POSIX shm object (shm_open, /dev/shm) stays shared across fork and holds both sides' writes. */
#include "mapshared.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char name[64];
    snprintf(name, sizeof name, "/elfvisor-mapshared-%d", (int)getpid());
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    REQUIRE("shm_open", fd >= 0);
    REQUIRE("size the object", ftruncate(fd, pg) == 0);
    volatile char *map = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap the shm object", map != MAP_FAILED);
    mapshared_exchange(map);
    mapshared_reconcile_fd(fd, "the shm object");
    int again = shm_open(name, O_RDWR, 0);
    check("shm_open of the existing name", again >= 0, "errno %s", errname(errno));
    mapshared_reconcile_fd(again, "a second shm_open of the object");
    CHECK_OK("shm_unlink", shm_unlink(name));
    CHECK_ERR("shm_open after unlink", shm_open(name, O_RDWR, 0), ENOENT);
    return check_finish();
}
