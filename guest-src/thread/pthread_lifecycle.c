/*
 * pthread lifecycle: create/join hand back each thread's return value (from return and from
 * pthread_exit); a detached running thread still finishes (it posts a semaphore and sets a flag
 * under a mutex); pthread_self/pthread_equal tell threads apart; joining a thread that has
 * already finished returns its value at once; many short-lived threads come and go.
 */
#include "check.h"
#include <pthread.h>
#include <semaphore.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int detached_done;
static sem_t detached_sem;
static sem_t finished_sem;
static pthread_t main_thread;

static void *square(void *arg)
{
    long n = (long)arg;
    return (void *)(n * n);
}

static void *exits_early(void *arg)
{
    long n = (long)arg;
    pthread_exit((void *)(n + 1000));
    return NULL; /* not reached */
}

struct self_report {
    pthread_t self;
    int equal_to_main;
    int equal_to_self;
};

static void *report_self(void *arg)
{
    struct self_report *r = arg;
    r->self = pthread_self();
    r->equal_to_main = pthread_equal(r->self, main_thread) != 0;
    r->equal_to_self = pthread_equal(r->self, pthread_self()) != 0;
    return arg;
}

static sem_t detach_go;

static void *detached_worker(void *arg)
{
    (void)arg;
    /* Still running when the main thread detaches it: it waits for the go-ahead first. */
    while (sem_wait(&detach_go) != 0)
        ;
    pthread_mutex_lock(&lock);
    detached_done = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    sem_post(&detached_sem);
    return NULL;
}

static void *finishes_at_once(void *arg)
{
    sem_post(&finished_sem);
    return arg;
}

static int sem_wait_intr(sem_t *s)
{
    int r;
    while ((r = sem_wait(s)) != 0 && errno == EINTR)
        ;
    return r;
}

int main(void)
{
    main_thread = pthread_self();
    check("pthread_equal(self, self)", pthread_equal(pthread_self(), main_thread) != 0, "differ");

    /* Return values through pthread_join. */
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        REQUIRE("pthread_create (square)", pthread_create(&t[i], NULL, square, (void *)(i + 3)) == 0);
    int all = 1;
    for (long i = 0; i < 4; i++) {
        void *ret = NULL;
        int r = pthread_join(t[i], &ret);
        all &= r == 0 && (long)ret == (i + 3) * (i + 3);
    }
    check("pthread_join returns each thread's return value", all, "a value or join failed");

    pthread_t e;
    REQUIRE("pthread_create (pthread_exit)", pthread_create(&e, NULL, exits_early, (void *)7) == 0);
    void *eret = NULL;
    CHECK_EQ("pthread_join of a pthread_exit thread", pthread_join(e, &eret), 0);
    CHECK_EQ("pthread_exit's value reaches the joiner", (long)eret, 1007);

    /* pthread_self / pthread_equal in another thread. */
    struct self_report rep;
    memset(&rep, 0, sizeof rep);
    pthread_t s;
    REQUIRE("pthread_create (self report)", pthread_create(&s, NULL, report_self, &rep) == 0);
    void *sret = NULL;
    CHECK_EQ("pthread_join (self report)", pthread_join(s, &sret), 0);
    check("the joined value is the argument pointer", sret == &rep, "another pointer");
    check("a new thread's pthread_self differs from the main thread's", !rep.equal_to_main,
          "pthread_equal said equal");
    check("a thread's pthread_self equals itself", rep.equal_to_self, "pthread_equal said differ");
    check("pthread_create stored the id pthread_self returns", pthread_equal(rep.self, s) != 0,
          "differ");

    /* Detach a running thread; it still finishes. */
    REQUIRE("sem_init", sem_init(&detach_go, 0, 0) == 0 && sem_init(&detached_sem, 0, 0) == 0 &&
                            sem_init(&finished_sem, 0, 0) == 0);
    pthread_t d;
    REQUIRE("pthread_create (detached)", pthread_create(&d, NULL, detached_worker, NULL) == 0);
    CHECK_EQ("pthread_detach of a running thread", pthread_detach(d), 0);
    sem_post(&detach_go);
    CHECK_EQ("the detached thread posts its semaphore", sem_wait_intr(&detached_sem), 0);
    pthread_mutex_lock(&lock);
    while (!detached_done)
        pthread_cond_wait(&cond, &lock);
    int done = detached_done;
    pthread_mutex_unlock(&lock);
    CHECK_EQ("the detached thread set its flag under the mutex", done, 1);

    /* A thread created detached through attributes also runs. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    CHECK_EQ("pthread_attr_setdetachstate DETACHED",
             pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED), 0);
    int state = -1;
    pthread_attr_getdetachstate(&attr, &state);
    CHECK_EQ("pthread_attr_getdetachstate", state, PTHREAD_CREATE_DETACHED);
    pthread_t d2;
    REQUIRE("pthread_create (created detached)",
            pthread_create(&d2, &attr, finishes_at_once, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK_EQ("the thread created detached ran", sem_wait_intr(&finished_sem), 0);

    /* Join of a thread that has already finished. */
    pthread_t f;
    REQUIRE("pthread_create (finishes at once)",
            pthread_create(&f, NULL, finishes_at_once, (void *)55) == 0);
    sem_wait_intr(&finished_sem);
    /* It has posted; give it time to really be gone before the join. */
    for (int i = 0; i < 20; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    void *fret = NULL;
    CHECK_EQ("pthread_join of an already-finished thread", pthread_join(f, &fret), 0);
    CHECK_EQ("the finished thread's return value", (long)fret, 55);

    /* Many short-lived threads, created and joined in waves. */
    long sum = 0;
    int joins_ok = 1;
    for (int wave = 0; wave < 10; wave++) {
        pthread_t w[8];
        for (long i = 0; i < 8; i++)
            NEED("pthread_create (wave)", pthread_create(&w[i], NULL, square, (void *)i) == 0);
        for (int i = 0; i < 8; i++) {
            void *r = NULL;
            joins_ok &= pthread_join(w[i], &r) == 0;
            sum += (long)r;
        }
    }
    check("80 short-lived threads all joined", joins_ok, "a join failed");
    CHECK_EQ("the sum of their return values", sum, 10 * (0 + 1 + 4 + 9 + 16 + 25 + 36 + 49));

    /* The stack size attribute is honoured well enough to run. */
    pthread_attr_init(&attr);
    CHECK_EQ("pthread_attr_setstacksize 256 KiB", pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    pthread_t big;
    REQUIRE("pthread_create (stack size)", pthread_create(&big, &attr, square, (void *)12) == 0);
    pthread_attr_destroy(&attr);
    void *bret = NULL;
    CHECK_EQ("pthread_join (stack size)", pthread_join(big, &bret), 0);
    CHECK_EQ("the stack-size thread's return value", (long)bret, 144);
    return check_finish();
}
