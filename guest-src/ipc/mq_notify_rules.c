/*
 * mq_notify's rules (ipc/mqueue.c): one registration per queue, EBUSY for anyone else and for
 * the owner itself until it is removed (a null sigevent from the owner) or used; a notification
 * only when a message arrives on an empty queue, never for a queue that was already non-empty;
 * a notification is used once; SIGEV_NONE registers without notifying; removal by another
 * process is a no-op. Real-time signals queue every notification, so a stray one would show.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <time.h>

static mqd_t q;
static int sig;

static int notify_signal(int value)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    ev.sigev_value.sival_int = value;
    return mq_notify(q, &ev);
}

/* Waits for the notification signal (up to a minute, never expected to take long). */
static int wait_value(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    siginfo_t si;
    struct timespec limit = {60, 0};
    if (sigtimedwait(&set, &si, &limit) != sig)
        return -1;
    return si.si_code == SI_MESGQ ? si.si_value.sival_int : -2;
}

static int pending_now(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    siginfo_t si;
    struct timespec none = {0, 0};
    return sigtimedwait(&set, &si, &none) == sig;
}

int main(void)
{
    sig = SIGRTMIN + 4;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, sig);
    sigprocmask(SIG_BLOCK, &block, NULL);

    char name[64];
    snprintf(name, sizeof name, "/elfvisor-notify-%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 8};
    q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    REQUIRE("mq_open", q != (mqd_t)-1);
    mq_unlink(name);

    struct sigevent none;
    memset(&none, 0, sizeof none);
    none.sigev_notify = SIGEV_NONE;
    CHECK_OK("register SIGEV_NONE", mq_notify(q, &none));
    CHECK_ERR("register again while registered", notify_signal(1), EBUSY);
    pid_t other = fork_child();
    if (other == 0) {
        CHECK_ERR("another process cannot register", notify_signal(1), EBUSY);
        CHECK_OK("another process's removal returns 0", mq_notify(q, NULL));
        child_exit();
    }
    check_status("the other process", other, "exit 0");
    CHECK_ERR("its removal removed nothing", notify_signal(1), EBUSY);
    CHECK_OK("send to the empty queue (SIGEV_NONE: no signal)", mq_send(q, "a", 1, 0));
    CHECK_OK("the SIGEV_NONE registration was used: register a signal", notify_signal(2));
    CHECK_OK("remove it", mq_notify(q, NULL));
    CHECK_OK("remove with nothing registered", mq_notify(q, NULL));
    char buf[8];
    CHECK_EQ("drain", mq_receive(q, buf, sizeof buf, NULL), 1);

    CHECK_OK("register signal 3 on the empty queue", notify_signal(3));
    CHECK_OK("send", mq_send(q, "b", 1, 0));
    CHECK_EQ("notified with value 3", wait_value(), 3);
    CHECK_OK("register signal 4 on the non-empty queue", notify_signal(4));
    CHECK_OK("send a second message", mq_send(q, "c", 1, 0));
    CHECK_EQ("no notification: the queue was not empty", pending_now(), 0);
    CHECK_EQ("drain the first", mq_receive(q, buf, sizeof buf, NULL), 1);
    CHECK_EQ("drain the second", mq_receive(q, buf, sizeof buf, NULL), 1);
    CHECK_OK("send to the empty queue", mq_send(q, "d", 1, 0));
    CHECK_EQ("notified with value 4", wait_value(), 4);
    CHECK_OK("send another", mq_send(q, "e", 1, 0));
    CHECK_EQ("a used registration notifies no more", pending_now(), 0);
    CHECK_OK("a new registration is accepted", notify_signal(5));

    struct sigevent bad;
    memset(&bad, 0, sizeof bad);
    bad.sigev_notify = 99;
    CHECK_ERR("an unknown sigev_notify", mq_notify(q, &bad), EINVAL);
    bad.sigev_notify = SIGEV_SIGNAL;
    bad.sigev_signo = 65;
    CHECK_ERR("signal 65", mq_notify(q, &bad), EINVAL);
    CHECK_ERR("a closed descriptor", mq_notify((mqd_t)1000, &none), EBADF);
    CHECK_OK("close the queue", mq_close(q));
    return check_finish();
}
