/* dup/dup2/dup3 and fcntl: lowest free fd, shared offsets, FD_CLOEXEC, status flags. */
#include "check.h"
#include <fcntl.h>

int main(void)
{
    int fd = open("f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    write(fd, "0123456789", 10);
    lseek(fd, 0, SEEK_SET);

    int d = dup(fd);
    CHECK_EQ("dup takes the lowest free fd", d, fd + 1);
    char c;
    read(fd, &c, 1);
    CHECK_EQ("dup shares the file offset", lseek(d, 0, SEEK_CUR), 1);
    CHECK_EQ("dup clears FD_CLOEXEC", fcntl(d, F_GETFD), 0);

    CHECK_EQ("dup2 onto a chosen fd", dup2(fd, 20), 20);
    CHECK_EQ("dup2 onto itself returns it", dup2(fd, fd), fd);
    CHECK_EQ("dup3 with O_CLOEXEC", dup3(fd, 21, O_CLOEXEC), 21);
    CHECK_EQ("dup3 set FD_CLOEXEC", fcntl(21, F_GETFD), FD_CLOEXEC);
    CHECK_ERR("dup3 onto itself", dup3(fd, fd, 0), EINVAL);
    CHECK_ERR("dup3 with an unknown flag", dup3(fd, 22, 0x1), EINVAL);
    CHECK_ERR("dup of a closed fd", dup(99), EBADF);

    CHECK_OK("F_SETFD FD_CLOEXEC", fcntl(d, F_SETFD, FD_CLOEXEC));
    CHECK_EQ("F_GETFD reads it back", fcntl(d, F_GETFD), FD_CLOEXEC);
    int dc = fcntl(fd, F_DUPFD_CLOEXEC, 30);
    CHECK_EQ("F_DUPFD_CLOEXEC honours the minimum", dc, 30);
    CHECK_EQ("F_DUPFD_CLOEXEC sets FD_CLOEXEC", fcntl(dc, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("F_DUPFD takes the lowest at or above the minimum", fcntl(fd, F_DUPFD, 30), 31);

    int fl = fcntl(fd, F_GETFL);
    CHECK_EQ("F_GETFL access mode", fl & O_ACCMODE, O_RDWR);
    CHECK_OK("F_SETFL O_APPEND|O_NONBLOCK", fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK));
    fl = fcntl(d, F_GETFL);
    check("status flags are shared with the dup", (fl & (O_APPEND | O_NONBLOCK)) == (O_APPEND | O_NONBLOCK),
          "flags %#x", fl);
    CHECK_EQ("F_SETFL ignores the access mode", fcntl(fd, F_SETFL, O_RDONLY) == 0 &&
                                                     (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, 1);
    CHECK_ERR("fcntl on a closed fd", fcntl(99, F_GETFD), EBADF);
    CHECK_OK("close the original", close(fd));
    CHECK_EQ("the dup still reads", pread(d, &c, 1, 5), 1);
    CHECK_EQ("the dup reads the right byte", c, '5');
    unlink("f.txt");
    return check_finish();
}
