/*
 * File metadata and file-system calls: utimensat (explicit times, UTIME_NOW/UTIME_OMIT, a null
 * path on a descriptor, AT_SYMLINK_NOFOLLOW), fchown/fchownat, statfs/fstatfs, flock between
 * processes, fallocate, sync_file_range, syncfs, fadvise64 and readahead, each with its errors.
 * Raw system calls throughout, so no libc wrapper changes an answer.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

struct kstatfs {
    long f_type, f_bsize;
    unsigned long f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int f_fsid[2];
    long f_namelen, f_frsize, f_flags, f_spare[4];
};

static long utimens(int dirfd, const char *path, const struct timespec *t, int flags)
{
    return syscall(SYS_utimensat, dirfd, path, t, flags);
}

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("create a file", fd >= 0 && write(fd, "data", 4) == 4);
    struct stat st;

    struct timespec t[2] = {{1000, 0}, {2000, 500}};
    CHECK_OK("utimensat with two times", utimens(AT_FDCWD, "f", t, 0));
    stat("f", &st);
    CHECK_EQ("the access time", st.st_atim.tv_sec, 1000);
    CHECK_EQ("the modification time", st.st_mtim.tv_sec, 2000);
    CHECK_EQ("its nanoseconds", st.st_mtim.tv_nsec, 500);
    struct timespec keep_atime[2] = {{0, UTIME_OMIT}, {3000, 0}};
    CHECK_OK("utimensat with UTIME_OMIT for the access time", utimens(AT_FDCWD, "f", keep_atime, 0));
    stat("f", &st);
    CHECK_EQ("the access time stayed", st.st_atim.tv_sec, 1000);
    CHECK_EQ("the modification time moved", st.st_mtim.tv_sec, 3000);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CHECK_OK("two UTIME_OMITs succeed even for a missing file",
             utimens(AT_FDCWD, "missing", omit, 0));
    time_t before = time(NULL);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    CHECK_OK("UTIME_NOW for the access time", utimens(AT_FDCWD, "f", now, 0));
    stat("f", &st);
    CHECK_EQ("the access time is now", st.st_atim.tv_sec >= before, 1);
    CHECK_EQ("the modification time stayed", st.st_mtim.tv_sec, 3000);
    CHECK_OK("utimensat of a descriptor (null path)", utimens(fd, NULL, t, 0));
    fstat(fd, &st);
    CHECK_EQ("through the descriptor", st.st_mtim.tv_sec, 2000);
    CHECK_OK("utimensat with no times is now", utimens(AT_FDCWD, "f", NULL, 0));
    stat("f", &st);
    CHECK_EQ("both are now", st.st_atim.tv_sec >= before && st.st_mtim.tv_sec >= before, 1);
    CHECK_ERR("a null path with a flag", utimens(fd, NULL, t, AT_SYMLINK_NOFOLLOW), EINVAL);
    NEED("a symlink", symlink("f", "l") == 0);
    CHECK_OK("utimensat AT_SYMLINK_NOFOLLOW", utimens(AT_FDCWD, "l", t, AT_SYMLINK_NOFOLLOW));
    lstat("l", &st);
    CHECK_EQ("the link's own time", st.st_mtim.tv_sec, 2000);
    stat("f", &st);
    check("the target's is unchanged", st.st_mtim.tv_sec >= before, "%ld", (long)st.st_mtim.tv_sec);
    CHECK_ERR("utimensat with an unknown flag", utimens(AT_FDCWD, "f", t, 0x4), EINVAL);
    struct timespec bad[2] = {{0, 2000000000L}, {0, 0}};
    CHECK_ERR("utimensat with tv_nsec out of range", utimens(AT_FDCWD, "f", bad, 0), EINVAL);
    CHECK_ERR("utimensat with unreadable times", utimens(AT_FDCWD, "f", (void *)8, 0), EFAULT);
    CHECK_ERR("utimensat of a missing file", utimens(AT_FDCWD, "missing", t, 0), ENOENT);
    CHECK_ERR("utimensat of a bad descriptor", utimens(99, NULL, t, 0), EBADF);

    CHECK_OK("fchown to -1, -1", syscall(SYS_fchown, fd, (long)-1, (long)-1));
    CHECK_OK("fchownat to our own ids", syscall(SYS_fchownat, AT_FDCWD, "f", getuid(), getgid(), 0));
    CHECK_ERR("fchownat with an unknown flag", syscall(SYS_fchownat, AT_FDCWD, "f", (long)-1, (long)-1, 0x4),
              EINVAL);
    CHECK_ERR("fchown of a bad descriptor", syscall(SYS_fchown, 99, -1, -1), EBADF);

    struct kstatfs a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    CHECK_OK("statfs of the directory", syscall(SYS_statfs, ".", &a));
    CHECK_OK("fstatfs of the file", syscall(SYS_fstatfs, fd, &b));
    CHECK_EQ("the same file system", a.f_type == b.f_type && a.f_fsid[0] == b.f_fsid[0], 1);
    check("a block size and name length", a.f_bsize > 0 && a.f_namelen == 255, "%ld %ld",
          a.f_bsize, a.f_namelen);
    CHECK_OK("statfs of /proc", syscall(SYS_statfs, "/proc", &a));
    CHECK_EQ("/proc is procfs", a.f_type, 0x9fa0);
    CHECK_ERR("statfs of a missing path", syscall(SYS_statfs, "missing", &a), ENOENT);
    CHECK_ERR("statfs into unwritable memory", syscall(SYS_statfs, ".", (void *)8), EFAULT);
    CHECK_ERR("fstatfs of a bad descriptor", syscall(SYS_fstatfs, 99, &a), EBADF);

    CHECK_OK("flock LOCK_EX", syscall(SYS_flock, fd, LOCK_EX));
    int go[2], back[2];
    NEED("pipes", pipe(go) == 0 && pipe(back) == 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        int other = open("f", O_RDONLY);
        CHECK_ERR("another open file cannot take it, LOCK_NB",
                  syscall(SYS_flock, other, LOCK_EX | LOCK_NB), EAGAIN);
        char c = 'c';
        if (write(back[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        CHECK_OK("it can once the parent unlocked", syscall(SYS_flock, other, LOCK_EX | LOCK_NB));
        child_exit();
    }
    char c;
    NEED("the child tried", read(back[0], &c, 1) == 1);
    CHECK_OK("flock LOCK_UN", syscall(SYS_flock, fd, LOCK_UN));
    NEED("let the child go on", write(go[1], "g", 1) == 1);
    int st2;
    wait_for(pid, &st2, 0);
    check("the child saw the lock, then its release", WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "%s",
          status_text(st2));
    CHECK_ERR("flock with an unknown operation", syscall(SYS_flock, fd, LOCK_SH | LOCK_EX), EINVAL);
    CHECK_ERR("flock of a bad descriptor", syscall(SYS_flock, 99, LOCK_EX), EBADF);

    CHECK_OK("fallocate 8 KiB", syscall(SYS_fallocate, fd, 0, 0, 8192));
    fstat(fd, &st);
    CHECK_EQ("the file grew", st.st_size, 8192);
    CHECK_ERR("fallocate of length 0", syscall(SYS_fallocate, fd, 0, 0, 0), EINVAL);
    CHECK_ERR("fallocate at a negative offset", syscall(SYS_fallocate, fd, 0, (long)-1, 10L), EINVAL);
    CHECK_ERR("fallocate with an unknown mode", syscall(SYS_fallocate, fd, 0x1000, 0, 10), EOPNOTSUPP);
    CHECK_OK("sync_file_range", syscall(SYS_sync_file_range, fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    CHECK_ERR("sync_file_range with an unknown flag", syscall(SYS_sync_file_range, fd, 0, 0, 8), EINVAL);
    CHECK_OK("syncfs", syscall(SYS_syncfs, fd));
    CHECK_ERR("syncfs of a bad descriptor", syscall(SYS_syncfs, 99), EBADF);
    CHECK_OK("fadvise64 POSIX_FADV_SEQUENTIAL", syscall(SYS_fadvise64, fd, 0, 0, POSIX_FADV_SEQUENTIAL));
    CHECK_ERR("fadvise64 with an unknown advice", syscall(SYS_fadvise64, fd, 0, 0, 99), EINVAL);
    CHECK_ERR("fadvise64 of a pipe", syscall(SYS_fadvise64, go[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);
    CHECK_OK("readahead", syscall(SYS_readahead, fd, 0, 4096));
    CHECK_ERR("readahead of a pipe", syscall(SYS_readahead, go[0], 0, 4096), EINVAL);
    close(fd);
    unlink("l");
    unlink("f");
    return check_finish();
}
