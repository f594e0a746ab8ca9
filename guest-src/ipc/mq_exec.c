/*
 * POSIX message queues across execve and between programs: mq_open's descriptor is always
 * close-on-exec (ipc/mqueue.c, do_mq_open), so only one whose FD_CLOEXEC was cleared with fcntl
 * stays open in the new image; a separately exec'd program opens the queue by
 * its name, sends with priorities and unlinks the name while the first program still holds the
 * queue open, which keeps working; the name is then gone for everyone.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <mqueue.h>

static int peer(char **argv)
{
    mqd_t kept = (mqd_t)atoi(argv[2]), closed = (mqd_t)atoi(argv[3]);
    const char *name = argv[4];
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    CHECK_OK("peer: the inherited descriptor is a queue", mq_getattr(kept, &a));
    CHECK_EQ("peer: its message size", a.mq_msgsize, 16);
    CHECK_ERR("peer: the other descriptor is closed", mq_getattr(closed, &a), EBADF);
    CHECK_OK("peer: send through the inherited descriptor", mq_send(kept, "kept", 5, 1));
    mqd_t byname = mq_open(name, O_WRONLY);
    CHECK_EQ("peer: mq_open by name", byname != (mqd_t)-1, 1);
    CHECK_OK("peer: send priority 9", mq_send(byname, "urgent", 7, 9));
    CHECK_OK("peer: send priority 0", mq_send(byname, "later", 6, 0));
    char buf[16];
    CHECK_ERR("peer: a write-only descriptor cannot receive", mq_receive(byname, buf, 16, NULL),
              EBADF);
    CHECK_OK("peer: unlink the name", mq_unlink(name));
    return check_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return peer(argv);

    char name[64];
    snprintf(name, sizeof name, "/elfvisor-exec-%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    mqd_t c = mq_open(name, O_RDONLY);
    REQUIRE("mq_open twice", q != (mqd_t)-1 && c != (mqd_t)-1);
    CHECK_EQ("mq_open without O_CLOEXEC is close-on-exec", fcntl(c, F_GETFD), FD_CLOEXEC);
    CHECK_OK("clear FD_CLOEXEC of the first", fcntl(q, F_SETFD, 0));

    pid_t child = fork_child();
    if (child == 0) {
        char qs[16], cs[16];
        snprintf(qs, sizeof qs, "%d", (int)q);
        snprintf(cs, sizeof cs, "%d", (int)c);
        char *args[] = {argv[0], CHILD_MODE, qs, cs, name, NULL};
        execv(self_exe(), args);
        _exit(99);
    }
    check_status("the exec'd program", child, "exit 0");
    char buf[16];
    unsigned prio;
    ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
    check("first the priority-9 message", n == 7 && prio == 9 && strcmp(buf, "urgent") == 0,
          "n %zd prio %u", n, prio);
    n = mq_receive(q, buf, sizeof buf, &prio);
    check("then the inherited descriptor's, priority 1", n == 5 && prio == 1, "n %zd prio %u", n,
          prio);
    n = mq_receive(c, buf, sizeof buf, &prio);
    check("then the last, through the other descriptor", n == 6 && prio == 0, "n %zd prio %u", n,
          prio);
    CHECK_ERR("the name is gone", mq_open(name, O_RDONLY), ENOENT);
    CHECK_ERR("unlinking it again", mq_unlink(name), ENOENT);
    CHECK_OK("the unlinked queue still works", mq_send(q, "x", 1, 0));
    mq_close(q);
    mq_close(c);
    return check_finish();
}
