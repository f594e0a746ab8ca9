/*
 * mq_notify with SIGEV_THREAD through the C library: glibc and musl both open a netlink socket,
 * hand the kernel its descriptor and a cookie, and run the function in a thread when the kernel
 * writes the cookie to that socket. The function gets sigev_value, runs outside the thread that
 * registered, and runs once per registration; the message stays queued; removing a thread
 * registration lets another one be made.
 */
#include "check.h"
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

static int done[2];
static volatile int got_value;
static volatile long got_tid;

static void notified(union sigval v)
{
    got_value = v.sival_int;
    got_tid = syscall(SYS_gettid);
    char c = 'n';
    if (write(done[1], &c, 1) != 1)
        _exit(3);
}

static int register_thread(mqd_t q, int value)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = notified;
    ev.sigev_value.sival_int = value;
    return mq_notify(q, &ev);
}

int main(void)
{
    REQUIRE("pipe", pipe(done) == 0);
    char name[64];
    snprintf(name, sizeof name, "/elfvisor-thread-%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    REQUIRE("mq_open", q != (mqd_t)-1);
    mq_unlink(name);

    CHECK_OK("register a thread notification", register_thread(q, 41));
    CHECK_ERR("a second registration is EBUSY", register_thread(q, 0), EBUSY);
    CHECK_OK("send", mq_send(q, "hello", 6, 0));
    char c;
    CHECK_EQ("the function ran", read(done[0], &c, 1), 1);
    CHECK_EQ("with sigev_value", got_value, 41);
    CHECK_EQ("in another thread", got_tid != syscall(SYS_gettid), 1);
    struct mq_attr now;
    CHECK_OK("mq_getattr", mq_getattr(q, &now));
    CHECK_EQ("the message is still queued", now.mq_curmsgs, 1);
    char buf[16];
    CHECK_EQ("receive it", mq_receive(q, buf, sizeof buf, NULL), 6);

    CHECK_OK("register again after the notification", register_thread(q, 42));
    CHECK_OK("remove it", mq_notify(q, NULL));
    struct sigevent sig;
    memset(&sig, 0, sizeof sig);
    sig.sigev_notify = SIGEV_NONE;
    CHECK_OK("the removal freed the queue: SIGEV_NONE registers", mq_notify(q, &sig));
    CHECK_OK("remove that", mq_notify(q, NULL));

    CHECK_OK("register a thread notification once more", register_thread(q, 43));
    CHECK_OK("send", mq_send(q, "again", 6, 0));
    CHECK_EQ("the function ran again", read(done[0], &c, 1), 1);
    CHECK_EQ("with the new value", got_value, 43);
    CHECK_OK("mq_close", mq_close(q));
    return check_finish();
}
