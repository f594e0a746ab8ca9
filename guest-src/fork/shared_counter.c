/*
 * 40 children each add 1 to a MAP_SHARED|MAP_ANONYMOUS counter 1000 times with an atomic
 * fetch-and-add while all run at once: no increment is lost (40000), and waiting for any child
 * reaps all 40, each with exit 0.
 */
#include "fork.h"
#include <sys/mman.h>

#define CHILDREN 40
#define ADDS 1000

struct shared {
    int counter;
    int started;
};

int main(void)
{
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap MAP_SHARED|MAP_ANONYMOUS", sh != MAP_FAILED);
    int gate[2];
    NEED("pipe", pipe(gate) == 0);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork_child();
        if (pids[i] == 0) {
            close(gate[1]);
            __atomic_fetch_add(&sh->started, 1, __ATOMIC_SEQ_CST);
            char c;
            /* Everyone starts adding together, when the parent closes the gate's write end. */
            if (read(gate[0], &c, 1) != 0)
                _exit(2);
            for (int k = 0; k < ADDS; k++)
                __atomic_fetch_add(&sh->counter, 1, __ATOMIC_SEQ_CST);
            _exit(0);
        }
    }
    close(gate[1]);
    int exited_0 = 0, reaped = 0;
    for (;;) {
        int st;
        pid_t w = wait_for(-1, &st, 0);
        if (w < 0)
            break;
        reaped++;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            exited_0++;
    }
    CHECK_EQ("wait(-1) ends with ECHILD", errno, ECHILD);
    CHECK_EQ("children reaped", reaped, CHILDREN);
    CHECK_EQ("children that exited 0", exited_0, CHILDREN);
    CHECK_EQ("children that started", __atomic_load_n(&sh->started, __ATOMIC_SEQ_CST), CHILDREN);
    CHECK_EQ("the shared counter", __atomic_load_n(&sh->counter, __ATOMIC_SEQ_CST),
             CHILDREN * ADDS);
    return check_finish();
}
