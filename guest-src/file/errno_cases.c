/* The errors the file syscalls report for bad names, fds, kinds and pointers. */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(void)
{
    char buf[16];
    int p[2];
    CHECK_ERR("open a missing file", open("missing", O_RDONLY), ENOENT);
    CHECK_ERR("open in a missing directory", open("nodir/x", O_CREAT | O_WRONLY, 0644), ENOENT);
    CHECK_ERR("read a closed fd", read(77, buf, 1), EBADF);
    CHECK_ERR("close a closed fd", close(77), EBADF);
    CHECK_ERR("negative fd", write(-1, "x", 1), EBADF);

    mkdir("d", 0755);
    int dfd = open("d", O_RDONLY);
    CHECK_ERR("read a directory", read(dfd, buf, sizeof buf), EISDIR);
    CHECK_ERR("open a directory for writing", open("d", O_WRONLY), EISDIR);
    int f = open("f", O_CREAT | O_RDWR, 0644);
    CHECK_ERR("path through a regular file", open("f/x", O_RDONLY), ENOTDIR);
    CHECK_ERR("openat relative to a non-directory fd", openat(f, "x", O_RDONLY), ENOTDIR);
    CHECK_ERR("openat relative to a closed fd", openat(77, "x", O_RDONLY), EBADF);
    CHECK_ERR("rmdir a file", rmdir("f"), ENOTDIR);
    CHECK_ERR("unlink a directory", unlink("d"), EISDIR);
    CHECK_ERR("mkdir over a file", mkdir("f", 0755), EEXIST);
    pipe(p);
    CHECK_ERR("lseek on a pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
    CHECK_ERR("pread on a pipe", pread(p[0], buf, 1, 0), ESPIPE);
    CHECK_ERR("lseek with a bad whence", lseek(f, 0, 42), EINVAL);
    CHECK_ERR("lseek to a negative offset", lseek(f, -1, SEEK_SET), EINVAL);

    /* Bad pointers are the kernel's to report: raw syscalls, so libc cannot catch them first. */
    CHECK_ERR("write from an unmapped buffer", syscall(SYS_write, f, (void *)16, 4), EFAULT);
    write(f, "data", 4);
    lseek(f, 0, SEEK_SET);
    CHECK_ERR("read of real data into an unmapped buffer", syscall(SYS_read, f, (void *)16, 4), EFAULT);
    CHECK_ERR("openat with an unmapped path", syscall(SYS_openat, AT_FDCWD, (void *)16, O_RDONLY), EFAULT);
    CHECK_ERR("fstat into an unmapped buffer", syscall(SYS_fstat, f, (void *)16), EFAULT);
    CHECK_ERR("pipe2 into an unmapped array", syscall(SYS_pipe2, (void *)16, 0), EFAULT);
    return check_finish();
}
