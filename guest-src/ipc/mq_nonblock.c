/*
 * A message queue descriptor's O_NONBLOCK: set by mq_open, toggled by mq_setattr (which changes
 * nothing else: mq_maxmsg and mq_msgsize are kept) and by fcntl F_SETFL, and seen by mq_getattr;
 * non-blocking sends to a full queue and receives from an empty one are EAGAIN. Each descriptor
 * has its own flag, two descriptors of one queue share its messages; mq_setattr with another
 * flag is EINVAL.
 */
#include "check.h"
#include <fcntl.h>
#include <mqueue.h>

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/elfvisor-nonblock-%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 2, .mq_msgsize = 8};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &attr);
    REQUIRE("mq_open O_NONBLOCK", q != (mqd_t)-1);
    mqd_t q2 = mq_open(name, O_RDWR);
    REQUIRE("a second descriptor, blocking", q2 != (mqd_t)-1);
    mq_unlink(name);

    struct mq_attr a;
    CHECK_OK("mq_getattr", mq_getattr(q, &a));
    CHECK_EQ("mq_flags has O_NONBLOCK", a.mq_flags, O_NONBLOCK);
    CHECK_OK("mq_getattr of the other", mq_getattr(q2, &a));
    CHECK_EQ("its mq_flags are 0", a.mq_flags, 0);
    char buf[8];
    CHECK_ERR("receive from the empty queue", mq_receive(q, buf, sizeof buf, NULL), EAGAIN);
    CHECK_OK("send 1", mq_send(q, "1", 1, 0));
    CHECK_OK("send 2 through the other descriptor", mq_send(q2, "2", 1, 0));
    CHECK_ERR("send to the full queue", mq_send(q, "3", 1, 0), EAGAIN);

    struct mq_attr set = {.mq_flags = 0, .mq_maxmsg = 50, .mq_msgsize = 99}, old;
    CHECK_OK("mq_setattr clears O_NONBLOCK", mq_setattr(q, &set, &old));
    CHECK_EQ("the old flags had it", old.mq_flags, O_NONBLOCK);
    CHECK_EQ("the old attributes: 2 messages queued", old.mq_curmsgs, 2);
    CHECK_OK("mq_getattr", mq_getattr(q, &a));
    check("only the flag changed", a.mq_flags == 0 && a.mq_maxmsg == 2 && a.mq_msgsize == 8,
          "flags %ld maxmsg %ld msgsize %ld", a.mq_flags, a.mq_maxmsg, a.mq_msgsize);
    CHECK_EQ("fcntl F_GETFL agrees", fcntl(q, F_GETFL) & O_NONBLOCK, 0);

    CHECK_OK("fcntl F_SETFL O_NONBLOCK|O_RDWR", fcntl(q, F_SETFL, O_NONBLOCK | O_RDWR));
    CHECK_OK("mq_getattr", mq_getattr(q, &a));
    CHECK_EQ("mq_getattr sees O_NONBLOCK from fcntl", a.mq_flags, O_NONBLOCK);
    CHECK_ERR("so a full queue is EAGAIN again", mq_send(q, "3", 1, 0), EAGAIN);

    set.mq_flags = O_NONBLOCK | O_APPEND;
    CHECK_ERR("mq_setattr with another flag", mq_setattr(q, &set, NULL), EINVAL);
    set.mq_flags = 0;
    CHECK_OK("mq_setattr with no old attributes", mq_setattr(q, &set, NULL));
    CHECK_OK("mq_getattr", mq_getattr(q, &a));
    CHECK_EQ("blocking again", a.mq_flags, 0);
    CHECK_EQ("receive", mq_receive(q, buf, sizeof buf, NULL), 1);
    CHECK_EQ("receive", mq_receive(q2, buf, sizeof buf, NULL), 1);
    set.mq_flags = O_NONBLOCK;
    CHECK_OK("mq_setattr sets O_NONBLOCK on the second", mq_setattr(q2, &set, NULL));
    CHECK_ERR("its receive from the empty queue", mq_receive(q2, buf, sizeof buf, NULL), EAGAIN);
    CHECK_OK("mq_getattr of the first", mq_getattr(q, &a));
    CHECK_EQ("the first is still blocking", a.mq_flags, 0);
    CHECK_ERR("mq_getattr of a closed descriptor", mq_getattr((mqd_t)1000, &a), EBADF);
    CHECK_ERR("mq_getattr of a pipe", mq_getattr((mqd_t)0, &a), EBADF);
    mq_close(q);
    mq_close(q2);
    return check_finish();
}
