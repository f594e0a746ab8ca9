/*
 * The extended-attribute calls' argument errors, in Linux's order and whatever the file
 * system under the working directory supports: a bad name (empty or past XATTR_NAME_MAX:
 * ERANGE; unreadable: EFAULT), unknown flags, a value past XATTR_SIZE_MAX (E2BIG), a missing
 * path, a bad descriptor, and the size query of a missing attribute.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/syscall.h>

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0);
    char longname[300];
    memset(longname, 'a', sizeof longname);
    memcpy(longname, "user.", 5);
    longname[sizeof longname - 1] = 0;
    char buf[64];
    static char big[65537];

    CHECK_ERR("getxattr of an empty name", syscall(SYS_getxattr, "f", "", buf, sizeof buf), ERANGE);
    CHECK_ERR("getxattr of a name past 255 bytes", syscall(SYS_getxattr, "f", longname, buf, sizeof buf),
              ERANGE);
    CHECK_ERR("getxattr of an unreadable name", syscall(SYS_getxattr, "f", (void *)8, buf, sizeof buf),
              EFAULT);
    CHECK_ERR("setxattr with an unknown flag", syscall(SYS_setxattr, "f", "user.x", "v", 1, 4), EINVAL);
    CHECK_ERR("setxattr of a value past 64 KiB", syscall(SYS_setxattr, "f", "user.x", big, sizeof big, 0),
              E2BIG);
    CHECK_ERR("setxattr of an empty name", syscall(SYS_setxattr, "f", "", "v", 1, 0), ERANGE);
    CHECK_ERR("getxattr of a missing path", syscall(SYS_getxattr, "missing", "user.x", buf, sizeof buf),
              ENOENT);
    CHECK_ERR("lgetxattr of a missing path", syscall(SYS_lgetxattr, "missing", "user.x", buf, sizeof buf),
              ENOENT);
    CHECK_ERR("listxattr of a missing path", syscall(SYS_listxattr, "missing", buf, sizeof buf), ENOENT);
    CHECK_ERR("removexattr of a missing path", syscall(SYS_removexattr, "missing", "user.x"), ENOENT);
    CHECK_ERR("fgetxattr of a bad descriptor", syscall(SYS_fgetxattr, 99, "user.x", buf, sizeof buf),
              EBADF);
    CHECK_ERR("fsetxattr of a bad descriptor", syscall(SYS_fsetxattr, 99, "user.x", "v", 1, 0), EBADF);
    CHECK_ERR("flistxattr of a bad descriptor", syscall(SYS_flistxattr, 99, buf, sizeof buf), EBADF);
    CHECK_ERR("fremovexattr of a bad descriptor", syscall(SYS_fremovexattr, 99, "user.x"), EBADF);
    CHECK_ERR("getxattr of an unreadable path", syscall(SYS_getxattr, (void *)8, "user.x", buf, sizeof buf),
              EFAULT);

    /* A round trip, where user attributes are supported. */
    int ok = 1;
    if (syscall(SYS_setxattr, "f", "user.elfvisor", "value", 5, 1) == 0) {
        ok &= syscall(SYS_getxattr, "f", "user.elfvisor", NULL, 0) == 5;
        memset(buf, 0, sizeof buf);
        ok &= syscall(SYS_fgetxattr, fd, "user.elfvisor", buf, sizeof buf) == 5 && memcmp(buf, "value", 5) == 0;
        ok &= syscall(SYS_getxattr, "f", "user.elfvisor", buf, 2) == -1 && errno == ERANGE;
        long n = syscall(SYS_listxattr, "f", buf, sizeof buf);
        ok &= n >= 14 && memmem(buf, (size_t)n, "user.elfvisor", 14) != NULL;
        ok &= syscall(SYS_setxattr, "f", "user.elfvisor", "v", 1, 1) == -1 && errno == EEXIST;
        ok &= syscall(SYS_fsetxattr, fd, "user.elfvisor", "vv", 2, 2) == 0;
        ok &= syscall(SYS_getxattr, "f", "user.elfvisor", NULL, 0) == 2;
        ok &= syscall(SYS_removexattr, "f", "user.elfvisor") == 0;
        ok &= syscall(SYS_getxattr, "f", "user.elfvisor", buf, sizeof buf) == -1 && errno == ENODATA;
        ok &= syscall(SYS_setxattr, "f", "user.missing", "v", 1, 2) == -1 && errno == ENODATA;
    } else {
        ok = errno == EOPNOTSUPP;
    }
    CHECK_EQ("a user attribute round trip, where supported", ok, 1);
    close(fd);
    unlink("f");
    return check_finish();
}
