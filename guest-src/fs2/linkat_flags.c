/*
 * linkat's flags (fs/namei.c, do_linkat): without AT_SYMLINK_FOLLOW a symlink is linked as
 * itself, with it its target; AT_EMPTY_PATH links a descriptor (an O_TMPFILE file gets its
 * first name; root only, for a descriptor it did not open itself), /proc/self/fd/N with AT_SYMLINK_FOLLOW does the same for anyone; an
 * O_EXCL temporary file cannot be linked; directories, cross-device links, existing names and
 * unknown flags are refused.
 */
#include "fs2.h"

static long lnk(int olddir, const char *old, const char *new, int flags)
{
    return syscall(SYS_linkat, olddir, old, AT_FDCWD, new, flags);
}

static int roots_tmpfile = -1;

static void not_root(void)
{
    CHECK_ERR("AT_EMPTY_PATH as nobody of root's descriptor", lnk(roots_tmpfile, "", "nobody1", AT_EMPTY_PATH),
              ENOENT);
    int t = open(".", O_TMPFILE | O_RDWR, 0644);
    NEED("nobody's temporary file", t >= 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", t);
    CHECK_OK("/proc/self/fd/N with AT_SYMLINK_FOLLOW as nobody", lnk(AT_FDCWD, path, "nobody2", AT_SYMLINK_FOLLOW));
    struct stat st;
    CHECK_EQ("names the temporary file", stat("nobody2", &st) == 0 && S_ISREG(st.st_mode), 1);
}

int main(void)
{
    enter_shm_dir();
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0 && write(fd, "text", 4) == 4);
    NEED("a symlink", symlink("f", "sym") == 0);
    struct stat st, target;
    NEED("stat the file", stat("f", &target) == 0);

    CHECK_OK("link a symlink", lnk(AT_FDCWD, "sym", "h1", 0));
    lstat("h1", &st);
    CHECK_EQ("the link is the symlink itself", S_ISLNK(st.st_mode), 1);
    CHECK_EQ("with two names", st.st_nlink, 2);
    CHECK_OK("link through a symlink with AT_SYMLINK_FOLLOW", lnk(AT_FDCWD, "sym", "h2", AT_SYMLINK_FOLLOW));
    lstat("h2", &st);
    CHECK_EQ("the link is the file", S_ISREG(st.st_mode) && st.st_ino == target.st_ino, 1);
    CHECK_EQ("which has two names now", st.st_nlink, 2);
    CHECK_OK("AT_EMPTY_PATH of an open file", lnk(fd, "", "h3", AT_EMPTY_PATH));
    stat("f", &st);
    CHECK_EQ("three names", st.st_nlink, 3);

    int t = open(".", O_TMPFILE | O_RDWR, 0600);
    NEED("a temporary file", t >= 0 && write(t, "tmp", 3) == 3);
    fstat(t, &st);
    CHECK_EQ("a temporary file has no name", st.st_nlink, 0);
    CHECK_OK("AT_EMPTY_PATH gives it one", lnk(t, "", "named", AT_EMPTY_PATH));
    fstat(t, &st);
    CHECK_EQ("one name now", st.st_nlink, 1);
    CHECK_EQ("the name holds its data", stat("named", &st) == 0 && st.st_size == 3, 1);
    int x = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
    NEED("an exclusive temporary file", x >= 0);
    CHECK_ERR("an exclusive temporary file cannot be linked", lnk(x, "", "nope", AT_EMPTY_PATH), ENOENT);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", x);
    CHECK_ERR("not through /proc/self/fd either", lnk(AT_FDCWD, path, "nope", AT_SYMLINK_FOLLOW), ENOENT);
    CHECK_ERR("a file unlinked from its last name", unlink("named") == 0 ? lnk(t, "", "again", AT_EMPTY_PATH) : 0,
              ENOENT);

    NEED("a directory", mkdir("d", 0755) == 0);
    CHECK_ERR("a directory", lnk(AT_FDCWD, "d", "d2", 0), EPERM);
    CHECK_ERR("an existing name", lnk(AT_FDCWD, "f", "h1", 0), EEXIST);
    CHECK_ERR("an unknown flag", lnk(AT_FDCWD, "f", "h4", 0x2), EINVAL);
    CHECK_ERR("a missing file", lnk(AT_FDCWD, "missing", "h4", 0), ENOENT);
    int here = open(".", O_RDONLY | O_DIRECTORY);
    CHECK_ERR("across file systems", syscall(SYS_linkat, here, "f", AT_FDCWD, "/tmp/fs2-link", 0), EXDEV);
    CHECK_ERR("an empty path without AT_EMPTY_PATH", lnk(fd, "", "h4", 0), ENOENT);
    roots_tmpfile = open(".", O_TMPFILE | O_RDWR, 0666);
    NEED("a temporary file for nobody", roots_tmpfile >= 0);
    as_nobody("what nobody may link", not_root);
    leave_shm_dir();
    return check_finish();
}
