/*
 * chroot's checks in Linux's order (fs/open.c, ksys_chroot): the path is looked up first
 * (EFAULT, ENOENT, ENOTDIR, ELOOP), then the directory must be searchable (EACCES), and only
 * then is CAP_SYS_CHROOT required (EPERM) — as a user who is not root meets them.
 */
#include "fs2.h"

static void not_root(void)
{
    CHECK_ERR("chroot of a searchable directory", chroot("."), EPERM);
    CHECK_ERR("chroot of /", chroot("/"), EPERM);
    CHECK_ERR("chroot of a missing path", chroot("missing"), ENOENT);
    CHECK_ERR("chroot of an empty path", chroot(""), ENOENT);
    CHECK_ERR("chroot of a file", chroot("file"), ENOTDIR);
    CHECK_ERR("chroot through a file", chroot("file/x"), ENOTDIR);
    CHECK_ERR("chroot of a symlink loop", chroot("loop"), ELOOP);
    CHECK_ERR("chroot of a directory we may not search", chroot("closed"), EACCES);
    CHECK_ERR("chroot below it", chroot("closed/sub"), EACCES);
    CHECK_ERR("chroot of an unreadable path", chroot((const char *)8), EFAULT);
    CHECK_ERR("chroot through a symlink to a directory", chroot("dirlink"), EPERM);
}

int main(void)
{
    enter_shm_dir();
    int fd = open("file", O_WRONLY | O_CREAT, 0644);
    NEED("a file", fd >= 0 && close(fd) == 0);
    NEED("a symlink loop", symlink("loop", "loop") == 0);
    NEED("a closed directory", mkdir("closed", 0700) == 0 && mkdir("closed/sub", 0777) == 0);
    NEED("a link to a directory", symlink(".", "dirlink") == 0);
    as_nobody("the checks before the capability", not_root);
    rmdir("closed/sub");
    leave_shm_dir();
    return check_finish();
}
