/*
 * Removing a SysV object wakes its waiters with EIDRM: a process blocked in semop on a set
 * that is removed, and a receiver of a message queue that is removed (EIDRM while it waits).
 * Every later call on the old identifier is EINVAL.
 */
#include "../fork/fork.h"
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

struct msg {
    long type;
    char text[16];
};

int main(void)
{
    int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    REQUIRE("semget", sem >= 0);
    pid_t sem_waiter = fork_child();
    if (sem_waiter == 0) {
        struct sembuf d = {1, -1, 0};
        int r = semop(sem, &d, 1);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    while (semctl(sem, 1, GETNCNT) != 1)
        sched_yield();
    CHECK_OK("IPC_RMID of the set with a waiter", semctl(sem, 0, IPC_RMID));
    check_status("the waiter's semop failed with EIDRM", sem_waiter, "exit 0");
    struct sembuf u = {0, 1, 0};
    CHECK_ERR("semop on the removed set", semop(sem, &u, 1), EINVAL);

    /* A receiver blocked in msgrcv cannot be seen waiting (msgctl counts none), so the child
     * accepts EIDRM (it waited) or EINVAL (it came after the removal); never a message. */
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    REQUIRE("msgget", q >= 0);
    pid_t receiver = fork_child();
    if (receiver == 0) {
        struct msg m;
        ssize_t r = msgrcv(q, &m, sizeof m.text, 7, 0);
        _exit(r == -1 && (errno == EIDRM || errno == EINVAL) ? 0 : 1);
    }
    struct msg other = {3, "other"};
    CHECK_OK("msgsnd of a type the receiver does not want", msgsnd(q, &other, sizeof other.text, 0));
    CHECK_OK("IPC_RMID of the queue", msgctl(q, IPC_RMID, NULL));
    check_status("the receiver's msgrcv failed and got no message", receiver, "exit 0");
    CHECK_ERR("msgsnd on the removed queue", msgsnd(q, &other, sizeof other.text, IPC_NOWAIT),
              EINVAL);
    CHECK_ERR("IPC_RMID again", msgctl(q, IPC_RMID, NULL), EINVAL);
    return check_finish();
}
