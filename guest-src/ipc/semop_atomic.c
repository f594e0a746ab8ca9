/*
 * semop is all or nothing over every operation in its array: when one cannot proceed with
 * IPC_NOWAIT nothing changes; a blocked array completes at once when another process makes all
 * of it possible; several operations on one semaphore apply in order. Argument checks: E2BIG
 * past SEMOPM operations, EFBIG for a semaphore past the set, EINVAL for no operations,
 * EFAULT for an unreadable array.
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

static void values(unsigned short vals[3])
{
    union semun a = {.array = vals};
    NEED("GETALL", semctl(id, 0, GETALL, a) == 0);
}

int main(void)
{
    id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    REQUIRE("semget", id >= 0);
    unsigned short init[3] = {1, 0, 5}, v[3];
    union semun a = {.array = init};
    CHECK_OK("SETALL 1 0 5", semctl(id, 0, SETALL, a));

    struct sembuf cant[3] = {{0, -1, IPC_NOWAIT}, {2, -2, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
    CHECK_ERR("three operations, the last impossible, IPC_NOWAIT", semop(id, cant, 3), EAGAIN);
    values(v);
    check("none of them happened", v[0] == 1 && v[1] == 0 && v[2] == 5, "%u %u %u", v[0], v[1],
          v[2]);

    struct sembuf seq[3] = {{1, 2, 0}, {1, -1, 0}, {1, -1, 0}};
    CHECK_OK("+2 -1 -1 on one semaphore in one call", semop(id, seq, 3));
    CHECK_EQ("its value is 0", semctl(id, 1, GETVAL), 0);
    struct sembuf order[2] = {{1, -1, IPC_NOWAIT}, {1, 1, 0}};
    CHECK_ERR("-1 then +1 on a semaphore at 0: the order counts", semop(id, order, 2), EAGAIN);

    pid_t waiter = fork_child();
    if (waiter == 0) {
        struct sembuf both[2] = {{0, -1, 0}, {1, -2, 0}};
        _exit(semop(id, both, 2) == 0 ? 0 : 1);
    }
    while (semctl(id, 1, GETNCNT) != 1)
        sched_yield();
    check("the waiter waits for semaphore 1", 1, "%s", "");
    CHECK_EQ("semaphore 0 is untouched while it waits", semctl(id, 0, GETVAL), 1);
    struct sembuf up1 = {1, 1, 0};
    CHECK_OK("semaphore 1 to 1", semop(id, &up1, 1));
    CHECK_EQ("still untouched: 1 is not enough", semctl(id, 0, GETVAL), 1);
    CHECK_OK("semaphore 1 to 2", semop(id, &up1, 1));
    check_status("the waiter's two operations completed", waiter, "exit 0");
    values(v);
    check("both applied together", v[0] == 0 && v[1] == 0 && v[2] == 5, "%u %u %u", v[0], v[1],
          v[2]);

    static struct sembuf many[501];
    for (int i = 0; i < 501; i++)
        many[i] = (struct sembuf){2, 0, IPC_NOWAIT};
    CHECK_ERR("501 operations (SEMOPM is 500)", semop(id, many, 501), E2BIG);
    struct sembuf past = {3, 1, 0};
    CHECK_ERR("a semaphore past the set", semop(id, &past, 1), EFBIG);
    CHECK_ERR("no operations", semop(id, many, 0), EINVAL);
    CHECK_ERR("an unreadable array", semop(id, (struct sembuf *)8, 1), EFAULT);
    CHECK_ERR("a negative identifier", semop(-1, &up1, 1), EINVAL);
    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    return check_finish();
}
