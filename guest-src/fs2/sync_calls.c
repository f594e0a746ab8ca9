/*
 * The sync family on each kind of descriptor (fs/sync.c): sync, syncfs, fsync and fdatasync of
 * files and directories succeed; fsync and fdatasync of pipes, sockets, eventfds and
 * /dev/null are EINVAL (no fsync operation), of an O_PATH descriptor EBADF;
 * sync_file_range's flag, offset and descriptor checks.
 */
#include "fs2.h"
#include <sys/eventfd.h>
#include <sys/socket.h>

static long sfr(int fd, long off, long len, unsigned flags)
{
    return syscall(SYS_sync_file_range, fd, off, len, flags);
}

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0 && write(fd, "data", 4) == 4);
    sync();
    check("sync returns", 1, "-");
    CHECK_OK("syncfs of a file", syncfs(fd));
    CHECK_OK("fsync of a file", fsync(fd));
    CHECK_OK("fdatasync of a file", fdatasync(fd));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    CHECK_OK("fsync of a directory", fsync(dir));
    CHECK_OK("syncfs of a directory", syncfs(dir));
    int ro = open("f", O_RDONLY);
    CHECK_OK("fsync of a read-only descriptor", fsync(ro));
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_ERR("fsync of a pipe", fsync(p[1]), EINVAL);
    CHECK_ERR("fdatasync of a pipe", fdatasync(p[0]), EINVAL);
    CHECK_OK("syncfs of a pipe", syncfs(p[0]));
    int sv[2];
    NEED("a socket pair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_ERR("fsync of a socket", fsync(sv[0]), EINVAL);
    int ev = eventfd(0, 0);
    CHECK_ERR("fsync of an eventfd", fsync(ev), EINVAL);
    int null = open("/dev/null", O_WRONLY);
    CHECK_ERR("fsync of /dev/null", fsync(null), EINVAL);
    int opath = open("f", O_PATH);
    CHECK_ERR("fsync of an O_PATH descriptor", fsync(opath), EBADF);
    CHECK_ERR("syncfs of an O_PATH descriptor", syncfs(opath), EBADF);
    CHECK_ERR("fsync of a bad descriptor", fsync(99), EBADF);
    CHECK_ERR("syncfs of a bad descriptor", syncfs(99), EBADF);

    CHECK_OK("sync_file_range with no flags", sfr(fd, 0, 0, 0));
    CHECK_OK("sync_file_range writing and waiting", sfr(fd, 0, 4, 7));
    CHECK_ERR("sync_file_range with an unknown flag", sfr(fd, 0, 4, 8), EINVAL);
    CHECK_ERR("sync_file_range at a negative offset", sfr(fd, -1, 4, 0), EINVAL);
    CHECK_ERR("sync_file_range of a negative length", sfr(fd, 0, -4, 0), EINVAL);
    CHECK_ERR("sync_file_range of a pipe", sfr(p[1], 0, 4, 2), ESPIPE);
    CHECK_ERR("sync_file_range of a bad descriptor", sfr(99, 0, 4, 2), EBADF);
    return check_finish();
}
