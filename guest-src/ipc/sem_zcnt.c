/*
 * SysV semaphores: waiting for zero. A process waiting for a semaphore to reach zero counts in
 * GETZCNT, one waiting for it to grow in GETNCNT; setting the value to zero wakes the first,
 * raising it wakes the second. A zero operation on a semaphore at zero, and with IPC_NOWAIT on
 * one that is not, answer at once.
 */
#include "../fork/fork.h"
#include <sched.h>
#include <sys/ipc.h>
#include <sys/sem.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int id;

static void wait_count(int cmd, int want)
{
    while (semctl(id, 0, cmd) != want)
        sched_yield();
}

int main(void)
{
    id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    REQUIRE("semget", id >= 0);
    struct sembuf zero = {0, 0, 0};
    CHECK_OK("waiting for zero on a semaphore at zero returns at once", semop(id, &zero, 1));
    union semun v = {.val = 2};
    CHECK_OK("SETVAL 2", semctl(id, 0, SETVAL, v));
    struct sembuf zero_nowait = {0, 0, IPC_NOWAIT};
    CHECK_ERR("waiting for zero with IPC_NOWAIT on 2", semop(id, &zero_nowait, 1), EAGAIN);
    CHECK_EQ("GETZCNT with nobody waiting", semctl(id, 0, GETZCNT), 0);

    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork_child();
        if (kids[i] == 0) {
            struct sembuf z = {0, 0, 0};
            _exit(semop(id, &z, 1) == 0 ? 0 : 1);
        }
    }
    wait_count(GETZCNT, 2);
    check("GETZCNT counts two processes waiting for zero", 1, "%s", "");
    CHECK_EQ("GETNCNT counts none", semctl(id, 0, GETNCNT), 0);
    struct sembuf down = {0, -1, 0};
    CHECK_OK("one down: the value is 1", semop(id, &down, 1));
    CHECK_EQ("they still wait", semctl(id, 0, GETZCNT), 2);
    CHECK_OK("another down: the value is 0", semop(id, &down, 1));
    check_status("the first waiter woke", kids[0], "exit 0");
    check_status("the second waiter woke", kids[1], "exit 0");
    CHECK_EQ("GETZCNT is 0 again", semctl(id, 0, GETZCNT), 0);

    pid_t taker = fork_child();
    if (taker == 0) {
        struct sembuf d = {0, -2, 0};
        _exit(semop(id, &d, 1) == 0 ? 0 : 1);
    }
    wait_count(GETNCNT, 1);
    check("GETNCNT counts a process waiting to take 2", 1, "%s", "");
    CHECK_EQ("GETZCNT counts none", semctl(id, 0, GETZCNT), 0);
    struct sembuf up1 = {0, 1, 0};
    CHECK_OK("up by 1", semop(id, &up1, 1));
    CHECK_EQ("the taker still waits for 2", semctl(id, 0, GETNCNT), 1);
    CHECK_OK("up by 1 again", semop(id, &up1, 1));
    check_status("the taker got its 2", taker, "exit 0");
    CHECK_EQ("the value is back at 0", semctl(id, 0, GETVAL), 0);
    CHECK_ERR("GETZCNT of a semaphore past the set", semctl(id, 1, GETZCNT), EINVAL);
    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    return check_finish();
}
