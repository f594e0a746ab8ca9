/*
 * poll_masks — ppoll and pselect6 on pipes: readiness, POLLHUP of a closed peer, POLLNVAL,
 * the time left written back, and the temporary signal mask: a signal it blocks stays pending,
 * one it lets through ends the wait with EINTR after its handler ran, and the old mask is back
 * afterwards. A signal from another thread interrupts a wait without a time limit.
 */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/select.h>
#include <time.h>

static volatile sig_atomic_t handled;
static void on_signal(int sig) { (void)sig; handled++; }

static atomic_int waiter_done;
static pthread_t waiter;

static void *kicker(void *arg)
{
    (void)arg;
    /* Until the waiter has come back: a signal that lands before it blocks runs its handler and
     * the next one interrupts the wait. */
    while (!atomic_load(&waiter_done)) {
        pthread_kill(waiter, SIGUSR2);
        usleep(1000);
    }
    return NULL;
}

int main(void)
{
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    /* Readiness. */
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    struct timespec zero = {0, 0};
    CHECK_EQ("ppoll empty pipe: only the write end", ppoll(fds, 3, &zero, NULL), 1);
    CHECK_EQ("write end POLLOUT", fds[1].revents, POLLOUT);
    CHECK_EQ("read end nothing", fds[0].revents, 0);
    CHECK_EQ("negative fd ignored", fds[2].revents, 0);
    CHECK_EQ("zero timeout left as it was", zero.tv_sec + zero.tv_nsec, 0);
    NEED("write", write(p[1], "x", 1) == 1);
    struct timespec ts = {100, 0};
    CHECK_EQ("ppoll with data", ppoll(fds, 2, &ts, NULL), 2);
    CHECK_EQ("read end POLLIN", fds[0].revents, POLLIN);
    long long left = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    check("time left written back", left <= 100000000000LL && left > 50000000000LL, "%lld", left);

    /* A descriptor that is not open. */
    struct pollfd bad = {99, POLLIN, 0};
    CHECK_EQ("closed fd counts", poll(&bad, 1, 0), 1);
    CHECK_EQ("closed fd POLLNVAL", bad.revents, POLLNVAL);

    /* select through pselect6. */
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    struct timeval tv = {5, 0};
    CHECK_EQ("select both ready", select(p[1] + 1, &rd, &wr, NULL, &tv), 2);
    check("select read set", FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr), "sets");
    char c;
    NEED("read", read(p[0], &c, 1) == 1);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    CHECK_EQ("select nothing ready", select(p[0] + 1, &rd, NULL, NULL, &tv), 0);
    CHECK_EQ("select clears the set", FD_ISSET(p[0], &rd), 0);

    /* The temporary mask: SIGUSR1 blocked and pending. */
    sigset_t block, empty, got;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    fds[0].revents = 0;
    CHECK_EQ("ppoll whose mask blocks it: times out", ppoll(fds, 1, &zero, &block), 0);
    sigpending(&got);
    CHECK_EQ("still pending", sigismember(&got, SIGUSR1), 1);
    CHECK_EQ("no handler yet", handled, 0);
    CHECK_ERR("ppoll whose mask lets it through", ppoll(fds, 1, NULL, &empty), EINTR);
    CHECK_EQ("handler ran", handled, 1);
    sigprocmask(SIG_BLOCK, NULL, &got);
    CHECK_EQ("old mask back", sigismember(&got, SIGUSR1), 1);
    /* A ready descriptor wins over the signal. */
    raise(SIGUSR1);
    CHECK_EQ("ppoll ready and signalled", ppoll(&fds[1], 1, NULL, &empty), 1);
    CHECK_EQ("handler not run by a ready ppoll", handled, 1);
    sigpending(&got);
    CHECK_EQ("pending after a ready ppoll", sigismember(&got, SIGUSR1), 1);

    /* pselect with the same masks. */
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    struct timespec zts = {0, 0};
    CHECK_EQ("pselect whose mask blocks it", pselect(p[0] + 1, &rd, NULL, NULL, &zts, &block), 0);
    FD_SET(p[0], &rd);
    CHECK_ERR("pselect whose mask lets it through",
              pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty), EINTR);
    CHECK_EQ("pselect handler ran", handled, 2);
    sigprocmask(SIG_BLOCK, NULL, &got);
    CHECK_EQ("pselect old mask back", sigismember(&got, SIGUSR1), 1);
    sigprocmask(SIG_UNBLOCK, &block, NULL);

    /* Another thread's signal ends a wait without a limit. */
    waiter = pthread_self();
    pthread_t t;
    NEED("thread", pthread_create(&t, NULL, kicker, NULL) == 0);
    struct pollfd rfd = {p[0], POLLIN, 0};
    int r = ppoll(&rfd, 1, NULL, NULL);
    int e = errno;
    atomic_store(&waiter_done, 1);
    pthread_join(t, NULL);
    check("ppoll interrupted by a thread's signal", r == -1 && e == EINTR, "%d %s", r, errname(e));

    /* A closed peer. */
    close(p[1]);
    rfd.revents = 0;
    CHECK_EQ("closed peer", poll(&rfd, 1, 0), 1);
    CHECK_EQ("closed peer POLLHUP", rfd.revents, POLLHUP);
    return check_finish();
}
