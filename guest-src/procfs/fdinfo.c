/*
 * /proc/self/fdinfo/N (fs/proc/fd.c, seq_show, and each file type's show_fdinfo): pos,
 * flags in octal as the guest's O_* bits (O_CLOEXEC from the descriptor, O_LARGEFILE that
 * open adds on 64-bit), mnt_id matching statx's; eventfd's count, timerfd's clock and
 * times, signalfd's mask, epoll's watched descriptors by the guest's numbers; a closed
 * descriptor's file is gone.
 */
#include "procfs.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

static char buf[4096];

static const char *info(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    if (slurp(path, buf, sizeof buf) < 0)
        return "";
    return buf;
}

/* The line that starts with key, without its newline. */
static const char *line(const char *text, const char *key)
{
    static char l[256];
    l[0] = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, strlen(key)) == 0) {
            snprintf(l, sizeof l, "%.*s", (int)strcspn(p, "\n"), p);
            break;
        }
    return l;
}

struct kstatx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct { int64_t sec; uint32_t nsec; int32_t pad; } t[4];
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t mnt_id, spare[13];
};

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    NEED("a file", fd >= 0 && write(fd, "0123456789", 10) == 10 && lseek(fd, 3, SEEK_SET) == 3);
    info(fd);
    out("%s\n", line(buf, "pos:"));
    out("%s\n", line(buf, "flags:"));
    struct kstatx x;
    memset(&x, 0, sizeof x);
    NEED("statx's mount id", syscall(SYS_statx, fd, "", AT_EMPTY_PATH, 0x1000, &x) == 0);
    char want[64];
    snprintf(want, sizeof want, "mnt_id:\t%llu", (unsigned long long)x.mnt_id);
    check("mnt_id is the file's mount", strcmp(line(buf, "mnt_id:"), want) == 0, "differs");
    NEED("clear close-on-exec", fcntl(fd, F_SETFD, 0) == 0);
    out("without close-on-exec %s\n", line(info(fd), "flags:"));
    int ro = open("f", O_RDONLY | O_NONBLOCK);
    out("read-only, non-blocking %s\n", line(info(ro), "flags:"));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    out("a directory's %s\n", line(info(dir), "flags:"));
    int opath = open("f", O_PATH);
    out("an O_PATH descriptor's %s\n", line(info(opath), "flags:"));
    int p[2];
    NEED("a pipe", pipe2(p, O_NONBLOCK) == 0);
    out("a pipe's write end %s\n", line(info(p[1]), "flags:"));
    out("a pipe's %s\n", line(info(p[0]), "pos:"));

    int ev = eventfd(5, EFD_CLOEXEC);
    NEED("an eventfd", ev >= 0);
    out("eventfd %s\n", line(info(ev), "eventfd-count:"));
    uint64_t one = 1;
    NEED("add to it", write(ev, &one, 8) == 8);
    out("eventfd after a write %s\n", line(info(ev), "eventfd-count:"));

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    NEED("a timerfd", tfd >= 0);
    struct itimerspec its = { .it_value = { 5000, 0 }, .it_interval = { 7, 500 } };
    NEED("arm it", timerfd_settime(tfd, 0, &its, NULL) == 0);
    info(tfd);
    out("timerfd %s\n", line(buf, "clockid:"));
    out("timerfd %s\n", line(buf, "ticks:"));
    out("timerfd %s\n", line(buf, "settime flags:"));
    out("timerfd %s\n", line(buf, "it_interval:"));
    check("timerfd it_value is under 5000 s", strncmp(line(buf, "it_value: ("), "it_value: (4", 12) == 0,
          "%s", line(buf, "it_value:"));

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGTERM);
    int sfd = signalfd(-1, &mask, 0);
    NEED("a signalfd", sfd >= 0);
    out("signalfd %s\n", line(info(sfd), "sigmask:"));

    int ep = epoll_create1(0);
    NEED("an epoll", ep >= 0);
    struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u64 = 0x1234 };
    NEED("watch the eventfd", epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0);
    e.events = EPOLLOUT;
    e.data.u64 = 0xabcdef;
    NEED("watch the pipe", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e) == 0);
    info(ep);
    char key[32];
    snprintf(key, sizeof key, "tfd: %8d", ev);
    const char *l = line(buf, key);
    check("epoll names the eventfd by its number", l[0] != 0, "no line for it");
    out("the eventfd's watch: %.*s\n", (int)(strstr(l, "  pos:") ? strstr(l, "  pos:") - l - 14 : 0), l + 14);
    snprintf(key, sizeof key, "tfd: %8d", p[1]);
    l = line(buf, key);
    check("and the pipe by its number", l[0] != 0, "no line for it");
    out("the pipe's watch: %.*s\n", (int)(strstr(l, "  pos:") ? strstr(l, "  pos:") - l - 14 : 0), l + 14);

    close(ro);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ro);
    CHECK_ERR("a closed descriptor's fdinfo", open(path, O_RDONLY), ENOENT);
    CHECK_ERR("fdinfo of a descriptor never opened", open("/proc/self/fdinfo/999", O_RDONLY), ENOENT);
    return check_finish();
}
