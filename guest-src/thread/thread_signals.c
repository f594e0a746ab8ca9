/*
 * Signals and threads: pthread_kill runs the handler in the target thread (and in the caller,
 * before pthread_kill returns, when it targets itself); a new thread inherits its creator's mask;
 * a process-directed kill goes to the thread that does not block the signal; sigwait and
 * sigwaitinfo in a dedicated thread receive a pthread_kill and a sigqueue; a signal blocked in
 * every thread stays pending (sigpending) until a thread unblocks it, which then runs the
 * handler; a thread-directed pending signal is seen only by its thread; pthread_kill interrupts
 * a blocking read with EINTR. Thread ids are compared, never printed.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static volatile sig_atomic_t handler_tid, handler_sig, handler_calls;

static void handler(int sig)
{
    handler_tid = tid();
    handler_sig = sig;
    handler_calls = handler_calls + 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    NEED("sigaction", sigaction(sig, &sa, NULL) == 0);
}

static sigset_t set_of(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static void reset_handler_record(void)
{
    handler_tid = 0;
    handler_sig = 0;
    handler_calls = 0;
}

/* ---- a worker that reports its tid and waits for the handler to have run ---- */

struct worker {
    pthread_t thread;
    volatile pid_t tid;
    volatile int ready;
    int unblock; /* signal to unblock in the worker before becoming ready, or 0 */
    volatile int go;
    int saw_handler;
    sigset_t initial_mask;
    sigset_t pending_seen;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_sigmask(SIG_BLOCK, NULL, &w->initial_mask);
    w->tid = tid();
    if (w->unblock) {
        sigset_t s = set_of(w->unblock);
        pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    }
    __atomic_store_n(&w->ready, 1, __ATOMIC_SEQ_CST);
    /* Wait until the main thread says the signal part is over. */
    for (int i = 0; i < 5000 && !__atomic_load_n(&w->go, __ATOMIC_SEQ_CST); i++)
        sleep_ms(1);
    return NULL;
}

static void start_worker(struct worker *w, int unblock)
{
    memset(w, 0, sizeof *w);
    w->unblock = unblock;
    NEED("pthread_create", pthread_create(&w->thread, NULL, worker_main, w) == 0);
    while (!__atomic_load_n(&w->ready, __ATOMIC_SEQ_CST))
        sleep_ms(1);
}

static void finish_worker(struct worker *w)
{
    __atomic_store_n(&w->go, 1, __ATOMIC_SEQ_CST);
    pthread_join(w->thread, NULL);
}

/* Waits (bounded) for the handler to have run `calls` times. */
static void await_handler(int calls)
{
    for (int i = 0; i < 5000 && handler_calls < calls; i++)
        sleep_ms(1);
}

/* ---- sigwait threads ---- */

static sigset_t waited_set;
static int waited_sig;
static siginfo_t waited_info;

static void *sigwait_thread(void *arg)
{
    (void)arg;
    int sig = 0;
    if (sigwait(&waited_set, &sig) == 0)
        waited_sig = sig;
    return NULL;
}

static void *sigwaitinfo_thread(void *arg)
{
    (void)arg;
    waited_sig = sigwaitinfo(&waited_set, &waited_info);
    return NULL;
}

/* ---- a worker blocked in read ---- */

static int pipe_fds[2];
static volatile int read_done;
static long read_ret;
static int read_err;

static void *reader(void *arg)
{
    struct worker *w = arg;
    w->tid = tid();
    char c;
    errno = 0;
    read_ret = read(pipe_fds[0], &c, 1);
    read_err = errno;
    __atomic_store_n(&read_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(void)
{
    install(SIGUSR1, 0);
    install(SIGUSR2, 0);
    pid_t main_tid = tid();

    /* 1: pthread_kill to itself runs the handler before returning, in this thread. */
    reset_handler_record();
    CHECK_EQ("pthread_kill(self, SIGUSR1)", pthread_kill(pthread_self(), SIGUSR1), 0);
    check("the handler ran before pthread_kill returned", handler_calls == 1, "calls %d",
          (int)handler_calls);
    check("the handler ran in the calling thread", handler_tid == main_tid, "another thread");

    /* 2: pthread_kill to another thread. */
    struct worker w;
    start_worker(&w, 0);
    reset_handler_record();
    CHECK_EQ("pthread_kill(worker, SIGUSR1)", pthread_kill(w.thread, SIGUSR1), 0);
    await_handler(1);
    check("the handler ran once", handler_calls == 1, "calls %d", (int)handler_calls);
    check("the handler ran in the target thread", handler_tid == w.tid, "%s",
          handler_tid == main_tid ? "in the main thread" : "in another thread");
    CHECK_EQ("the handler saw SIGUSR1", handler_sig, SIGUSR1);
    finish_worker(&w);

    /* 3: the mask is inherited. */
    sigset_t usr2 = set_of(SIGUSR2), usr1 = set_of(SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    start_worker(&w, SIGUSR2); /* it inherits the block, then lifts it */
    check("a new thread inherits its creator's mask", sigismember(&w.initial_mask, SIGUSR2) == 1 &&
          sigismember(&w.initial_mask, SIGUSR1) == 0, "mask differs");

    /* 4: a process-directed signal goes to the thread that does not block it. */
    reset_handler_record();
    CHECK_OK("kill(getpid(), SIGUSR2)", kill(getpid(), SIGUSR2));
    await_handler(1);
    check("the handler ran once", handler_calls == 1, "calls %d", (int)handler_calls);
    check("in the worker, the one thread that does not block SIGUSR2", handler_tid == w.tid, "%s",
          handler_tid == main_tid ? "in the main thread" : "in another thread");
    sigset_t pend;
    sigpending(&pend);
    check("nothing is left pending", sigismember(&pend, SIGUSR2) == 0, "SIGUSR2 pending");
    finish_worker(&w);
    pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);

    /* 5: sigwait in a dedicated thread receives a pthread_kill. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &both, NULL);
    waited_set = set_of(SIGUSR1);
    waited_sig = 0;
    reset_handler_record();
    pthread_t sw;
    REQUIRE("pthread_create (sigwait)", pthread_create(&sw, NULL, sigwait_thread, NULL) == 0);
    CHECK_EQ("pthread_kill(sigwait thread, SIGUSR1)", pthread_kill(sw, SIGUSR1), 0);
    pthread_join(sw, NULL);
    CHECK_EQ("sigwait returned SIGUSR1", waited_sig, SIGUSR1);
    CHECK_EQ("the handler did not run", handler_calls, 0);

    /* 6: sigwait in a thread receives a process-directed signal blocked everywhere. */
    waited_set = set_of(SIGTERM);
    waited_sig = 0;
    REQUIRE("pthread_create (sigwait)", pthread_create(&sw, NULL, sigwait_thread, NULL) == 0);
    CHECK_OK("kill(getpid(), SIGTERM)", kill(getpid(), SIGTERM));
    pthread_join(sw, NULL);
    CHECK_EQ("sigwait in the thread returned SIGTERM", waited_sig, SIGTERM);

    /* 7: sigwaitinfo in a thread receives a sigqueue with its value. */
    int rt = SIGRTMIN + 2;
    sigset_t rts = set_of(rt);
    pthread_sigmask(SIG_BLOCK, &rts, NULL);
    waited_set = rts;
    waited_sig = 0;
    memset(&waited_info, 0, sizeof waited_info);
    REQUIRE("pthread_create (sigwaitinfo)", pthread_create(&sw, NULL, sigwaitinfo_thread, NULL) == 0);
    union sigval val = {.sival_int = 4242};
    CHECK_OK("sigqueue(getpid(), SIGRTMIN+2, 4242)", sigqueue(getpid(), rt, val));
    pthread_join(sw, NULL);
    check("sigwaitinfo returned SIGRTMIN+2", waited_sig == rt, "got %d", waited_sig);
    check("si_code is SI_QUEUE and the value arrived",
          waited_info.si_code == SI_QUEUE && waited_info.si_value.sival_int == 4242 &&
              waited_info.si_pid == getpid(),
          "si_code %d value %d", waited_info.si_code, waited_info.si_value.sival_int);
    pthread_sigmask(SIG_UNBLOCK, &rts, NULL);

    /* 8: blocked in every thread: pending until a thread unblocks it. */
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* still blocked from step 5 */
    struct worker w2;
    memset(&w2, 0, sizeof w2);
    start_worker(&w, 0); /* blocks SIGUSR1 too (inherited) */
    reset_handler_record();
    CHECK_OK("kill(getpid(), SIGUSR1) while every thread blocks it", kill(getpid(), SIGUSR1));
    sleep_ms(20);
    CHECK_EQ("the handler has not run", handler_calls, 0);
    sigpending(&pend);
    check("sigpending in the main thread shows SIGUSR1", sigismember(&pend, SIGUSR1) == 1,
          "not pending");
    finish_worker(&w);
    /* A worker that lifts the block takes the pending signal. */
    start_worker(&w2, SIGUSR1);
    await_handler(1);
    check("the handler ran once, after a thread unblocked SIGUSR1", handler_calls == 1, "calls %d",
          (int)handler_calls);
    check("in the thread that unblocked it", handler_tid == w2.tid, "%s",
          handler_tid == main_tid ? "in the main thread" : "in another thread");
    sigpending(&pend);
    check("no longer pending", sigismember(&pend, SIGUSR1) == 0, "still pending");
    finish_worker(&w2);

    /* 9: a thread-directed pending signal belongs to its thread. */
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    start_worker(&w, 0); /* SIGUSR1 and SIGUSR2 blocked */
    reset_handler_record();
    CHECK_EQ("pthread_kill(worker, SIGUSR2) while it blocks it", pthread_kill(w.thread, SIGUSR2), 0);
    sleep_ms(20);
    sigpending(&pend);
    check("the main thread's sigpending does not show it", sigismember(&pend, SIGUSR2) == 0,
          "pending in the main thread");
    CHECK_EQ("the handler has not run", handler_calls, 0);
    pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
    sleep_ms(20);
    CHECK_EQ("unblocking it in the main thread does not run it", handler_calls, 0);
    finish_worker(&w); /* the worker exits with it still pending: it is discarded */
    CHECK_EQ("the handler never ran for it", handler_calls, 0);
    sigpending(&pend);
    check("nothing pending in the main thread", sigismember(&pend, SIGUSR2) == 0, "pending");

    /* 10: pthread_kill interrupts a read in another thread (no SA_RESTART): EINTR. */
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    REQUIRE("pipe", pipe(pipe_fds) == 0);
    memset(&w, 0, sizeof w);
    REQUIRE("pthread_create (reader)", pthread_create(&w.thread, NULL, reader, &w) == 0);
    for (int i = 0; i < 2000 && !__atomic_load_n(&read_done, __ATOMIC_SEQ_CST); i++) {
        pthread_kill(w.thread, SIGUSR1);
        sleep_ms(2);
    }
    pthread_join(w.thread, NULL);
    check("the read returned -1 EINTR", read_ret == -1 && read_err == EINTR, "returned %ld, errno %s",
          read_ret, errname(read_err));
    check("the handler ran in the reader", handler_tid == w.tid, "another thread");
    return check_finish();
}
