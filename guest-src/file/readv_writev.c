/* writev gathers and readv scatters, in order, with partial iovecs. */
#include "check.h"
#include <fcntl.h>
#include <sys/uio.h>

int main(void)
{
    int fd = open("v.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    struct iovec w[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    CHECK_EQ("writev total", writev(fd, w, 3), 8);
    char a[2], b[4], c[8] = {0};
    struct iovec r[3] = {{a, 2}, {b, 4}, {c, 8}};
    lseek(fd, 0, SEEK_SET);
    CHECK_EQ("readv total stops at EOF", readv(fd, r, 3), 8);
    CHECK_MEM("first iovec", a, "ab", 2);
    CHECK_MEM("second iovec", b, "cdef", 4);
    CHECK_MEM("third iovec partly filled", c, "gh\0", 3);
    CHECK_EQ("pwritev at 2", pwritev(fd, w, 1, 2), 3);
    memset(c, 0, sizeof c);
    struct iovec one = {c, 8};
    CHECK_EQ("preadv from 0", preadv(fd, &one, 1, 0), 8);
    CHECK_MEM("preadv content", c, "ababcfgh", 8);
    volatile int negative = -1;
    CHECK_ERR("writev with a negative count", writev(fd, w, negative), EINVAL);
    unlink("v.txt");
    return check_finish();
}
