/*
 * SysV message queues: msgsnd and msgrcv by type (0, a type, the lowest type up to -n,
 * MSG_EXCEPT), E2BIG and MSG_NOERROR truncation, IPC_NOWAIT, a receiver in another process,
 * msgctl IPC_STAT/IPC_SET (msg_qbytes)/IPC_INFO/MSG_INFO/IPC_RMID, a signal ending a wait with
 * EINTR under SA_RESTART, and the argument errors in Linux's order.
 */
#include "../fork/fork.h"
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>

struct message {
    long type;
    char text[64];
};

static int q;

static long send_msg(long type, const char *text, int flags)
{
    struct message m;
    memset(&m, 0, sizeof m);
    m.type = type;
    size_t n = strlen(text);
    memcpy(m.text, text, n);
    return syscall(SYS_msgsnd, q, &m, n, flags);
}

/* Receives into `m`; returns msgrcv's result. */
static long recv_msg(struct message *m, size_t room, long type, int flags)
{
    memset(m, 0, sizeof *m);
    return syscall(SYS_msgrcv, q, m, room, type, flags);
}

static int got(const struct message *m, long n, long type, const char *text)
{
    return n == (long)strlen(text) && m->type == type && memcmp(m->text, text, (size_t)n) == 0;
}

static long qnum(void)
{
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (syscall(SYS_msgctl, q, IPC_STAT, &ds) != 0)
        return -1;
    return (long)ds.msg_qnum;
}

static void on_usr1(int sig)
{
    (void)sig;
}

int main(void)
{
    q = (int)syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
    NEED("msgget of a new queue", q >= 0);
    struct message m;
    long n;

    CHECK_OK("msgsnd type 1", send_msg(1, "one", 0));
    CHECK_OK("msgsnd type 2", send_msg(2, "two", 0));
    CHECK_OK("msgsnd type 3", send_msg(3, "three", 0));
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    CHECK_OK("IPC_STAT", syscall(SYS_msgctl, q, IPC_STAT, &ds));
    CHECK_EQ("msg_qnum", ds.msg_qnum, 3);
    CHECK_EQ("msg_cbytes", ds.msg_cbytes, 11);
    CHECK_EQ("msg_lspid", ds.msg_lspid, getpid());
    CHECK_EQ("the mode", ds.msg_perm.mode & 0777, 0600);
    check("msg_qbytes is the default", ds.msg_qbytes > 0, "msg_qbytes %lu", (unsigned long)ds.msg_qbytes);

    n = recv_msg(&m, sizeof m.text, 2, 0);
    CHECK_EQ("msgrcv of type 2", got(&m, n, 2, "two"), 1);
    n = recv_msg(&m, sizeof m.text, -3, 0);
    CHECK_EQ("msgrcv of the lowest type up to 3", got(&m, n, 1, "one"), 1);
    n = recv_msg(&m, sizeof m.text, 0, 0);
    CHECK_EQ("msgrcv of the first message", got(&m, n, 3, "three"), 1);
    CHECK_ERR("msgrcv IPC_NOWAIT on an empty queue", recv_msg(&m, sizeof m.text, 0, IPC_NOWAIT),
              ENOMSG);

    send_msg(5, "five", 0);
    send_msg(6, "six", 0);
    n = recv_msg(&m, sizeof m.text, 5, MSG_EXCEPT);
    CHECK_EQ("MSG_EXCEPT skips type 5", got(&m, n, 6, "six"), 1);
    recv_msg(&m, sizeof m.text, 0, 0);

    send_msg(7, "toolong", 0);
    CHECK_ERR("msgrcv into a buffer too small", recv_msg(&m, 3, 0, 0), E2BIG);
    CHECK_EQ("the message stays", qnum(), 1);
    n = recv_msg(&m, 3, 0, MSG_NOERROR);
    CHECK_EQ("MSG_NOERROR truncates", got(&m, n, 7, "too"), 1);
    CHECK_EQ("and takes the message", qnum(), 0);

    send_msg(8, "lost", 0);
    CHECK_ERR("msgrcv into an unwritable buffer", syscall(SYS_msgrcv, q, (void *)8, 16, 0, 0),
              EFAULT);
    CHECK_EQ("the message is gone, as on Linux", qnum(), 0);

    CHECK_ERR("msgsnd of type 0", send_msg(0, "x", 0), EINVAL);
    CHECK_ERR("msgsnd of an unreadable message", syscall(SYS_msgsnd, q, (void *)8, 4, 0), EFAULT);
    struct msginfo info;
    memset(&info, 0, sizeof info);
    CHECK_OK("IPC_INFO", syscall(SYS_msgctl, 0, IPC_INFO, &info));
    check("IPC_INFO limits", info.msgmax > 0 && info.msgmnb > 0 && info.msgmni > 0,
          "msgmax %d msgmnb %d msgmni %d", info.msgmax, info.msgmnb, info.msgmni);
    /* In a child: an emulator that dies on this call must still leave the parent to remove
     * the queue, or the host keeps it. */
    pid_t big = fork_child();
    if (big == 0) {
        long r = syscall(SYS_msgsnd, q, &m, (size_t)info.msgmax + 1, 0);
        _exit(r == -1 && errno == EINVAL ? 0 : 1);
    }
    check_status("msgsnd past MSGMAX is EINVAL", big, "exit 0");
    CHECK_OK("MSG_INFO", syscall(SYS_msgctl, 0, MSG_INFO, &info));
    CHECK_ERR("msgrcv of a negative size", syscall(SYS_msgrcv, q, &m, (size_t)-1, 0, 0), EINVAL);
    CHECK_ERR("msgctl with an unknown command", syscall(SYS_msgctl, q, 999, &ds), EINVAL);
    CHECK_ERR("msgctl with the IPC_64 bit", syscall(SYS_msgctl, q, IPC_STAT | 0x100, &ds), EINVAL);
    CHECK_ERR("msgctl of a negative id", syscall(SYS_msgctl, -1, IPC_STAT, &ds), EINVAL);

    /* A full queue: msg_qbytes lowered to 16. */
    memset(&ds, 0, sizeof ds);
    syscall(SYS_msgctl, q, IPC_STAT, &ds);
    ds.msg_qbytes = 16;
    CHECK_OK("IPC_SET msg_qbytes 16", syscall(SYS_msgctl, q, IPC_SET, &ds));
    CHECK_OK("10 bytes fit", send_msg(9, "0123456789", 0));
    CHECK_ERR("10 more do not, IPC_NOWAIT", send_msg(9, "0123456789", IPC_NOWAIT), EAGAIN);
    recv_msg(&m, sizeof m.text, 0, 0);

    /* A receiver in another process. */
    pid_t pid = fork_child();
    if (pid == 0) {
        n = recv_msg(&m, sizeof m.text, 4, 0);
        _exit(got(&m, n, 4, "four") ? 0 : 1);
    }
    CHECK_OK("msgsnd to the waiting child", send_msg(4, "four", 0));
    check_status("the child received it", pid, "exit 0");
    memset(&ds, 0, sizeof ds);
    syscall(SYS_msgctl, q, IPC_STAT, &ds);
    CHECK_EQ("msg_lrpid names the child", ds.msg_lrpid, pid);

    /* A signal ends a msgrcv wait with EINTR, even with SA_RESTART. */
    pid = fork_child();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_UNBLOCK, &usr1, NULL);
        /* Tell the parent the handler is in place, then wait for a message that never comes. */
        send_msg(10, "ready", 0);
        n = recv_msg(&m, sizeof m.text, 11, 0);
        _exit(n == -1 && errno == EINTR ? 0 : 1);
    }
    n = recv_msg(&m, sizeof m.text, 10, 0);
    CHECK_EQ("the child is ready", got(&m, n, 10, "ready"), 1);
    /* The signal may land before the child blocks: it then keeps arriving until it does. */
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGUSR1);
        sched_yield();
    }
    check("a signal ends a msgrcv wait with EINTR under SA_RESTART", WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "%s", status_text(st));

    CHECK_OK("IPC_RMID", syscall(SYS_msgctl, q, IPC_RMID, 0));
    CHECK_ERR("msgsnd to a removed queue", send_msg(1, "x", 0), EINVAL);
    return check_finish();
}
