/* A pseudo-terminal from /dev/ptmx: TIOCGPTN, TIOCSPTLCK/TIOCGPTLCK, TIOCGPTPEER, TIOCPKT/TIOCGPKT,
 * data both ways in raw mode, packet mode's leading byte; ENOTTY for pty requests on other files
 * and for unknown requests. */
#include "check.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static int open_master(void)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (m < 0) {
        /* A bare devtmpfs has no devpts instance: mount one (silently, a set-up step). */
        mkdir("/dev/pts", 0755);
        if (mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666") == 0)
            m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    }
    return m;
}

int main(void)
{
    int m = open_master();
    REQUIRE("open the pty master", m >= 0);
    unsigned int n = 12345;
    CHECK_OK("TIOCGPTN", ioctl(m, TIOCGPTN, &n));
    check("TIOCGPTN wrote a number", n != 12345, "unchanged");
    int lock = -1;
    CHECK_OK("TIOCGPTLCK", ioctl(m, TIOCGPTLCK, &lock));
    CHECK_EQ("a new pty is locked", lock, 1);
    CHECK_ERR("TIOCGPTPEER while locked", ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), EIO);
    int zero = 0;
    CHECK_OK("TIOCSPTLCK unlocks", ioctl(m, TIOCSPTLCK, &zero));
    CHECK_OK("TIOCGPTLCK again", ioctl(m, TIOCGPTLCK, &lock));
    CHECK_EQ("it reads unlocked", lock, 0);

    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK_EQ("TIOCGPTPEER opens the peer", s >= 0, 1);
    CHECK_EQ("with O_CLOEXEC as FD_CLOEXEC", fcntl(s, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("the peer is a terminal", isatty(s), 1);
    CHECK_ERR("TIOCGPTPEER on the peer is EIO", ioctl(s, TIOCGPTPEER, O_RDWR), EIO);

    struct termios t;
    CHECK_OK("tcgetattr on the peer", tcgetattr(s, &t));
    cfmakeraw(&t);
    CHECK_OK("raw mode", tcsetattr(s, TCSANOW, &t));
    char buf[16];
    CHECK_EQ("write to the master", write(m, "ping", 4), 4);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("read on the peer", read(s, buf, sizeof buf), 4);
    CHECK_MEM("the master's bytes", buf, "ping", 4);
    CHECK_EQ("write to the peer", write(s, "pong", 4), 4);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("read on the master", read(m, buf, sizeof buf), 4);
    CHECK_MEM("the peer's bytes", buf, "pong", 4);

    int one = 1, pkt = -1;
    CHECK_OK("TIOCPKT on", ioctl(m, TIOCPKT, &one));
    CHECK_OK("TIOCGPKT", ioctl(m, TIOCGPKT, &pkt));
    CHECK_EQ("packet mode reads back", pkt, 1);
    CHECK_EQ("write to the peer in packet mode", write(s, "x", 1), 1);
    memset(buf, 0x55, sizeof buf);
    CHECK_EQ("a packet is its status byte and the data", read(m, buf, sizeof buf), 2);
    check("TIOCPKT_DATA then the byte", buf[0] == TIOCPKT_DATA && buf[1] == 'x', "%#x %#x", buf[0],
          buf[1]);

    int f = open("plain.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("a plain file", f >= 0);
    CHECK_ERR("TIOCGPTN on a plain file", ioctl(f, TIOCGPTN, &n), ENOTTY);
    CHECK_ERR("TIOCGPTPEER on a plain file", ioctl(f, TIOCGPTPEER, O_RDWR), ENOTTY);
    CHECK_ERR("an unknown request on the master", ioctl(m, _IO('T', 0x7e), 0), ENOTTY);
    CHECK_ERR("an unknown request on a plain file", ioctl(f, _IO('T', 0x7e), 0), ENOTTY);
    CHECK_ERR("TIOCGPTN on a closed fd", ioctl(99, TIOCGPTN, &n), EBADF);
    unlink("plain.txt");
    return check_finish();
}
