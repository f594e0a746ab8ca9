/*
 * How Linux applies SEM_UNDO adjustments at exit (ipc/sem.c, exit_sem): an adjustment that
 * would take the value below zero leaves it at zero; SETVAL and SETALL clear every process's
 * adjustments for the semaphores they set; adjustments of several operations add up; IPC_NOWAIT
 * with SEM_UNDO still records the adjustment when it succeeds; an adjustment past the limits of
 * the undo value's range (SEMAEM) is ERANGE, as is a value past SEMVMX.
 */
#include "../fork/fork.h"
#include <sys/ipc.h>
#include <sys/sem.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int id;

static int op(int num, int by, int flags)
{
    struct sembuf o = {(unsigned short)num, (short)by, (short)flags};
    return semop(id, &o, 1);
}

int main(void)
{
    id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    REQUIRE("semget", id >= 0);
    struct turns t;
    turns_open(&t);

    pid_t child = fork_child();
    if (child == 0) {
        NEED("child: +5 with SEM_UNDO", op(0, 5, SEM_UNDO) == 0);
        NEED("child: +1 and +1 with SEM_UNDO|IPC_NOWAIT",
             op(1, 1, SEM_UNDO | IPC_NOWAIT) == 0 && op(1, 1, SEM_UNDO | IPC_NOWAIT) == 0);
        NEED("child: +1 with SEM_UNDO", op(2, 1, SEM_UNDO) == 0);
        pass_to_parent(&t);
        wait_for_parent(&t);
        _exit(0);
    }
    wait_for_child(&t);
    CHECK_EQ("the child raised semaphore 0 to 5", semctl(id, 0, GETVAL), 5);
    CHECK_OK("the parent takes 3 without SEM_UNDO", op(0, -3, 0));
    CHECK_EQ("semaphore 1 is 2", semctl(id, 1, GETVAL), 2);
    union semun v = {.val = 10};
    CHECK_OK("the parent sets semaphore 2 to 10 (clearing adjustments)", semctl(id, 2, SETVAL, v));
    pass_to_child(&t);
    check_status("the child exited", child, "exit 0");
    CHECK_EQ("its -5 on a value of 2 stops at 0", semctl(id, 0, GETVAL), 0);
    CHECK_EQ("its two +1 were undone together", semctl(id, 1, GETVAL), 0);
    CHECK_EQ("SETVAL cleared its adjustment of semaphore 2", semctl(id, 2, GETVAL), 10);

    child = fork_child();
    if (child == 0) {
        NEED("child: +4 with SEM_UNDO", op(0, 4, SEM_UNDO) == 0);
        pass_to_parent(&t);
        wait_for_parent(&t);
        _exit(0);
    }
    wait_for_child(&t);
    unsigned short all[3] = {7, 7, 7};
    union semun a = {.array = all};
    CHECK_OK("the parent runs SETALL", semctl(id, 0, SETALL, a));
    pass_to_child(&t);
    check_status("the child exited", child, "exit 0");
    CHECK_EQ("SETALL cleared its adjustment", semctl(id, 0, GETVAL), 7);

    CHECK_ERR("semop past SEMVMX (7 + 32761) is ERANGE", op(0, 32761, 0), ERANGE);
    CHECK_EQ("and changes nothing", semctl(id, 0, GETVAL), 7);

    child = fork_child();
    if (child == 0) {
        /* The undo value must stay within -32768..32767 (SEMAEM), whatever the value does. */
        CHECK_OK("-7 with SEM_UNDO (undo +7)", op(1, -7, SEM_UNDO));
        CHECK_OK("+32767 with SEM_UNDO (undo -32760)", op(1, 32767, SEM_UNDO));
        CHECK_OK("-32767 without SEM_UNDO", op(1, -32767, 0));
        CHECK_OK("+8 with SEM_UNDO (undo -32768)", op(1, 8, SEM_UNDO));
        CHECK_OK("-8 without SEM_UNDO", op(1, -8, 0));
        CHECK_ERR("+1 with SEM_UNDO (undo -32769) is ERANGE", op(1, 1, SEM_UNDO), ERANGE);
        CHECK_OK("+1 without SEM_UNDO", op(1, 1, 0));
        child_exit();
    }
    check_status("the child checked the undo range", child, "exit 0");
    CHECK_EQ("its exit undid +32768 - 7 from 1: 0, not negative", semctl(id, 1, GETVAL), 0);
    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    return check_finish();
}
