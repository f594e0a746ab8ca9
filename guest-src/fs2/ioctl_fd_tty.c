/*
 * ioctls on descriptors and terminals (fs/ioctl.c, do_vfs_ioctl; drivers/tty/tty_io.c):
 * FIOCLEX/FIONCLEX set and clear close-on-exec on anything, FIOASYNC sets O_ASYNC, FIONBIO
 * O_NONBLOCK; TIOCSWINSZ/TIOCGWINSZ round trips through a pseudo-terminal's two sides,
 * TCGETS and TCGETS2 agree; terminal requests on a pipe or a file are ENOTTY, an unknown
 * request too, a bad descriptor EBADF and an unwritable buffer EFAULT.
 */
#include "fs2.h"
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>

/* struct termios and termios2 as the kernel writes them (asm-generic/termbits.h, NCCS 19). */
struct kterm {
    unsigned c_iflag, c_oflag, c_cflag, c_lflag;
    unsigned char c_line, c_cc[19];
};
struct kterm2 {
    unsigned c_iflag, c_oflag, c_cflag, c_lflag;
    unsigned char c_line, c_cc[19];
    unsigned c_ispeed, c_ospeed;
};
#define K_TCGETS 0x5401
#define K_TCGETS2 0x802c542aUL /* _IOR('T', 0x2A, struct termios2) */
#define K_TCSETS2 0x402c542bUL /* _IOW('T', 0x2B, struct termios2) */
#define K_TIOCGPTPEER 0x5441

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
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_OK("FIOCLEX", ioctl(p[0], FIOCLEX));
    CHECK_EQ("sets close-on-exec", fcntl(p[0], F_GETFD), FD_CLOEXEC);
    CHECK_OK("FIONCLEX", ioctl(p[0], FIONCLEX));
    CHECK_EQ("clears it", fcntl(p[0], F_GETFD), 0);
    int on = 1, off = 0;
    CHECK_OK("FIOASYNC on", ioctl(p[0], FIOASYNC, &on));
    CHECK_EQ("sets O_ASYNC", fcntl(p[0], F_GETFL) & O_ASYNC, O_ASYNC);
    CHECK_OK("FIOASYNC off", ioctl(p[0], FIOASYNC, &off));
    CHECK_EQ("clears it", fcntl(p[0], F_GETFL) & O_ASYNC, 0);
    CHECK_OK("FIONBIO on", ioctl(p[1], FIONBIO, &on));
    CHECK_EQ("sets O_NONBLOCK", fcntl(p[1], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    CHECK_ERR("FIOASYNC with an unreadable argument", ioctl(p[0], FIOASYNC, (void *)8), EFAULT);
    struct winsize ws;
    CHECK_ERR("TIOCGWINSZ of a pipe", ioctl(p[0], TIOCGWINSZ, &ws), ENOTTY);
    struct kterm kt;
    CHECK_ERR("TCGETS of a pipe", ioctl(p[0], K_TCGETS, &kt), ENOTTY);
    int fd = open("f", O_RDWR | O_CREAT, 0644);
    CHECK_ERR("TCGETS of a file", ioctl(fd, K_TCGETS, &kt), ENOTTY);
    CHECK_OK("FIOCLEX of a file", ioctl(fd, FIOCLEX));
    CHECK_ERR("an unknown request on a file", ioctl(fd, 0x5401ff, 0), ENOTTY);
    CHECK_ERR("FIOCLEX of a bad descriptor", ioctl(99, FIOCLEX), EBADF);

    int m = open_master(), unlock = 0;
    NEED("a pseudo-terminal", m >= 0 && ioctl(m, TIOCSPTLCK, &unlock) == 0);
    int s = (int)ioctl(m, K_TIOCGPTPEER, O_RDWR | O_NOCTTY);
    NEED("its other side", s >= 0);
    memset(&ws, 0, sizeof ws);
    CHECK_OK("TIOCGWINSZ of a new terminal", ioctl(s, TIOCGWINSZ, &ws));
    CHECK_EQ("starts at zero size", ws.ws_row + ws.ws_col, 0);
    struct winsize set = { .ws_row = 24, .ws_col = 80, .ws_xpixel = 640, .ws_ypixel = 480 };
    CHECK_OK("TIOCSWINSZ on the master", ioctl(m, TIOCSWINSZ, &set));
    memset(&ws, 0, sizeof ws);
    CHECK_OK("TIOCGWINSZ on the other side", ioctl(s, TIOCGWINSZ, &ws));
    CHECK_EQ("rows", ws.ws_row, 24);
    CHECK_EQ("columns", ws.ws_col, 80);
    CHECK_EQ("pixels", ws.ws_xpixel * 1000 + ws.ws_ypixel, 640480);
    CHECK_ERR("TIOCGWINSZ into an unwritable buffer", ioctl(s, TIOCGWINSZ, (void *)8), EFAULT);
    CHECK_ERR("TIOCSWINSZ from an unreadable buffer", ioctl(s, TIOCSWINSZ, (void *)8), EFAULT);

    memset(&kt, 0, sizeof kt);
    CHECK_OK("TCGETS", ioctl(s, K_TCGETS, &kt));
    struct kterm2 t2;
    memset(&t2, 0, sizeof t2);
    CHECK_OK("TCGETS2", ioctl(s, K_TCGETS2, &t2));
    check("TCGETS2's flags agree with TCGETS's",
          t2.c_iflag == kt.c_iflag && t2.c_oflag == kt.c_oflag && t2.c_cflag == kt.c_cflag &&
              t2.c_lflag == kt.c_lflag && memcmp(t2.c_cc, kt.c_cc, sizeof kt.c_cc) == 0,
          "differ");
    CHECK_EQ("a new terminal echoes", (t2.c_lflag & ECHO) != 0, 1);
    CHECK_EQ("and reads lines", (t2.c_lflag & ICANON) != 0, 1);
    CHECK_EQ("at 38400 baud in", t2.c_ispeed, 38400);
    CHECK_EQ("and out", t2.c_ospeed, 38400);
    t2.c_lflag &= ~ECHO;
    CHECK_OK("TCSETS2 without echo", ioctl(s, K_TCSETS2, &t2));
    memset(&kt, 0, sizeof kt);
    ioctl(s, K_TCGETS, &kt);
    CHECK_EQ("TCGETS sees it", kt.c_lflag & ECHO, 0);
    CHECK_ERR("TCGETS2 into an unwritable buffer", ioctl(s, K_TCGETS2, (void *)8), EFAULT);
    CHECK_ERR("an unknown terminal request", ioctl(s, 0x54ff, 0), ENOTTY);
    return check_finish();
}
