/*
 * SIGEV_THREAD_ID (timer_create with sigev_notify SIGEV_SIGNAL|SIGEV_THREAD_ID): three threads
 * each own a timer aimed at them; each expiry's signal is queued to its thread alone (the
 * others, waiting for the same signal, never see it), with SI_TIMER, the timer's id and value.
 * A timer aimed at a thread of the process is accepted whichever thread creates it.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define N 3

static pthread_barrier_t ready;
static long tids[N];
static timer_t timers[N];
static int results[N];

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    tids[i] = syscall(SYS_gettid);
    pthread_barrier_wait(&ready); /* main creates and arms the timers now */
    pthread_barrier_wait(&ready);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    siginfo_t si;
    int ok = 1;
    /* each thread takes two expiries of its own timer and nothing else */
    for (int k = 0; k < 2; k++) {
        if (sigwaitinfo(&set, &si) != SIGRTMIN + 1)
            ok = 0;
        else if (si.si_code != SI_TIMER || si.si_value.sival_int != 100 + i)
            ok = 0;
    }
    results[i] = ok;
    return NULL;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pthread_barrier_init(&ready, NULL, N + 1);
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        REQUIRE("pthread_create", pthread_create(&th[i], NULL, worker, (void *)(long)i) == 0);
    pthread_barrier_wait(&ready);
    int created = 0;
    for (int i = 0; i < N; i++) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
        ev.sigev_signo = SIGRTMIN + 1;
        ev.sigev_value.sival_int = 100 + i;
        ev.sigev_notify_thread_id = (pid_t)tids[i];
        if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &timers[i]) == 0)
            created++;
    }
    CHECK_EQ("three timers, one aimed at each thread", created, N);
    int armed = 0;
    for (int i = 0; i < N; i++) {
        struct itimerspec every = {{0, 2000000}, {0, 1000000 * (i + 1)}};
        if (timer_settime(timers[i], 0, &every, NULL) == 0)
            armed++;
    }
    CHECK_EQ("armed", armed, N);
    pthread_barrier_wait(&ready);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        char name[80];
        snprintf(name, sizeof name, "thread %d took two expiries of its own timer only", i);
        check(name, results[i], "it saw another signal");
        timer_delete(timers[i]);
    }
    siginfo_t si;
    struct timespec none = {0, 0};
    CHECK_ERR("nothing pending for the main thread, which waits for no timer",
              sigtimedwait(&set, &si, &none), EAGAIN);
    return check_finish();
}
