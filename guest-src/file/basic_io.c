/* openat/read/write/lseek/pread/pwrite/fstat on a regular file in the working directory. */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>

int main(void)
{
    umask(022);
    char buf[64] = {0};
    int fd = openat(AT_FDCWD, "data.txt", O_CREAT | O_EXCL | O_RDWR, 0644);
    REQUIRE("openat O_CREAT|O_EXCL", fd >= 0);
    CHECK_EQ("write returns its length", write(fd, "hello world", 11), 11);
    CHECK_EQ("lseek SEEK_CUR after write", lseek(fd, 0, SEEK_CUR), 11);
    CHECK_EQ("lseek SEEK_SET 0", lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ("read the whole file", read(fd, buf, sizeof buf), 11);
    CHECK_MEM("read content", buf, "hello world", 11);
    CHECK_EQ("read at EOF", read(fd, buf, sizeof buf), 0);
    CHECK_EQ("lseek SEEK_END", lseek(fd, 0, SEEK_END), 11);
    CHECK_EQ("lseek SEEK_END -5", lseek(fd, -5, SEEK_END), 6);
    CHECK_EQ("pread at 6", pread(fd, buf, 5, 6), 5);
    CHECK_MEM("pread content", buf, "world", 5);
    CHECK_EQ("pread leaves the offset", lseek(fd, 0, SEEK_CUR), 6);
    CHECK_EQ("pwrite at 0", pwrite(fd, "HELLO", 5, 0), 5);
    CHECK_EQ("pwrite leaves the offset", lseek(fd, 0, SEEK_CUR), 6);
    CHECK_EQ("pwrite past EOF", pwrite(fd, "!", 1, 20), 1);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ("pread over the hole", pread(fd, buf, sizeof buf, 0), 21);
    CHECK_MEM("hole reads as zeros", buf + 11, "\0\0\0\0\0\0\0\0\0!", 10);
    CHECK_MEM("pwrite content", buf, "HELLO world", 11);

    struct stat st;
    CHECK_OK("fstat", fstat(fd, &st));
    CHECK_EQ("st_size", st.st_size, 21);
    check("S_ISREG", S_ISREG(st.st_mode), "mode %o", st.st_mode);
    CHECK_EQ("permission bits", st.st_mode & 07777, 0644);
    CHECK_EQ("st_nlink", st.st_nlink, 1);
    struct stat st2;
    CHECK_OK("stat by name", stat("data.txt", &st2));
    check("stat and fstat agree on the inode", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev,
          "differ");
    CHECK_OK("close", close(fd));

    fd = open("data.txt", O_WRONLY | O_APPEND);
    CHECK_EQ("O_APPEND write", write(fd, "?", 1), 1);
    CHECK_EQ("O_APPEND wrote at the end", lseek(fd, 0, SEEK_CUR), 22);
    close(fd);
    fd = open("data.txt", O_RDONLY);
    CHECK_EQ("O_RDONLY file rejects write", write(fd, "x", 1) == -1 ? errno : 0, EBADF);
    close(fd);
    CHECK_OK("unlink", unlink("data.txt"));
    return check_finish();
}
