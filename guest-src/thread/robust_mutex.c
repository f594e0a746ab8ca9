/*
 * Robust mutexes. A PTHREAD_MUTEX_ROBUST, PTHREAD_PROCESS_SHARED mutex in MAP_SHARED memory,
 * locked by a forked child that then _exits (or is killed by SIGKILL) without unlocking: the
 * parent's lock returns EOWNERDEAD, also when it was already blocked in the lock as the child
 * died; pthread_mutex_consistent makes it usable again; unlocking without it leaves the mutex
 * ENOTRECOVERABLE. The same for a thread that exits holding a process-private robust mutex.
 *
 * Most locks of a dead owner's mutex use pthread_mutex_timedlock with a 1 s deadline, so that a
 * runtime that never reports the owner's death shows ETIMEDOUT instead of hanging; the last one
 * is a plain pthread_mutex_lock.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

static const char *ename(int e)
{
    if (e == EOWNERDEAD)
        return "EOWNERDEAD";
    if (e == ENOTRECOVERABLE)
        return "ENOTRECOVERABLE";
    if (e == EDEADLK)
        return "EDEADLK";
    return errname(e);
}

#define CHECK_RET(name, ret, want)                                                              \
    do {                                                                                       \
        int r_ = (ret);                                                                         \
        check((name), r_ == (want), "returned %s, want %s", ename(r_), ename(want));           \
    } while (0)

static void init_robust(pthread_mutex_t *m, int pshared)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    int r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (r == 0)
        r = pthread_mutexattr_setpshared(&a, pshared);
    if (r == 0)
        r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (r != 0) {
        check("initialise a robust mutex", 0, "returned %s", ename(r));
        out("verdict: FAIL (stopped at a required check)\n");
        exit(1);
    }
}

/* pthread_mutex_timedlock with a deadline 1 s ahead: a lock that never comes shows as ETIMEDOUT. */
static int lock_1s(pthread_mutex_t *m)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    return pthread_mutex_timedlock(m, &ts);
}

/* Recovers a mutex whose owner died: EOWNERDEAD, consistent, unlock, lock, unlock. */
static void recover(const char *who, pthread_mutex_t *m, int already_locked_ret)
{
    char name[160];
    snprintf(name, sizeof name, "%s: the lock returns EOWNERDEAD", who);
    CHECK_RET(name, already_locked_ret, EOWNERDEAD);
    if (already_locked_ret != EOWNERDEAD)
        return;
    snprintf(name, sizeof name, "%s: pthread_mutex_consistent", who);
    CHECK_RET(name, pthread_mutex_consistent(m), 0);
    snprintf(name, sizeof name, "%s: unlock", who);
    CHECK_RET(name, pthread_mutex_unlock(m), 0);
    snprintf(name, sizeof name, "%s: lock again", who);
    CHECK_RET(name, pthread_mutex_lock(m), 0);
    snprintf(name, sizeof name, "%s: unlock again", who);
    CHECK_RET(name, pthread_mutex_unlock(m), 0);
}

struct shared {
    pthread_mutex_t m[5];
};

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- threads ---- */

static pthread_mutex_t pm, pm2, pm3;
static int locked_flag;

static void *lock_and_return(void *arg)
{
    pthread_mutex_t *m = arg;
    int r = pthread_mutex_lock(m);
    __atomic_store_n(&locked_flag, 1, __ATOMIC_SEQ_CST);
    return (void *)(long)r;
}

static void *lock_wait_and_exit(void *arg)
{
    pthread_mutex_t *m = arg;
    int r = pthread_mutex_lock(m);
    __atomic_store_n(&locked_flag, 1, __ATOMIC_SEQ_CST);
    sleep_ms(30); /* the main thread is (most likely) blocked in its lock by now */
    pthread_exit((void *)(long)r);
}

int main(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    int robust = -1;
    pthread_mutexattr_getrobust(&a, &robust);
    CHECK_EQ("the default robustness is PTHREAD_MUTEX_STALLED", robust, PTHREAD_MUTEX_STALLED);
    pthread_mutexattr_destroy(&a);

    struct shared *s = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap MAP_SHARED|MAP_ANONYMOUS", s != MAP_FAILED);
    for (int i = 0; i < 5; i++)
        init_robust(&s->m[i], PTHREAD_PROCESS_SHARED);

    /* 1: the child locks and _exits. */
    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(pthread_mutex_lock(&s->m[0]) == 0 ? 0 : 1);
    check_status("child 1 locks the shared mutex and _exits", pid, "exit 0");
    recover("process-shared", &s->m[0], lock_1s(&s->m[0]));

    /* 2: trylock also reports the dead owner. */
    pid = fork_or_die();
    if (pid == 0)
        _exit(pthread_mutex_lock(&s->m[1]) == 0 ? 0 : 1);
    check_status("child 2 locks another shared mutex and _exits", pid, "exit 0");
    recover("process-shared, trylock", &s->m[1], pthread_mutex_trylock(&s->m[1]));

    /* 3: the parent is already blocked in the lock when the child dies. */
    struct turns t;
    turns_open(&t);
    pid = fork_or_die();
    if (pid == 0) {
        int r = pthread_mutex_lock(&s->m[2]);
        pass_to_parent(&t);
        sleep_ms(50);
        _exit(r == 0 ? 0 : 1);
    }
    wait_for_child(&t);
    int r = lock_1s(&s->m[2]);
    check_status("child 3 holds the mutex while the parent waits, then _exits", pid, "exit 0");
    recover("process-shared, blocked waiter", &s->m[2], r);

    /* 4: killed by SIGKILL while holding it; recovered without consistent: not recoverable. */
    pid = fork_or_die();
    if (pid == 0) {
        pthread_mutex_lock(&s->m[3]);
        pass_to_parent(&t);
        for (;;)
            pause();
    }
    wait_for_child(&t);
    kill(pid, SIGKILL);
    check_status("child 4 holds the mutex and is killed", pid, "killed by SIGKILL");
    CHECK_RET("killed owner: the lock returns EOWNERDEAD", lock_1s(&s->m[3]), EOWNERDEAD);
    CHECK_RET("unlock without pthread_mutex_consistent", pthread_mutex_unlock(&s->m[3]), 0);
    CHECK_RET("then the lock returns ENOTRECOVERABLE", lock_1s(&s->m[3]), ENOTRECOVERABLE);
    CHECK_RET("and trylock too", pthread_mutex_trylock(&s->m[3]), ENOTRECOVERABLE);

    /* 5: a thread returns holding a process-private robust mutex. */
    init_robust(&pm, PTHREAD_PROCESS_PRIVATE);
    pthread_t th;
    void *ret = NULL;
    REQUIRE("pthread_create", pthread_create(&th, NULL, lock_and_return, &pm) == 0);
    pthread_join(th, &ret);
    CHECK_EQ("the thread locked the private robust mutex", (long)ret, 0);
    recover("thread", &pm, lock_1s(&pm));

    /* 6: the main thread is blocked in the lock when the owning thread exits. */
    init_robust(&pm2, PTHREAD_PROCESS_PRIVATE);
    locked_flag = 0;
    REQUIRE("pthread_create", pthread_create(&th, NULL, lock_wait_and_exit, &pm2) == 0);
    while (!__atomic_load_n(&locked_flag, __ATOMIC_SEQ_CST))
        sleep_ms(1);
    r = lock_1s(&pm2);
    pthread_join(th, &ret);
    CHECK_EQ("the thread locked the mutex and called pthread_exit", (long)ret, 0);
    recover("thread, blocked waiter", &pm2, r);

    /* 7: an owner that is alive is not dead: trylock is EBUSY, and error checks apply. */
    init_robust(&pm3, PTHREAD_PROCESS_PRIVATE);
    CHECK_RET("lock a fresh robust mutex", pthread_mutex_lock(&pm3), 0);
    CHECK_RET("pthread_mutex_consistent of a consistent mutex: EINVAL", pthread_mutex_consistent(&pm3),
              EINVAL);
    locked_flag = 0;
    REQUIRE("pthread_create", pthread_create(&th, NULL, lock_and_return, &pm3) == 0);
    /* The thread blocks until the unlock below. */
    CHECK_RET("unlock it", pthread_mutex_unlock(&pm3), 0);
    pthread_join(th, &ret);
    CHECK_EQ("the thread got it normally", (long)ret, 0);
    CHECK_RET("and died holding it: EOWNERDEAD", pthread_mutex_trylock(&pm3), EOWNERDEAD);
    CHECK_RET("pthread_mutex_consistent", pthread_mutex_consistent(&pm3), 0);
    CHECK_RET("unlock", pthread_mutex_unlock(&pm3), 0);

    /* 8: plain pthread_mutex_lock (no deadline) after a child _exits holding the mutex. */
    pid = fork_or_die();
    if (pid == 0)
        _exit(pthread_mutex_lock(&s->m[4]) == 0 ? 0 : 1);
    check_status("child 5 locks the shared mutex and _exits", pid, "exit 0");
    recover("process-shared, pthread_mutex_lock", &s->m[4], pthread_mutex_lock(&s->m[4]));
    return check_finish();
}
