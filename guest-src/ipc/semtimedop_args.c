/*
 * semtimedop's timeout: checked (EFAULT, then EINVAL for a negative or out-of-range value)
 * before the operations, even ones that could proceed; a zero timeout fails at once with
 * EAGAIN, applying nothing; a long timeout ends early when another process makes the
 * operation possible; a null timeout is semop.
 */
#include "../fork/fork.h"
#include <sched.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <time.h>

static int id;

static long timed(struct sembuf *ops, int n, const struct timespec *ts)
{
    return syscall(SYS_semtimedop, id, ops, n, ts);
}

int main(void)
{
    id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    REQUIRE("semget", id >= 0);
    struct sembuf up = {0, 1, 0}, down = {0, -1, 0};
    struct timespec neg_sec = {-1, 0}, neg_nsec = {0, -1}, big_nsec = {0, 1000000000L};
    CHECK_ERR("a negative tv_sec, for an operation that could proceed", timed(&up, 1, &neg_sec),
              EINVAL);
    CHECK_ERR("a negative tv_nsec", timed(&up, 1, &neg_nsec), EINVAL);
    CHECK_ERR("tv_nsec of a whole second", timed(&up, 1, &big_nsec), EINVAL);
    CHECK_ERR("an unreadable timeout", timed(&up, 1, (struct timespec *)8), EFAULT);
    CHECK_EQ("none of them applied the +1", semctl(id, 0, GETVAL), 0);

    struct timespec zero = {0, 0};
    CHECK_ERR("a zero timeout on a semaphore at 0", timed(&down, 1, &zero), EAGAIN);
    struct sembuf two[2] = {{1, 1, 0}, {0, -1, 0}};
    CHECK_ERR("a zero timeout on two operations, the second impossible", timed(two, 2, &zero),
              EAGAIN);
    CHECK_EQ("the first was not applied", semctl(id, 1, GETVAL), 0);
    CHECK_OK("a zero timeout on an operation that can proceed", timed(&up, 1, &zero));
    CHECK_OK("a null timeout", timed(&down, 1, NULL));

    pid_t waker = fork_child();
    if (waker == 0) {
        while (semctl(id, 0, GETNCNT) != 1)
            sched_yield();
        struct sembuf u = {0, 1, 0};
        _exit(semop(id, &u, 1) == 0 ? 0 : 1);
    }
    struct timespec long_wait = {600, 0};
    CHECK_OK("a ten-minute timeout ended by another process's semop", timed(&down, 1, &long_wait));
    check_status("the waker", waker, "exit 0");
    CHECK_EQ("the value is 0", semctl(id, 0, GETVAL), 0);
    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    CHECK_ERR("semtimedop on the removed set", timed(&up, 1, &zero), EINVAL);
    return check_finish();
}
