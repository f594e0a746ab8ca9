/*
 * The forms of chown (fs/open.c, do_fchownat and chown_common): fchownat with AT_EMPTY_PATH on
 * an ordinary and on an O_PATH descriptor (fchown refuses O_PATH), AT_SYMLINK_NOFOLLOW on the
 * link itself, set-user-ID and set-group-ID bits dropped by a change of owner, and what a user
 * who is not root may change.
 */
#include "fs2.h"

static uid_t owner(const char *path, int follow)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
        return (uid_t)-2;
    return st.st_uid;
}

static void not_root(void)
{
    CHECK_ERR("giving our file to root", chown("ours", 0, (gid_t)-1), EPERM);
    CHECK_OK("changing nothing of our file", chown("ours", (uid_t)-1, (gid_t)-1));
    CHECK_OK("our file to our own group", chown("ours", (uid_t)-1, NOBODY));
    CHECK_ERR("our file to a group we are not in", chown("ours", (uid_t)-1, 0), EPERM);
    CHECK_ERR("root's file to us", chown("file", NOBODY, (gid_t)-1), EPERM);
    CHECK_ERR("root's file left as it is", chown("file", (uid_t)-1, (gid_t)-1), EPERM);
}

int main(void)
{
    enter_shm_dir();
    umask(0);
    int fd = open("file", O_RDWR | O_CREAT, 0644);
    NEED("a file", fd >= 0);
    NEED("a symlink to it", symlink("file", "link") == 0);

    CHECK_OK("fchownat AT_EMPTY_PATH of a descriptor",
             syscall(SYS_fchownat, fd, "", 1, 2, AT_EMPTY_PATH));
    CHECK_EQ("its owner", owner("file", 1), 1);
    CHECK_ERR("an empty path without AT_EMPTY_PATH", syscall(SYS_fchownat, fd, "", 3, 3, 0), ENOENT);
    int opath = open("file", O_PATH);
    NEED("an O_PATH descriptor", opath >= 0);
    CHECK_ERR("fchown of an O_PATH descriptor", syscall(SYS_fchown, opath, 3, 3), EBADF);
    CHECK_OK("fchownat AT_EMPTY_PATH of an O_PATH descriptor",
             syscall(SYS_fchownat, opath, "", 3, 3, AT_EMPTY_PATH));
    CHECK_EQ("its owner now", owner("file", 1), 3);
    CHECK_OK("fchownat AT_SYMLINK_NOFOLLOW", syscall(SYS_fchownat, AT_FDCWD, "link", 4, 4, AT_SYMLINK_NOFOLLOW));
    CHECK_EQ("the link's owner", owner("link", 0), 4);
    CHECK_EQ("the target's owner", owner("file", 1), 3);
    CHECK_OK("fchownat following the link", syscall(SYS_fchownat, AT_FDCWD, "link", 5, 5, 0));
    CHECK_EQ("the target's owner after", owner("file", 1), 5);
    CHECK_EQ("the link's owner after", owner("link", 0), 4);
    CHECK_ERR("fchownat AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW with a bad descriptor",
              syscall(SYS_fchownat, 99, "", 1, 1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), EBADF);

    struct stat st;
    NEED("set-user-ID and set-group-ID", fchmod(fd, 06755) == 0);
    CHECK_OK("a change of owner", fchown(fd, 6, (gid_t)-1));
    fstat(fd, &st);
    CHECK_EQ("drops both set-ID bits", st.st_mode & 07777, 0755);
    NEED("set-user-ID again", fchmod(fd, 06755) == 0);
    CHECK_OK("a chown that changes nothing", fchown(fd, (uid_t)-1, (gid_t)-1));
    fstat(fd, &st);
    CHECK_EQ("drops them too", st.st_mode & 07777, 0755);
    NEED("set-group-ID without group execute", fchmod(fd, 02644) == 0);
    CHECK_OK("a change of group", fchown(fd, (uid_t)-1, 7));
    fstat(fd, &st);
    CHECK_EQ("keeps set-group-ID without group execute (mandatory locking's mark)",
             st.st_mode & 07777, 02644);
    NEED("a set-group-ID directory", mkdir("dir", 0755) == 0 && chmod("dir", 02755) == 0);
    CHECK_OK("a directory's change of owner", chown("dir", 8, 8));
    stat("dir", &st);
    CHECK_EQ("keeps a directory's set-group-ID", st.st_mode & 07777, 02755);
    close(opath);
    close(fd);

    fd = open("ours", O_RDWR | O_CREAT, 0644);
    NEED("a file for nobody", fd >= 0 && fchown(fd, NOBODY, 0) == 0 && close(fd) == 0);
    NEED("root's file", chown("file", 0, 0) == 0);
    as_nobody("what a user who is not root may change", not_root);
    leave_shm_dir();
    return check_finish();
}
