/*
 * mknodat makes FIFOs, socket nodes, regular files and (as root) device nodes, each with the
 * umask applied (fs/namei.c, do_mknodat): opening a FIFO for writing without a reader is
 * ENXIO, opening a socket node is ENXIO and connecting to one without a listener is
 * ECONNREFUSED; directories are EPERM and symlinks EINVAL; a user who is not root gets
 * EPERM for a device but may make FIFOs.
 */
#include "fs2.h"
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

static long mk(const char *path, unsigned mode, unsigned long dev)
{
    return syscall(SYS_mknodat, AT_FDCWD, path, mode, dev);
}

static void not_root(void)
{
    CHECK_ERR("a character device as nobody", mk("dev2", S_IFCHR | 0600, makedev(1, 3)), EPERM);
    CHECK_ERR("a block device as nobody", mk("blk2", S_IFBLK | 0600, makedev(7, 0)), EPERM);
    CHECK_OK("a FIFO as nobody", mk("fifo2", S_IFIFO | 0600, 0));
    CHECK_OK("a socket node as nobody", mk("sock2", S_IFSOCK | 0600, 0));
}

int main(void)
{
    enter_shm_dir();
    umask(022);
    struct stat st;

    CHECK_OK("a FIFO", mk("fifo", S_IFIFO | 0666, 0));
    lstat("fifo", &st);
    CHECK_EQ("is a FIFO", S_ISFIFO(st.st_mode), 1);
    CHECK_EQ("with the umask applied", st.st_mode & 0777, 0644);
    int r = open("fifo", O_RDONLY | O_NONBLOCK);
    CHECK_OK("opening it to read without a writer", r);
    int w = open("fifo", O_WRONLY | O_NONBLOCK);
    CHECK_OK("opening it to write with a reader", w);
    CHECK_EQ("a byte through it", write(w, "z", 1), 1);
    char c = 0;
    CHECK_EQ("read back", read(r, &c, 1) == 1 && c == 'z', 1);
    close(r);
    close(w);
    CHECK_ERR("opening it to write without a reader", open("fifo", O_WRONLY | O_NONBLOCK), ENXIO);

    CHECK_OK("a socket node", mk("sock", S_IFSOCK | 0600, 0));
    lstat("sock", &st);
    CHECK_EQ("is a socket", S_ISSOCK(st.st_mode), 1);
    CHECK_ERR("opening it", open("sock", O_RDONLY), ENXIO);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/sock", fs2_dir);
    CHECK_ERR("connecting to it without a listener", connect(s, (struct sockaddr *)&sun, sizeof sun),
              ECONNREFUSED);
    close(s);

    CHECK_OK("a regular file by type", mk("reg", S_IFREG | 0666, 0));
    lstat("reg", &st);
    CHECK_EQ("is an empty regular file", S_ISREG(st.st_mode) && st.st_size == 0, 1);
    CHECK_OK("a regular file with no type at all", mk("plain", 0640, 0));
    lstat("plain", &st);
    CHECK_EQ("is regular too", S_ISREG(st.st_mode), 1);
    CHECK_EQ("with its mode", st.st_mode & 0777, 0640);

    CHECK_OK("a character device as root", mk("dev", S_IFCHR | 0666, makedev(1, 3)));
    lstat("dev", &st);
    CHECK_EQ("is a character device", S_ISCHR(st.st_mode), 1);
    CHECK_EQ("its major", major(st.st_rdev), 1);
    CHECK_EQ("its minor", minor(st.st_rdev), 3);
    CHECK_OK("a block device with a large minor", mk("blk", S_IFBLK | 0600, makedev(259, 70000)));
    lstat("blk", &st);
    CHECK_EQ("its large major", major(st.st_rdev), 259);
    CHECK_EQ("its large minor", minor(st.st_rdev), 70000);

    CHECK_ERR("a directory", mk("dir", S_IFDIR | 0755, 0), EPERM);
    CHECK_ERR("a symlink", mk("lnk", S_IFLNK | 0777, 0), EINVAL);
    CHECK_ERR("an unknown type", mk("odd", 0150000 | 0644, 0), EINVAL);
    CHECK_ERR("an existing name", mk("fifo", S_IFIFO | 0600, 0), EEXIST);
    CHECK_ERR("in a missing directory", mk("missing/fifo", S_IFIFO | 0600, 0), ENOENT);
    CHECK_ERR("under a file", mk("reg/fifo", S_IFIFO | 0600, 0), ENOTDIR);
    CHECK_ERR("an unreadable path", mk((const char *)8, S_IFIFO | 0600, 0), EFAULT);
    CHECK_ERR("relative to a bad descriptor", syscall(SYS_mknodat, 99, "x", S_IFIFO | 0600, 0), EBADF);
    as_nobody("what nobody may make", not_root);
    leave_shm_dir();
    return check_finish();
}
