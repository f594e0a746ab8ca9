/*
 * inotify_basic — inotify_init1, inotify_add_watch and inotify_rm_watch on a directory of the
 * working directory: create, modify and delete events with their names, IN_IGNORED after
 * rm_watch, poll readiness, IN_MASK_ADD, and bad arguments.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static char buf[4096] __attribute__((aligned(8)));

/* Reads the pending events; returns the first one (NULL if none), and their count. */
static struct inotify_event *events(int fd, int *count)
{
    ssize_t n = read(fd, buf, sizeof buf);
    *count = 0;
    if (n <= 0)
        return NULL;
    for (ssize_t off = 0; off < n; off += sizeof(struct inotify_event) + ((struct inotify_event *)(buf + off))->len)
        (*count)++;
    return (struct inotify_event *)buf;
}

int main(void)
{
    REQUIRE("mkdir", mkdir("d", 0755) == 0);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    REQUIRE("inotify_init1", fd >= 0);
    CHECK_EQ("cloexec", fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int wd = inotify_add_watch(fd, "d", IN_CREATE | IN_DELETE);
    CHECK_EQ("first watch is 1", wd, 1);
    CHECK_EQ("same path, same watch", inotify_add_watch(fd, "d", IN_CREATE | IN_DELETE), wd);
    char tmp[8];
    CHECK_ERR("nothing yet", read(fd, tmp, sizeof tmp), EAGAIN);
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ("not readable", poll(&p, 1, 0), 0);

    int f = open("d/file", O_CREAT | O_WRONLY, 0644);
    NEED("create", f >= 0);
    CHECK_EQ("readable", poll(&p, 1, 0), 1);
    int count;
    struct inotify_event *ev = events(fd, &count);
    CHECK_EQ("one event", count, 1);
    CHECK_EQ("IN_CREATE", ev ? ev->mask : 0, IN_CREATE);
    CHECK_EQ("its watch", ev ? ev->wd : -1, wd);
    check("its name", ev && ev->len > 0 && strcmp(ev->name, "file") == 0, "name");
    CHECK_EQ("len padded to the event size", ev ? ev->len % sizeof(struct inotify_event) : 1, 0);

    /* IN_MASK_ADD: modifications too. */
    CHECK_EQ("mask add", inotify_add_watch(fd, "d", IN_MODIFY | IN_MASK_ADD), wd);
    NEED("write", write(f, "x", 1) == 1);
    ev = events(fd, &count);
    CHECK_EQ("IN_MODIFY", ev ? ev->mask : 0, IN_MODIFY);
    close(f);
    NEED("unlink", unlink("d/file") == 0);
    ev = events(fd, &count);
    CHECK_EQ("IN_DELETE", ev ? ev->mask : 0, IN_DELETE);

    /* A subdirectory's creation carries IN_ISDIR. */
    NEED("mkdir sub", mkdir("d/sub", 0755) == 0);
    ev = events(fd, &count);
    CHECK_EQ("IN_CREATE|IN_ISDIR", ev ? ev->mask : 0, IN_CREATE | IN_ISDIR);

    CHECK_OK("rm_watch", inotify_rm_watch(fd, wd));
    ev = events(fd, &count);
    CHECK_EQ("IN_IGNORED", ev ? ev->mask : 0, IN_IGNORED);
    CHECK_ERR("rm_watch again", inotify_rm_watch(fd, wd), EINVAL);

    /* Bad arguments. */
    CHECK_ERR("init1 flags", inotify_init1(1), EINVAL);
    CHECK_ERR("mask 0", inotify_add_watch(fd, "d", 0), EINVAL);
    CHECK_ERR("mask 0 on a bad fd", inotify_add_watch(99, "d", 0), EINVAL);
    CHECK_ERR("MASK_ADD with MASK_CREATE", inotify_add_watch(fd, "d", IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
    CHECK_ERR("EBADF", inotify_add_watch(99, "d", IN_CREATE), EBADF);
    CHECK_ERR("not an inotify", inotify_add_watch(0, "d", IN_CREATE), EINVAL);
    CHECK_ERR("ENOENT", inotify_add_watch(fd, "missing", IN_CREATE), ENOENT);
    CHECK_ERR("EFAULT", syscall(SYS_inotify_add_watch, fd, (void *)8, IN_CREATE), EFAULT);
    CHECK_ERR("ONLYDIR on a file", (close(open("plain", O_CREAT | O_WRONLY, 0644)), inotify_add_watch(fd, "plain", IN_CREATE | IN_ONLYDIR)), ENOTDIR);
    CHECK_ERR("rm_watch EBADF", inotify_rm_watch(99, 1), EBADF);
    CHECK_ERR("rm_watch not an inotify", inotify_rm_watch(0, 1), EINVAL);
    return check_finish();
}
