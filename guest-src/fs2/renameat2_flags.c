/*
 * renameat2's flags (fs/namei.c, do_renameat2 and vfs_rename): RENAME_NOREPLACE refuses an
 * existing target, RENAME_EXCHANGE swaps two names (a file and a directory too) and needs
 * both, RENAME_WHITEOUT leaves a 0:0 character device (for any user since Linux 5.8), and the flag combinations
 * and plain rename errors Linux refuses.
 */
#include "fs2.h"
#include <sys/sysmacros.h>

#define NOREPLACE 1
#define EXCHANGE 2
#define WHITEOUT 4

static long ren(const char *a, const char *b, unsigned flags)
{
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static int holds(const char *path, const char *want)
{
    char buf[16] = { 0 };
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) && close(fd) == 0);
}

static void not_root(void)
{
    put("mine", "m");
    CHECK_OK("RENAME_WHITEOUT as nobody", ren("mine", "mine2", WHITEOUT));
    struct stat st;
    CHECK_EQ("leaves a whiteout too", lstat("mine", &st) == 0 && S_ISCHR(st.st_mode), 1);
}

int main(void)
{
    enter_shm_dir();
    put("a", "A");
    put("b", "B");
    NEED("a directory", mkdir("d", 0755) == 0);
    struct stat st;

    CHECK_ERR("RENAME_NOREPLACE onto an existing name", ren("a", "b", NOREPLACE), EEXIST);
    CHECK_EQ("both stay", holds("a", "A") && holds("b", "B"), 1);
    CHECK_OK("RENAME_NOREPLACE to a new name", ren("a", "c", NOREPLACE));
    CHECK_EQ("moved", holds("c", "A") && access("a", F_OK) != 0, 1);
    CHECK_OK("RENAME_EXCHANGE of two files", ren("b", "c", EXCHANGE));
    CHECK_EQ("swapped", holds("b", "A") && holds("c", "B"), 1);
    CHECK_OK("RENAME_EXCHANGE of a file and a directory", ren("b", "d", EXCHANGE));
    lstat("b", &st);
    CHECK_EQ("the directory took the file's name", S_ISDIR(st.st_mode), 1);
    CHECK_EQ("the file took the directory's", holds("d", "A"), 1);
    CHECK_ERR("RENAME_EXCHANGE with a missing target", ren("c", "missing", EXCHANGE), ENOENT);
    CHECK_ERR("RENAME_EXCHANGE with a missing source", ren("missing", "c", EXCHANGE), ENOENT);
    CHECK_OK("RENAME_EXCHANGE of a name with itself", ren("c", "c", EXCHANGE));
    CHECK_ERR("RENAME_NOREPLACE and RENAME_EXCHANGE", ren("c", "d", NOREPLACE | EXCHANGE), EINVAL);
    CHECK_ERR("RENAME_WHITEOUT and RENAME_EXCHANGE", ren("c", "d", WHITEOUT | EXCHANGE), EINVAL);
    CHECK_ERR("an unknown flag", ren("c", "e", 8), EINVAL);

    CHECK_OK("RENAME_WHITEOUT", ren("c", "e", WHITEOUT));
    CHECK_OK("the old name is still there", lstat("c", &st));
    CHECK_EQ("as a character device", S_ISCHR(st.st_mode), 1);
    CHECK_EQ("numbered 0:0", major(st.st_rdev) * 1000 + minor(st.st_rdev), 0);
    CHECK_EQ("the file moved", holds("e", "B"), 1);
    CHECK_ERR("RENAME_WHITEOUT|RENAME_NOREPLACE onto an existing name", ren("e", "d", WHITEOUT | NOREPLACE),
              EEXIST);

    NEED("a directory with a file", mkdir("full", 0755) == 0);
    put("full/x", "x");
    NEED("an empty directory", mkdir("empty", 0755) == 0);
    CHECK_ERR("a directory onto a non-empty one", ren("empty", "full", 0), ENOTEMPTY);
    CHECK_ERR("a file onto a directory", ren("e", "empty", 0), EISDIR);
    CHECK_ERR("a directory onto a file", ren("empty", "e", 0), ENOTDIR);
    CHECK_ERR("a directory into itself", ren("full", "full/sub", 0), EINVAL);
    CHECK_ERR("RENAME_EXCHANGE of a directory into itself", ren("full", "full/x", EXCHANGE), EINVAL);
    CHECK_ERR("renaming .", ren(".", "dot", 0), EBUSY);
    CHECK_OK("a directory onto an empty one", ren("full", "empty", 0));
    CHECK_EQ("its contents moved", holds("empty/x", "x"), 1);
    CHECK_ERR("across file systems", ren("e", "/proc/self/e", 0), EXDEV);
    as_nobody("a whiteout made by nobody", not_root);
    unlink("empty/x");
    leave_shm_dir();
    return check_finish();
}
