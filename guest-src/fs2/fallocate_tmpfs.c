/*
 * fallocate's modes on tmpfs (mm/shmem.c, shmem_fallocate; fs/open.c, vfs_fallocate): plain
 * allocation grows the file, FALLOC_FL_KEEP_SIZE allocates past the end without growing it,
 * FALLOC_FL_PUNCH_HOLE (only with KEEP_SIZE) frees and zeroes a range, and the modes tmpfs
 * lacks (ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE) are EOPNOTSUPP; then the argument checks.
 */
#include "fs2.h"

#define KEEP_SIZE 0x01
#define PUNCH_HOLE 0x02
#define COLLAPSE_RANGE 0x08
#define ZERO_RANGE 0x10
#define INSERT_RANGE 0x20

static long falloc(int fd, int mode, long off, long len)
{
    return syscall(SYS_fallocate, fd, mode, off, len);
}

int main(void)
{
    enter_shm_dir();
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file on tmpfs", fd >= 0);
    struct stat st;

    CHECK_OK("allocate 8 KiB", falloc(fd, 0, 0, 8192));
    fstat(fd, &st);
    CHECK_EQ("the size grows", st.st_size, 8192);
    CHECK_EQ("two pages allocated", st.st_blocks, 16);
    CHECK_OK("allocate 8 KiB more past the end, keeping the size", falloc(fd, KEEP_SIZE, 8192, 8192));
    fstat(fd, &st);
    CHECK_EQ("the size stays", st.st_size, 8192);
    CHECK_EQ("four pages allocated", st.st_blocks, 32);
    CHECK_OK("allocate inside the file", falloc(fd, 0, 100, 100));
    fstat(fd, &st);
    CHECK_EQ("changes nothing", st.st_size, 8192);

    char buf[8192];
    memset(buf, 'x', sizeof buf);
    NEED("fill the file", pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    CHECK_ERR("a hole without KEEP_SIZE", falloc(fd, PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
    CHECK_OK("punch a hole in the first page", falloc(fd, PUNCH_HOLE | KEEP_SIZE, 0, 4096));
    fstat(fd, &st);
    CHECK_EQ("the size stays after the hole", st.st_size, 8192);
    CHECK_EQ("one page freed", st.st_blocks, 24);
    NEED("read it back", pread(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    check("the hole reads as zeros", buf[0] == 0 && buf[4095] == 0, "byte 0 is %d", buf[0]);
    check("the rest is kept", buf[4096] == 'x' && buf[8191] == 'x', "byte 4096 is %d", buf[4096]);
    CHECK_OK("a hole inside one page", falloc(fd, PUNCH_HOLE | KEEP_SIZE, 5000, 10));
    NEED("read it", pread(fd, buf, 16, 4996) == 16);
    check("zeroes just those bytes", buf[3] == 'x' && buf[4] == 0 && buf[13] == 0 && buf[14] == 'x',
          "bytes %d %d %d %d", buf[3], buf[4], buf[13], buf[14]);
    fstat(fd, &st);
    CHECK_EQ("and frees no page", st.st_blocks, 24);
    CHECK_OK("a hole past the end", falloc(fd, PUNCH_HOLE | KEEP_SIZE, 100000, 4096));

    CHECK_ERR("ZERO_RANGE", falloc(fd, ZERO_RANGE, 0, 4096), EOPNOTSUPP);
    CHECK_ERR("COLLAPSE_RANGE", falloc(fd, COLLAPSE_RANGE, 0, 4096), EOPNOTSUPP);
    CHECK_ERR("INSERT_RANGE", falloc(fd, INSERT_RANGE, 0, 4096), EOPNOTSUPP);
    CHECK_ERR("an unknown mode bit", falloc(fd, 0x1000, 0, 4096), EOPNOTSUPP);
    CHECK_ERR("PUNCH_HOLE with ZERO_RANGE", falloc(fd, PUNCH_HOLE | ZERO_RANGE | KEEP_SIZE, 0, 1), EOPNOTSUPP);
    CHECK_ERR("a zero length", falloc(fd, 0, 0, 0), EINVAL);
    CHECK_ERR("a negative offset", falloc(fd, 0, -1, 10), EINVAL);
    CHECK_ERR("a negative length", falloc(fd, 0, 0, -10), EINVAL);
    CHECK_ERR("past the largest file", falloc(fd, 0, 0x7fffffffffffff00L, 0x1000), EFBIG);
    int ro = open("f", O_RDONLY);
    CHECK_ERR("a read-only descriptor", falloc(ro, 0, 0, 10), EBADF);
    int ap = open("f", O_WRONLY | O_APPEND);
    CHECK_OK("an append-only descriptor may allocate", falloc(ap, 0, 0, 10));
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_ERR("a pipe", falloc(p[1], 0, 0, 10), ESPIPE);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    CHECK_ERR("a directory open for reading", falloc(dir, 0, 0, 10), EBADF);
    CHECK_ERR("a bad descriptor", falloc(99, 0, 0, 10), EBADF);
    leave_shm_dir();
    return check_finish();
}
