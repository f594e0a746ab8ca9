/*
 * POSIX timer ids (kernel/time/posix-timers.c, posix_timer_add): a process's timers get small
 * ids counting up from 0, each new one the next, and a deleted id is not handed out again at
 * once; a hundred timers live side by side and deleting one leaves the others alone; a fork
 * child's timers are its own. Each id's timer keeps its own clock and setting.
 */
#include "../fork/fork.h"
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#define N 100

static int make(int clock, int *id)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_NONE;
    return (int)syscall(SYS_timer_create, clock, &ev, id);
}

int main(void)
{
    int ids[N];
    int made = 0, in_order = 1;
    for (int i = 0; i < N; i++) {
        if (make(i % 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ids[i]) == 0)
            made++;
        if (ids[i] != i)
            in_order = 0;
    }
    CHECK_EQ("a hundred timers", made, N);
    CHECK_EQ("with ids 0 to 99 in order", in_order, 1);
    int armed = 0;
    for (int i = 0; i < N; i++) {
        struct itimerspec s = {{0, 0}, {1000 + i, 0}};
        if (syscall(SYS_timer_settime, ids[i], 0, &s, NULL) == 0)
            armed++;
    }
    CHECK_EQ("each armed for its own time", armed, N);
    CHECK_OK("delete timer 50", syscall(SYS_timer_delete, ids[50]));
    int kept = 0;
    for (int i = 0; i < N; i++) {
        struct itimerspec cur;
        if (i == 50)
            continue;
        if (syscall(SYS_timer_gettime, ids[i], &cur) == 0 && cur.it_value.tv_sec <= 1000 + i &&
            cur.it_value.tv_sec >= 1000 + i - 60)
            kept++;
    }
    CHECK_EQ("the other 99 keep their settings", kept, N - 1);
    int next = -1;
    CHECK_OK("a new timer", make(CLOCK_MONOTONIC, &next));
    CHECK_EQ("gets the next id, 100, not the deleted 50", next, 100);

    pid_t child = fork_child();
    if (child == 0) {
        int first = -1;
        CHECK_OK("child: a new timer", make(CLOCK_MONOTONIC, &first));
        CHECK_EQ("child: its ids start at 0", first, 0);
        child_exit();
    }
    check_status("the child", child, "exit 0");
    int after = -1;
    CHECK_OK("a new timer in the parent", make(CLOCK_MONOTONIC, &after));
    CHECK_EQ("gets 101: the child's timers are not ours", after, 101);
    for (int i = 0; i < N; i++)
        if (i != 50)
            syscall(SYS_timer_delete, ids[i]);
    return check_finish();
}
