/*
 * Who may set a file's times (fs/utimes.c, vfs_utimes; fs/attr.c, setattr_prepare): the owner
 * any times, anyone who may write the file only "now" (a null array or two UTIME_NOWs),
 * nobody else; a symlink's own times with AT_SYMLINK_NOFOLLOW, a dangling one included;
 * futimesat and utimes through utimensat with microseconds.
 */
#include "fs2.h"
#include <sys/time.h>
#include <time.h>

static long utimens(int dirfd, const char *path, const struct timespec *t, int flags)
{
    return syscall(SYS_utimensat, dirfd, path, t, flags);
}

static void not_owner(void)
{
    struct timespec set[2] = { { 100, 0 }, { 200, 0 } };
    struct timespec now_both[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
    struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
    struct timespec omit_both[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
    CHECK_OK("a writer may set both times to now (null times)", utimens(AT_FDCWD, "shared", NULL, 0));
    CHECK_OK("a writer may set both to UTIME_NOW", utimens(AT_FDCWD, "shared", now_both, 0));
    CHECK_ERR("a writer may not set explicit times", utimens(AT_FDCWD, "shared", set, 0), EPERM);
    CHECK_ERR("a writer may not set one time to now and omit the other",
              utimens(AT_FDCWD, "shared", now_omit, 0), EPERM);
    CHECK_OK("two UTIME_OMITs need no permission", utimens(AT_FDCWD, "private", omit_both, 0));
    CHECK_ERR("a reader may not set the times to now", utimens(AT_FDCWD, "private", NULL, 0), EACCES);
    CHECK_ERR("a reader may not set explicit times", utimens(AT_FDCWD, "private", set, 0), EPERM);
    int fd = open("shared", O_RDONLY);
    CHECK_OK("now through a read-only descriptor: the file's permission counts",
             utimens(fd, NULL, NULL, 0));
    close(fd);
    fd = open("shared", O_WRONLY);
    CHECK_OK("now through a descriptor open for writing", utimens(fd, NULL, NULL, 0));
    close(fd);
    struct timeval tv[2] = { { 300, 0 }, { 400, 0 } };
    CHECK_ERR("utimes with explicit times as a writer", utimes("shared", tv), EPERM);
    CHECK_OK("utimes with no times as a writer", utimes("shared", NULL));
    CHECK_OK("utimes of our own file", utimes("mine", tv));
    struct stat st;
    stat("mine", &st);
    CHECK_EQ("our own file's modification time", st.st_mtim.tv_sec, 400);
}

int main(void)
{
    enter_shm_dir();
    umask(0);
    int fd = open("shared", O_WRONLY | O_CREAT, 0666);
    NEED("a file anyone may write", fd >= 0 && close(fd) == 0);
    fd = open("private", O_WRONLY | O_CREAT, 0644);
    NEED("a file others may only read", fd >= 0 && close(fd) == 0);
    fd = open("mine", O_WRONLY | O_CREAT, 0644);
    NEED("a file for nobody", fd >= 0 && fchown(fd, NOBODY, NOBODY) == 0 && close(fd) == 0);

    struct stat st;
    struct timespec t[2] = { { 1000, 1 }, { 2000, 999999999 } };
    NEED("a symlink", symlink("shared", "link") == 0);
    NEED("a dangling symlink", symlink("missing", "dangling") == 0);
    CHECK_OK("set a symlink's own times", utimens(AT_FDCWD, "link", t, AT_SYMLINK_NOFOLLOW));
    lstat("link", &st);
    CHECK_EQ("the link's access time", st.st_atim.tv_sec, 1000);
    CHECK_EQ("the link's modification nanoseconds", st.st_mtim.tv_nsec, 999999999);
    stat("link", &st);
    check("the target's times are untouched", st.st_mtim.tv_sec != 2000, "target changed");
    CHECK_OK("a dangling symlink's own times", utimens(AT_FDCWD, "dangling", t, AT_SYMLINK_NOFOLLOW));
    CHECK_ERR("a dangling symlink followed", utimens(AT_FDCWD, "dangling", t, 0), ENOENT);
    CHECK_OK("a symlink followed sets its target's", utimens(AT_FDCWD, "link", t, 0));
    stat("shared", &st);
    CHECK_EQ("the target's modification time", st.st_mtim.tv_sec, 2000);

    struct timeval tv[2] = { { 5000, 250000 }, { 6000, 999999 } };
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    CHECK_OK("futimesat relative to a directory", futimesat(dir, "private", tv));
    stat("private", &st);
    CHECK_EQ("its access time", st.st_atim.tv_sec, 5000);
    CHECK_EQ("microseconds become nanoseconds", st.st_atim.tv_nsec, 250000000);
    CHECK_EQ("its modification nanoseconds", st.st_mtim.tv_nsec, 999999000);
    struct timeval bad[2] = { { 0, 1000000 }, { 0, 0 } };
    CHECK_ERR("utimes with a million microseconds", utimes("private", bad), EINVAL);
    struct timespec negative[2] = { { 0, -1 }, { 0, 0 } };
    CHECK_ERR("utimensat with negative nanoseconds", utimens(AT_FDCWD, "private", negative, 0), EINVAL);
    struct timespec past[2] = { { -100, 0 }, { -1, 500 } };
    CHECK_OK("times before the epoch", utimens(AT_FDCWD, "private", past, 0));
    stat("private", &st);
    CHECK_EQ("a negative modification time", st.st_mtim.tv_sec, -1);
    close(dir);

    as_nobody("the rules for another user's files", not_owner);
    leave_shm_dir();
    return check_finish();
}
