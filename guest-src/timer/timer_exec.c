/*
 * Across execve (fs/exec.c, de_thread and exit_itimers): POSIX timers are deleted, so their ids
 * are unknown in the new image and an armed one never fires there, while the interval timers of
 * setitimer and alarm keep running with the time they had left. Ids are counted per process,
 * not per image: the new image's first timer gets the id after the old image's last one.
 */
#include "../fork/fork.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static int image(char **argv)
{
    int old_id = atoi(argv[2]);
    struct itimerspec cur;
    CHECK_ERR("the old POSIX timer is gone", syscall(SYS_timer_gettime, old_id, &cur), EINVAL);
    CHECK_ERR("timer_delete of it", syscall(SYS_timer_delete, old_id), EINVAL);
    struct itimerval it;
    CHECK_OK("getitimer ITIMER_REAL", getitimer(ITIMER_REAL, &it));
    CHECK_EQ("ITIMER_REAL kept running: under an hour left, more than 50 minutes",
             it.it_value.tv_sec < 3600 && it.it_value.tv_sec >= 3000, 1);
    CHECK_EQ("with its interval", it.it_interval.tv_sec, 7200);
    int id = -1;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_NONE;
    CHECK_OK("timer_create in the new image", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
    CHECK_EQ("its id follows the old image's two (2)", id, 2);
    /* The old image armed its timer (SIGUSR1, blocked across execve) for one second after
     * `when`: sleep until a little after that, then nothing may be pending. */
    struct timespec when = {atol(argv[3]) + 1, 100000000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL);
    sigset_t pend;
    sigpending(&pend);
    CHECK_EQ("its expiry time passed and no signal of the old timer came",
             sigismember(&pend, SIGUSR1), 0);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    return check_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argv);

    pid_t child = fork_child();
    if (child == 0) {
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, NULL);
        int id = -1;
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGUSR1;
        NEED("timer_create", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id) == 0);
        int second = -1;
        NEED("a second timer", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &second) == 0);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct itimerspec at = {{0, 0}, {now.tv_sec + 1, 0}};
        NEED("arm the second for one second on", syscall(SYS_timer_settime, second,
                                                          TIMER_ABSTIME, &at, NULL) == 0);
        struct itimerval hour = {{7200, 0}, {3600, 0}};
        NEED("setitimer ITIMER_REAL for an hour", setitimer(ITIMER_REAL, &hour, NULL) == 0);
        char ids[16], secs[32];
        snprintf(ids, sizeof ids, "%d", second);
        snprintf(secs, sizeof secs, "%ld", (long)now.tv_sec);
        char *args[] = {argv[0], CHILD_MODE, ids, secs, NULL};
        execv(self_exe(), args);
        _exit(99);
    }
    check_status("the new image", child, "exit 0");
    return check_finish();
}
