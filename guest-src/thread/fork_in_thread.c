/*
 * fork in a multi-threaded process. While a second thread keeps writing, the main thread forks:
 * the child holds only the forking thread (the writer's counter stands still there), its memory
 * is a consistent snapshot (a 64-bit word written as two equal halves has equal halves; eight
 * words written in order hold a prefix of the writes), it can lock a mutex the writer never
 * holds, unlock one its own thread held at the fork, and create and join a thread of its own.
 * The parent then stops the writer and joins it. A fork from a non-main thread gives a child
 * whose only thread is a main thread (getpid() == gettid()) that can run threads too.
 *
 * Each child prints its checks while its parent waits for it, and exits with its verdict.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

static uint64_t pair;        /* (n << 32) | n, stored whole */
static uint64_t ordered[8];  /* n, n, ..., written from index 0 up */
static uint64_t writes;      /* how many rounds the writer has done */
static int stop;
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER; /* the writer never takes it */
static pthread_mutex_t main_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the forking thread */

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t n = 1; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); n++) {
        __atomic_store_n(&pair, (n << 32) | n, __ATOMIC_RELEASE);
        for (int i = 0; i < 8; i++)
            __atomic_store_n(&ordered[i], n, __ATOMIC_RELEASE);
        __atomic_store_n(&writes, n, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

static void *child_thread(void *arg) { return (void *)((long)arg * 3); }

/* The memory the writer left: equal halves, and the eight words a prefix of a round. */
static void check_snapshot(const char *who)
{
    char name[128];
    uint64_t p = __atomic_load_n(&pair, __ATOMIC_ACQUIRE);
    snprintf(name, sizeof name, "%s: the 64-bit pair has equal halves", who);
    check(name, (p >> 32) == (p & 0xffffffffu), "halves differ");
    int ordered_ok = 1;
    for (int i = 1; i < 8; i++)
        ordered_ok &= ordered[i] <= ordered[i - 1];
    ordered_ok &= ordered[0] - ordered[7] <= 1;
    snprintf(name, sizeof name, "%s: the eight ordered words hold a prefix of the writes", who);
    check(name, ordered_ok, "out of order");
}

/* The checks of a child whose only thread is the one that forked. */
static void child_checks(const char *who, int held_main_lock)
{
    char name[128];
    uint64_t before = __atomic_load_n(&writes, __ATOMIC_ACQUIRE);
    sleep_ms(20);
    uint64_t after = __atomic_load_n(&writes, __ATOMIC_ACQUIRE);
    snprintf(name, sizeof name, "%s: the writer does not run in the child", who);
    check(name, before == after, "its counter moved");
    if (held_main_lock)
        check_snapshot(who);
    snprintf(name, sizeof name, "%s: getpid() == gettid()", who);
    check(name, getpid() == gettid_raw(), "differ");
    snprintf(name, sizeof name, "%s: lock and unlock a mutex nobody holds", who);
    check(name, pthread_mutex_trylock(&free_lock) == 0 && pthread_mutex_unlock(&free_lock) == 0,
          "a call failed");
    if (held_main_lock) {
        snprintf(name, sizeof name, "%s: unlock the mutex its thread held at the fork", who);
        check(name, pthread_mutex_unlock(&main_lock) == 0, "failed");
        snprintf(name, sizeof name, "%s: lock it again", who);
        check(name, pthread_mutex_trylock(&main_lock) == 0, "busy");
        pthread_mutex_unlock(&main_lock);
    }
    void *p = malloc(1000);
    snprintf(name, sizeof name, "%s: malloc works", who);
    check(name, p != NULL, "NULL");
    free(p);
    pthread_t t;
    void *ret = NULL;
    snprintf(name, sizeof name, "%s: create and join a thread of its own", who);
    check(name, pthread_create(&t, NULL, child_thread, (void *)14) == 0 &&
                    pthread_join(t, &ret) == 0 && (long)ret == 42,
          "failed");
}

/* ---- fork from a non-main thread ---- */

struct forker_result {
    int forked;
    int status_ok;
    char status[64];
};

static void *forker(void *arg)
{
    struct forker_result *r = arg;
    pid_t pid = fork();
    if (pid == 0) {
        check_count = 0;
        check_failures = 0;
        child_checks("child of a non-main thread", 0);
        child_exit();
    }
    r->forked = pid > 0;
    if (pid > 0) {
        int st;
        if (wait_for(pid, &st, 0) == pid) {
            snprintf(r->status, sizeof r->status, "%s", status_text(st));
            r->status_ok = strcmp(r->status, "exit 0") == 0;
        } else {
            snprintf(r->status, sizeof r->status, "waitpid: %s", errname(errno));
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t w;
    REQUIRE("pthread_create (writer)", pthread_create(&w, NULL, writer, NULL) == 0);
    /* Let the writer get going so that the fork lands among its writes. */
    for (int i = 0; i < 2000 && __atomic_load_n(&writes, __ATOMIC_ACQUIRE) < 1000; i++)
        sleep_ms(1);
    check("the writer is running", __atomic_load_n(&writes, __ATOMIC_ACQUIRE) > 0, "no writes");

    pthread_mutex_lock(&main_lock);
    pid_t pid = fork_child();
    if (pid == 0) {
        child_checks("child of the main thread", 1);
        child_exit();
    }
    check_status("the child of the main thread exits 0", pid, "exit 0");
    pthread_mutex_unlock(&main_lock);

    uint64_t before = __atomic_load_n(&writes, __ATOMIC_ACQUIRE);
    for (int i = 0; i < 2000 && __atomic_load_n(&writes, __ATOMIC_ACQUIRE) == before; i++)
        sleep_ms(1);
    check("the writer still runs in the parent", __atomic_load_n(&writes, __ATOMIC_ACQUIRE) != before,
          "its counter stands still");
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    CHECK_EQ("the parent joins the writer", pthread_join(w, NULL), 0);
    check_snapshot("parent");
    uint64_t n = writes;
    check("the parent's words hold the last round",
          pair == ((n << 32) | n) && ordered[0] == n && ordered[7] == n, "another round");

    struct forker_result r;
    memset(&r, 0, sizeof r);
    pthread_t f;
    REQUIRE("pthread_create (forker)", pthread_create(&f, NULL, forker, &r) == 0);
    CHECK_EQ("join the thread that forked", pthread_join(f, NULL), 0);
    check("a non-main thread forks", r.forked, "fork failed");
    check("its child exits 0", r.status_ok, "got %s", r.status);
    return check_finish();
}
