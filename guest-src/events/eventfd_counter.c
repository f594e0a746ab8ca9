/*
 * eventfd_counter — eventfd2 as a counter and as a semaphore: reads, writes, overflow,
 * EFD_NONBLOCK's EAGAIN, EFD_CLOEXEC, short buffers, and readiness for poll.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>

int main(void)
{
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE("eventfd", fd >= 0);
    CHECK_EQ("cloexec", fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ("nonblock", fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    uint64_t v = 0;
    CHECK_EQ("read the initial count", read(fd, &v, 8), 8);
    CHECK_EQ("count 3", v, 3);
    CHECK_ERR("empty: EAGAIN", read(fd, &v, 8), EAGAIN);
    v = 5;
    CHECK_EQ("write 5", write(fd, &v, 8), 8);
    v = 2;
    CHECK_EQ("write 2", write(fd, &v, 8), 8);
    CHECK_EQ("read sum", read(fd, &v, 8), 8);
    CHECK_EQ("sum 7", v, 7);
    CHECK_ERR("short read", read(fd, &v, 4), EINVAL);
    CHECK_ERR("short write", write(fd, &v, 4), EINVAL);
    v = UINT64_MAX;
    CHECK_ERR("write of all ones", write(fd, &v, 8), EINVAL);
    v = UINT64_MAX - 1;
    CHECK_EQ("write the largest", write(fd, &v, 8), 8);
    v = 1;
    CHECK_ERR("overflow: EAGAIN", write(fd, &v, 8), EAGAIN);
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    CHECK_EQ("full: readable only", poll(&p, 1, 0), 1);
    CHECK_EQ("POLLIN", p.revents, POLLIN);
    NEED("drain", read(fd, &v, 8) == 8);
    p.revents = 0;
    CHECK_EQ("empty: writable only", poll(&p, 1, 0), 1);
    CHECK_EQ("POLLOUT", p.revents, POLLOUT);
    close(fd);

    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    REQUIRE("semaphore", sem >= 0);
    CHECK_EQ("no cloexec", fcntl(sem, F_GETFD) & FD_CLOEXEC, 0);
    CHECK_EQ("sem read 1", read(sem, &v, 8), 8);
    CHECK_EQ("sem gives 1", v, 1);
    CHECK_EQ("sem read 2", read(sem, &v, 8), 8);
    CHECK_EQ("sem gives 1 again", v, 1);
    CHECK_ERR("sem empty", read(sem, &v, 8), EAGAIN);
    v = 4;
    NEED("sem post", write(sem, &v, 8) == 8);
    int count = 0;
    while (read(sem, &v, 8) == 8)
        count++;
    CHECK_EQ("four downs", count, 4);

    /* A blocking eventfd with a count reads at once. */
    int blk = eventfd(1, 0);
    CHECK_EQ("blocking", fcntl(blk, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ("blocking read with a count", read(blk, &v, 8), 8);
    CHECK_ERR("bad flags", eventfd(0, 0x1000), EINVAL);
    return check_finish();
}
