/*
 * POSIX message queues: create and open by name, attributes, priority order, sizes, full and
 * empty queues (non-blocking, and a deadline already past), access modes, a message from a
 * fork child to its parent, notification by signal (SI_MESGQ with the value and the sender,
 * one registration at a time), and the errors of each call. The queue's name carries the pid,
 * so runs at the same time never share one.
 */
#include "../fork/fork.h"
#include <mqueue.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static char name[64];

static mqd_t open_new(int extra, long maxmsg, long msgsize)
{
    struct mq_attr attr = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
    return mq_open(name, O_RDWR | O_CREAT | O_EXCL | extra, 0600, &attr);
}

int main(void)
{
    snprintf(name, sizeof name, "/elfvisor-mq-%d", (int)getpid());
    mq_unlink(name);
    mqd_t q = open_new(0, 4, 64);
    CHECK_OK("mq_open O_CREAT|O_EXCL", q);
    CHECK_ERR("again with O_EXCL", open_new(0, 4, 64), EEXIST);
    struct mq_attr at;
    CHECK_OK("mq_getattr", mq_getattr(q, &at));
    CHECK_EQ("mq_maxmsg", at.mq_maxmsg, 4);
    CHECK_EQ("mq_msgsize", at.mq_msgsize, 64);
    CHECK_EQ("mq_curmsgs", at.mq_curmsgs, 0);
    CHECK_EQ("mq_flags", at.mq_flags, 0);

    CHECK_OK("send with priority 1", mq_send(q, "one", 3, 1));
    CHECK_OK("send with priority 5", mq_send(q, "five", 4, 5));
    CHECK_OK("send with priority 3", mq_send(q, "three", 5, 3));
    CHECK_OK("mq_getattr", mq_getattr(q, &at));
    CHECK_EQ("three messages", at.mq_curmsgs, 3);
    char buf[128];
    unsigned prio = 0;
    ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK_EQ("the highest priority first", n, 4);
    CHECK_MEM("its bytes", buf, "five", 4);
    CHECK_EQ("its priority", prio, 5);
    n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK_EQ("then priority 3", n == 5 && prio == 3 && memcmp(buf, "three", 5) == 0, 1);
    n = mq_receive(q, buf, sizeof buf, NULL);
    CHECK_EQ("then priority 1, without asking the priority", n == 3 && memcmp(buf, "one", 3) == 0,
             1);

    char big[65];
    memset(big, 'x', sizeof big);
    CHECK_ERR("a message over mq_msgsize", mq_send(q, big, 65, 0), EMSGSIZE);
    CHECK_ERR("a buffer under mq_msgsize", mq_receive(q, buf, 63, NULL), EMSGSIZE);
    CHECK_ERR("priority 32768", mq_send(q, "p", 1, 32768), EINVAL);
    CHECK_ERR("a message from a bad pointer", mq_send(q, (const char *)16, 8, 0), EFAULT);
    struct timespec past = { 0, 0 };
    CHECK_ERR("a deadline already past on an empty queue", mq_timedreceive(q, buf, 64, NULL, &past),
              ETIMEDOUT);
    struct timespec bad = { 0, 1000000000 };
    CHECK_ERR("a deadline with nsec 1e9", mq_timedreceive(q, buf, 64, NULL, &bad), EINVAL);

    struct mq_attr nb = { .mq_flags = O_NONBLOCK }, old;
    CHECK_OK("mq_setattr O_NONBLOCK", mq_setattr(q, &nb, &old));
    CHECK_EQ("the old flags", old.mq_flags, 0);
    CHECK_OK("mq_getattr", mq_getattr(q, &at));
    CHECK_EQ("O_NONBLOCK now", at.mq_flags, O_NONBLOCK);
    CHECK_ERR("receive from an empty queue", mq_receive(q, buf, 64, NULL), EAGAIN);
    for (int i = 0; i < 4; i++)
        NEED("fill the queue", mq_send(q, "m", 1, 0) == 0);
    CHECK_ERR("send to a full queue", mq_send(q, "m", 1, 0), EAGAIN);
    for (int i = 0; i < 4; i++)
        NEED("empty the queue", mq_receive(q, buf, 64, NULL) == 1);
    struct mq_attr badflags = { .mq_flags = O_NONBLOCK | O_APPEND };
    CHECK_ERR("mq_setattr with another flag", syscall(SYS_mq_getsetattr, q, &badflags, NULL), EINVAL);
    nb.mq_flags = 0;
    CHECK_OK("mq_setattr back to blocking", mq_setattr(q, &nb, NULL));

    mqd_t ro = mq_open(name, O_RDONLY);
    CHECK_OK("mq_open O_RDONLY by name", ro);
    CHECK_ERR("send on a read-only descriptor", mq_send(ro, "r", 1, 0), EBADF);
    mqd_t wo = mq_open(name, O_WRONLY);
    CHECK_OK("mq_open O_WRONLY", wo);
    CHECK_ERR("receive on a write-only descriptor", mq_receive(wo, buf, 64, NULL), EBADF);

    /* A message from a fork child, received blocking by the parent. */
    pid_t pid = fork_child();
    if (pid == 0) {
        /* Silent: the parent's receive may print before or after anything the child would. */
        mqd_t c = mq_open(name, O_WRONLY);
        _exit(c >= 0 && mq_send(c, "from the child", 14, 7) == 0 ? 0 : 1);
    }
    n = mq_receive(ro, buf, 64, &prio);
    CHECK_EQ("the parent receives it", n == 14 && prio == 7 && memcmp(buf, "from the child", 14) == 0,
             1);
    check_status("the child sent it", pid, "exit 0");

    /* Notification by signal. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 77;
    int registered = mq_notify(q, &ev) == 0;
    CHECK_EQ("mq_notify SIGEV_SIGNAL", registered, 1);
    CHECK_ERR("a second registration", mq_notify(q, &ev), EBUSY);
    CHECK_OK("a message to the empty queue", mq_send(q, "n", 1, 0));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* Wait only for a signal that was registered: nothing else would ever send it. */
    CHECK_EQ("the signal arrives", registered ? sigwaitinfo(&usr1, &si) : -1, SIGUSR1);
    CHECK_EQ("with SI_MESGQ", si.si_code, SI_MESGQ);
    CHECK_EQ("the value", si.si_value.sival_int, 77);
    CHECK_EQ("and the sender", si.si_pid, getpid());
    CHECK_OK("the registration is spent: register again", mq_notify(q, &ev));
    CHECK_OK("remove it", mq_notify(q, NULL));
    CHECK_OK("and register once more", mq_notify(q, &ev));
    NEED("drain", mq_receive(q, buf, 64, NULL) == 1);
    ev.sigev_notify = 9;
    CHECK_ERR("sigev_notify 9", mq_notify(q, &ev), EINVAL);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 65;
    CHECK_ERR("signal 65", mq_notify(q, &ev), EINVAL);
    CHECK_ERR("a sigevent from a bad pointer", syscall(SYS_mq_notify, q, 16), EFAULT);

    /* Names and descriptors. */
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_ERR("mq_getattr of a pipe", mq_getattr(p[0], &at), EBADF);
    CHECK_ERR("mq_getattr of a closed descriptor", mq_getattr(999, &at), EBADF);
    CHECK_ERR("a name with a slash inside", syscall(SYS_mq_open, "a/b", O_RDONLY, 0, NULL), EACCES);
    CHECK_ERR("a name from a bad pointer", syscall(SYS_mq_open, 16, O_RDONLY, 0, NULL), EFAULT);
    struct mq_attr zero = { .mq_maxmsg = 0, .mq_msgsize = 8 };
    CHECK_ERR("mq_maxmsg 0", mq_open("/elfvisor-mq-never", O_RDWR | O_CREAT, 0600, &zero), EINVAL);
    CHECK_OK("mq_unlink", mq_unlink(name));
    CHECK_ERR("mq_unlink again", mq_unlink(name), ENOENT);
    CHECK_ERR("mq_open of the unlinked name", mq_open(name, O_RDONLY), ENOENT);
    CHECK_OK("the open descriptor still works", mq_send(q, "after", 5, 0));
    CHECK_EQ("and receives", mq_receive(ro, buf, 64, NULL), 5);
    return check_finish();
}
