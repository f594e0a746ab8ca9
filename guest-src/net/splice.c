/*
 * splice — the in-kernel copies: sendfile from a file to a socket (with and without an offset),
 * splice between a pipe and a file and a socket, tee, vmsplice of guest buffers both ways,
 * copy_file_range, and their argument errors.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main(void)
{
    int f = open("data.txt", O_RDONLY);
    REQUIRE("open", f >= 0);
    int sv[2];
    REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char buf[64] = {0};
    off_t off = 6;
    CHECK_EQ("sendfile with an offset", sendfile(sv[0], f, &off, 5), 5);
    CHECK_EQ("offset advanced", off, 11);
    CHECK_EQ("file position untouched", lseek(f, 0, SEEK_CUR), 0);
    CHECK_EQ("received", recv(sv[1], buf, sizeof buf, 0), 5);
    CHECK_MEM("bytes", buf, "world", 5);
    CHECK_EQ("sendfile from the position", sendfile(sv[0], f, NULL, 5), 5);
    CHECK_EQ("position moved", lseek(f, 0, SEEK_CUR), 5);
    CHECK_EQ("received", recv(sv[1], buf, sizeof buf, 0), 5);
    CHECK_MEM("bytes", buf, "hello", 5);
    off = -1;
    CHECK_ERR("sendfile negative offset", sendfile(sv[0], f, &off, 1), EINVAL);
    CHECK_ERR("sendfile offset unreadable", sendfile(sv[0], f, (off_t *)8, 1), EFAULT);
    CHECK_ERR("sendfile EBADF", sendfile(sv[0], 999, NULL, 1), EBADF);

    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    loff_t in_off = 0;
    CHECK_EQ("splice file to pipe", splice(f, &in_off, p[1], NULL, 11, 0), 11);
    CHECK_EQ("splice offset", in_off, 11);
    int q[2];
    REQUIRE("second pipe", pipe(q) == 0);
    CHECK_EQ("tee", tee(p[0], q[1], 11, 0), 11);
    CHECK_EQ("splice pipe to socket", splice(p[0], NULL, sv[0], NULL, 11, 0), 11);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("socket got the file", recv(sv[1], buf, sizeof buf, 0), 11);
    CHECK_MEM("its bytes", buf, "hello world", 11);
    char out[16] = {0};
    struct iovec iov = {.iov_base = out, .iov_len = 11};
    CHECK_EQ("vmsplice out of the tee'd pipe", vmsplice(q[0], &iov, 1, 0), 11);
    CHECK_MEM("guest buffer filled", out, "hello world", 11);
    char msg[] = "from guest memory";
    struct iovec in = {.iov_base = msg, .iov_len = sizeof msg - 1};
    CHECK_EQ("vmsplice into a pipe", vmsplice(q[1], &in, 1, 0), (long)(sizeof msg - 1));
    memset(buf, 0, sizeof buf);
    CHECK_EQ("read it back", read(q[0], buf, sizeof buf), (long)(sizeof msg - 1));
    CHECK_MEM("bytes", buf, msg, sizeof msg - 1);
    CHECK_ERR("splice bad flags", splice(p[0], NULL, sv[0], NULL, 1, 0x100), EINVAL);
    CHECK_EQ("splice zero length", splice(p[0], NULL, sv[0], NULL, 0, 0x100), 0);
    CHECK_ERR("splice offset on a pipe", splice(p[0], &in_off, sv[0], NULL, 1, 0), ESPIPE);
    CHECK_ERR("vmsplice bad flags", vmsplice(q[1], &in, 1, 0x100), EINVAL);

    int g = open("copy.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
    loff_t a = 0, b = 0;
    CHECK_EQ("copy_file_range", copy_file_range(f, &a, g, &b, 11, 0), 11);
    CHECK_EQ("offsets", a + b, 22);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("copy read back", pread(g, buf, sizeof buf, 0), 11);
    CHECK_MEM("copy bytes", buf, "hello world", 11);
    CHECK_ERR("copy_file_range flags", copy_file_range(f, &a, g, &b, 1, 1), EINVAL);
    close(g);
    close(f);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    close(sv[0]);
    close(sv[1]);
    return check_finish();
}
