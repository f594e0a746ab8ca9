/*
 * faccessat2's flags (fs/open.c, do_faccessat): AT_SYMLINK_NOFOLLOW checks a link itself,
 * AT_EMPTY_PATH a descriptor, AT_EACCESS the effective ids where plain access uses the real
 * ones; root needs an execute bit for X_OK; faccessat without a flags argument ignores a
 * fourth; unknown flags and modes are EINVAL.
 */
#include "fs2.h"

static long fa2(int dirfd, const char *path, int mode, int flags)
{
    return syscall(SYS_faccessat2, dirfd, path, mode, flags);
}

static void real_nobody(void)
{
    NEED("a real uid of nobody, effective root", setresuid(NOBODY, 0, 0) == 0 && geteuid() == 0);
    CHECK_ERR("access checks the real uid", access("secret", R_OK), EACCES);
    CHECK_ERR("faccessat2 without AT_EACCESS too", fa2(AT_FDCWD, "secret", R_OK, 0), EACCES);
    CHECK_OK("AT_EACCESS checks the effective uid", fa2(AT_FDCWD, "secret", R_OK, AT_EACCESS));
    CHECK_OK("faccessat ignores a fourth argument",
             syscall(SYS_faccessat, AT_FDCWD, "secret", F_OK, AT_EACCESS));
    CHECK_ERR("and checks the real uid", syscall(SYS_faccessat, AT_FDCWD, "secret", R_OK, AT_EACCESS), EACCES);
}

int main(void)
{
    enter_shm_dir();
    int fd = open("secret", O_RDWR | O_CREAT, 0600);
    NEED("a file only root may read", fd >= 0);
    NEED("a dangling symlink", symlink("missing", "dangling") == 0);

    CHECK_OK("read and write as root", fa2(AT_FDCWD, "secret", R_OK | W_OK, 0));
    CHECK_ERR("execute as root without an execute bit", fa2(AT_FDCWD, "secret", X_OK, 0), EACCES);
    NEED("an execute bit for others", fchmod(fd, 0601) == 0);
    CHECK_OK("execute as root with any execute bit", fa2(AT_FDCWD, "secret", X_OK, 0));
    NEED("back", fchmod(fd, 0600) == 0);
    CHECK_ERR("a dangling link followed", fa2(AT_FDCWD, "dangling", F_OK, 0), ENOENT);
    CHECK_OK("a dangling link itself", fa2(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    CHECK_OK("a descriptor with AT_EMPTY_PATH", fa2(fd, "", W_OK, AT_EMPTY_PATH));
    CHECK_ERR("an empty path without it", fa2(fd, "", F_OK, 0), ENOENT);
    CHECK_OK("all three flags", fa2(fd, "", R_OK, AT_EMPTY_PATH | AT_EACCESS | AT_SYMLINK_NOFOLLOW));
    CHECK_ERR("an unknown flag", fa2(AT_FDCWD, "secret", F_OK, 0x4), EINVAL);
    CHECK_ERR("an unknown mode bit", fa2(AT_FDCWD, "secret", 8, 0), EINVAL);
    NEED("read-only for everyone", fchmod(fd, 0400) == 0);
    CHECK_OK("root may write a read-only file", fa2(AT_FDCWD, "secret", W_OK, 0));
    NEED("back to root only", fchmod(fd, 0600) == 0);
    CHECK_ERR("a bad descriptor", fa2(99, "", F_OK, AT_EMPTY_PATH), EBADF);
    CHECK_ERR("under a file", fa2(AT_FDCWD, "secret/x", F_OK, 0), ENOTDIR);
    pid_t pid = fork_child();
    if (pid == 0) {
        real_nobody();
        child_exit();
    }
    check_status("a real uid that is not root", pid, "exit 0");
    leave_shm_dir();
    return check_finish();
}
