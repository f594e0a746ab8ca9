/*
 * SEM_UNDO adjustments belong to the process, not its image: they survive execve and are
 * applied when the new image exits; a fork child starts with none, so its exit leaves the
 * parent's adjustments alone.
 */
#include "../fork/fork.h"
#include <sys/ipc.h>
#include <sys/sem.h>

static int up(int id, int num, int by)
{
    struct sembuf op = {(unsigned short)num, (short)by, SEM_UNDO};
    return semop(id, &op, 1);
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv)) {
        int id = atoi(argv[2]);
        CHECK_EQ("after execve the value is still 3", semctl(id, 0, GETVAL), 3);
        CHECK_OK("the new image adds 1 with SEM_UNDO", up(id, 0, 1));
        CHECK_EQ("the value is 4", semctl(id, 0, GETVAL), 4);
        child_exit();
    }

    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    REQUIRE("semget", id >= 0);

    pid_t child = fork_child();
    if (child == 0) {
        NEED("child: up 3 with SEM_UNDO", up(id, 0, 3) == 0);
        char idtext[16];
        snprintf(idtext, sizeof idtext, "%d", id);
        char *args[] = {argv[0], CHILD_MODE, idtext, NULL};
        execv(self_exe(), args);
        _exit(99);
    }
    check_status("the exec'd image checked its value", child, "exit 0");
    CHECK_EQ("both adjustments (before and after execve) were undone at its exit",
             semctl(id, 0, GETVAL), 0);

    pid_t holder = fork_child();
    if (holder == 0) {
        NEED("holder: up 2 with SEM_UNDO", up(id, 1, 2) == 0);
        pid_t grandchild = fork_or_die();
        if (grandchild == 0)
            _exit(0);
        int st;
        NEED("waitpid", wait_for(grandchild, &st, 0) == grandchild);
        CHECK_EQ("a fork child's exit undoes none of its parent's adjustments",
                 semctl(id, 1, GETVAL), 2);
        child_exit();
    }
    check_status("the holder exited", holder, "exit 0");
    CHECK_EQ("the holder's own exit undid its 2", semctl(id, 1, GETVAL), 0);
    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    return check_finish();
}
