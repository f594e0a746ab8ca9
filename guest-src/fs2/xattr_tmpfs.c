/*
 * Extended attributes on tmpfs (fs/xattr.c; mm/shmem.c, simple_xattr_set): XATTR_CREATE and
 * XATTR_REPLACE (and both at once), size queries and ERANGE for getxattr and listxattr, empty
 * and 64 KiB values, removal, the l- and f- forms, and user.* attributes refused on anything but
 * regular files and directories (xattr_permission). trusted.* attributes, since a kernel's
 * tmpfs may lack user.* ones; the cases run as root.
 */
#include "fs2.h"
#include <sys/xattr.h>

int main(void)
{
    enter_shm_dir();
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file on tmpfs", fd >= 0);
    char buf[128];

    CHECK_OK("create trusted.a", setxattr("f", "trusted.a", "hello", 5, XATTR_CREATE));
    CHECK_ERRNO("create it again", setxattr("f", "trusted.a", "x", 1, XATTR_CREATE), EEXIST);
    CHECK_ERRNO("replace a missing one", setxattr("f", "trusted.b", "x", 1, XATTR_REPLACE), ENODATA);
    CHECK_ERRNO("create and replace of an existing one",
                setxattr("f", "trusted.a", "x", 1, XATTR_CREATE | XATTR_REPLACE), EEXIST);
    CHECK_ERRNO("create and replace of a missing one",
                setxattr("f", "trusted.b", "x", 1, XATTR_CREATE | XATTR_REPLACE), ENODATA);
    CHECK_EQ("the size query", getxattr("f", "trusted.a", NULL, 0), 5);
    CHECK_ERRNO("a buffer one byte short", getxattr("f", "trusted.a", buf, 4), ERANGE);
    CHECK_EQ("a buffer of exactly its size", getxattr("f", "trusted.a", buf, 5), 5);
    CHECK_MEM("the value", buf, "hello", 5);
    CHECK_OK("replace it", setxattr("f", "trusted.a", "hi", 2, XATTR_REPLACE));
    CHECK_EQ("the new size", getxattr("f", "trusted.a", buf, sizeof buf), 2);
    CHECK_OK("an empty value", fsetxattr(fd, "trusted.empty", "", 0, 0));
    CHECK_EQ("reads as zero bytes", fgetxattr(fd, "trusted.empty", buf, sizeof buf), 0);

    static char big[65536];
    memset(big, 'v', sizeof big);
    CHECK_OK("a 64 KiB value", fsetxattr(fd, "trusted.big", big, sizeof big, 0));
    static char back[65536];
    CHECK_EQ("read back whole", fgetxattr(fd, "trusted.big", back, sizeof back), 65536);
    CHECK_EQ("the same bytes", memcmp(big, back, sizeof big), 0);

    long want = (long)(strlen("trusted.a") + strlen("trusted.empty") + strlen("trusted.big") + 3);
    CHECK_EQ("listxattr's size query", listxattr("f", NULL, 0), want);
    CHECK_ERRNO("listxattr into a short buffer", listxattr("f", buf, (size_t)want - 1), ERANGE);
    ssize_t n = flistxattr(fd, buf, sizeof buf);
    CHECK_EQ("flistxattr's length", n, want);
    int found = 0;
    for (char *p = buf; p < buf + n; p += strlen(p) + 1)
        found += strcmp(p, "trusted.a") == 0 || strcmp(p, "trusted.empty") == 0 ||
                 strcmp(p, "trusted.big") == 0;
    CHECK_EQ("names all three, NUL-terminated", found, 3);

    CHECK_OK("remove one", fremovexattr(fd, "trusted.big"));
    CHECK_ERRNO("it is gone", fgetxattr(fd, "trusted.big", buf, sizeof buf), ENODATA);
    CHECK_ERRNO("remove it again", removexattr("f", "trusted.big"), ENODATA);
    CHECK_ERRNO("an unknown namespace", setxattr("f", "other.x", "v", 1, 0), EOPNOTSUPP);
    CHECK_ERRNO("a bare namespace prefix", setxattr("f", "trusted.", "v", 1, 0), EINVAL);

    NEED("a symlink", symlink("f", "link") == 0);
    CHECK_OK("lsetxattr trusted.* on the link itself", lsetxattr("link", "trusted.l", "L", 1, 0));
    CHECK_EQ("lgetxattr reads it", lgetxattr("link", "trusted.l", buf, sizeof buf), 1);
    CHECK_ERRNO("getxattr through the link reads the target's", getxattr("link", "trusted.l", buf, sizeof buf),
                ENODATA);
    CHECK_EQ("getxattr through the link", getxattr("link", "trusted.a", buf, sizeof buf), 2);
    CHECK_ERRNO("user.* on a symlink", lsetxattr("link", "user.x", "v", 1, 0), EPERM);
    CHECK_ERRNO("reading user.* of a symlink", lgetxattr("link", "user.x", buf, sizeof buf), ENODATA);
    NEED("a FIFO", mkfifo("fifo", 0644) == 0);
    CHECK_ERRNO("user.* on a FIFO", setxattr("fifo", "user.x", "v", 1, 0), EPERM);
    int opath = open("f", O_PATH);
    CHECK_ERRNO("fsetxattr on an O_PATH descriptor", fsetxattr(opath, "trusted.z", "v", 1, 0), EBADF);
    CHECK_ERRNO("fgetxattr on an O_PATH descriptor", fgetxattr(opath, "trusted.a", buf, sizeof buf), EBADF);
    leave_shm_dir();
    return check_finish();
}
