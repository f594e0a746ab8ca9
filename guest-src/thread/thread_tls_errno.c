/*
 * Thread-local storage and errno are per thread: each new thread starts from the __thread
 * initialisers whatever other threads have written; errno set by a failing call in one thread is
 * not seen in another; the thread pointer (TPIDR_EL0) and the variables' addresses differ; an
 * over-aligned __thread variable is aligned in every thread. pthread_key_create destructors run
 * at thread exit (by return or pthread_exit) for non-NULL values only, again when a destructor
 * sets a value anew; the main thread's value is its own.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>

static int global_target = 7;
static __thread int tls_int = 42;
static __thread long tls_array[4] = {1, 2, 3, 4};
static __thread const char *tls_str = "initial";
static __thread int *tls_ptr = &global_target;
static __thread int tls_zero;
static __thread char tls_aligned[64] __attribute__((aligned(64))) = {'a'};

static uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
}

/* ---- initial values in a new thread ---- */

struct tls_view {
    int init_ok;
    int aligned_ok;
    void *addr_int;
    int *addr_errno;
    uintptr_t tp;
};

static void view_tls(struct tls_view *v)
{
    v->init_ok = tls_int == 42 && tls_array[0] == 1 && tls_array[3] == 4 &&
                 strcmp(tls_str, "initial") == 0 && tls_ptr == &global_target && *tls_ptr == 7 &&
                 tls_zero == 0 && tls_aligned[0] == 'a' && tls_aligned[1] == 0;
    v->aligned_ok = ((uintptr_t)tls_aligned & 63) == 0;
    v->addr_int = &tls_int;
    v->addr_errno = &errno;
    v->tp = thread_pointer();
}

static void *view_and_write_tls(void *arg)
{
    view_tls(arg);
    /* Writes here must not reach any other thread. */
    tls_int = -1;
    tls_array[0] = -1;
    tls_str = "thread";
    tls_zero = 99;
    return NULL;
}

/* ---- errno across two threads ---- */

static int stage; /* 0 start, 1 main failed, 2 thread failed, 3 main failed again, 4 done */
static int thread_errno_after_own, thread_errno_after_main;

static void wait_stage(int s)
{
    while (__atomic_load_n(&stage, __ATOMIC_SEQ_CST) != s)
        sched_yield();
}

static void set_stage(int s) { __atomic_store_n(&stage, s, __ATOMIC_SEQ_CST); }

static void *errno_thread(void *arg)
{
    (void)arg;
    wait_stage(1);
    close(-1); /* EBADF in this thread */
    thread_errno_after_own = errno;
    set_stage(2);
    wait_stage(3);
    thread_errno_after_main = errno;
    set_stage(4);
    return NULL;
}

/* ---- thread-specific data ---- */

static pthread_key_t key;
static int dtor_calls;
static int dtor_values; /* sum of the values destructors saw */
static int again_value = 1000;

static void dtor(void *value)
{
    __atomic_fetch_add(&dtor_calls, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&dtor_values, *(int *)value, __ATOMIC_SEQ_CST);
    /* The "again" thread's first value asks for one more round. */
    if (*(int *)value == 100)
        pthread_setspecific(key, &again_value);
}

static int values[4] = {1, 10, 100, 0};

static void *tsd_thread(void *arg)
{
    long mode = (long)arg;
    int fresh = pthread_getspecific(key) == NULL;
    if (mode == 0) { /* set a value, return */
        pthread_setspecific(key, &values[0]);
    } else if (mode == 1) { /* set a value, pthread_exit */
        pthread_setspecific(key, &values[1]);
        if (pthread_getspecific(key) != &values[1])
            fresh = 0;
        pthread_exit((void *)(long)fresh);
    } else if (mode == 2) { /* set a value whose destructor sets another */
        pthread_setspecific(key, &values[2]);
    } else { /* set a value, then NULL: no destructor call */
        pthread_setspecific(key, &values[3]);
        pthread_setspecific(key, NULL);
    }
    return (void *)(long)fresh;
}

int main(void)
{
    /* The main thread's view, then changes the threads must not see. */
    struct tls_view m, t;
    view_tls(&m);
    check("main: __thread initialisers", m.init_ok, "an initial value differs");
    check("main: a 64-byte-aligned __thread array is aligned", m.aligned_ok, "misaligned");
    tls_int = 5;
    tls_array[3] = 40;
    tls_ptr = NULL;
    tls_aligned[0] = 'z';

    pthread_t th;
    REQUIRE("pthread_create", pthread_create(&th, NULL, view_and_write_tls, &t) == 0);
    REQUIRE("pthread_join", pthread_join(th, NULL) == 0);
    check("thread: sees the initialisers, not the main thread's writes", t.init_ok,
          "an initial value differs");
    check("thread: the aligned __thread array is aligned", t.aligned_ok, "misaligned");
    check("thread: its __thread variable has another address", t.addr_int != m.addr_int, "same");
    check("thread: errno has another address", t.addr_errno != m.addr_errno, "same");
    check("thread: TPIDR_EL0 differs", t.tp != m.tp && t.tp != 0, "same or zero");
    check("main: the thread's writes did not reach the main thread",
          tls_int == 5 && tls_array[0] == 1 && tls_array[3] == 40 && tls_ptr == NULL &&
              strcmp(tls_str, "initial") == 0 && tls_zero == 0 && tls_aligned[0] == 'z',
          "a value changed");
    check("main: TPIDR_EL0 is the same as before", thread_pointer() == m.tp, "changed");

    /* Two threads at once see their own initial values. */
    struct tls_view v1, v2;
    pthread_t a, b;
    REQUIRE("pthread_create (two at once)",
            pthread_create(&a, NULL, view_and_write_tls, &v1) == 0 &&
                pthread_create(&b, NULL, view_and_write_tls, &v2) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    check("two concurrent threads: both see the initialisers", v1.init_ok && v2.init_ok, "differ");

    /* errno. */
    REQUIRE("pthread_create (errno)", pthread_create(&th, NULL, errno_thread, NULL) == 0);
    open("/nonexistent/file", O_RDONLY); /* ENOENT in the main thread */
    int main_errno_after_own = errno;
    set_stage(1);
    wait_stage(2);
    int main_errno_after_thread = errno;
    kill(getpid(), 9999); /* EINVAL in the main thread */
    int main_errno_second = errno;
    set_stage(3);
    wait_stage(4);
    pthread_join(th, NULL);
    check("main: its failing open set errno ENOENT", main_errno_after_own == ENOENT, "got %s",
          errname(main_errno_after_own));
    check("thread: its failing close set errno EBADF", thread_errno_after_own == EBADF, "got %s",
          errname(thread_errno_after_own));
    check("main: errno still ENOENT after the thread's failure", main_errno_after_thread == ENOENT,
          "got %s", errname(main_errno_after_thread));
    check("main: its failing kill set errno EINVAL", main_errno_second == EINVAL, "got %s",
          errname(main_errno_second));
    check("thread: errno still EBADF after the main thread's failure",
          thread_errno_after_main == EBADF, "got %s", errname(thread_errno_after_main));

    /* Thread-specific data. */
    REQUIRE("pthread_key_create", pthread_key_create(&key, dtor) == 0);
    CHECK_EQ("main: pthread_setspecific", pthread_setspecific(key, &values[0]), 0);
    pthread_t k[4];
    for (long i = 0; i < 4; i++)
        REQUIRE("pthread_create (tsd)", pthread_create(&k[i], NULL, tsd_thread, (void *)i) == 0);
    int fresh = 1;
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(k[i], &r);
        fresh &= (long)r == 1;
    }
    check("each thread's pthread_getspecific starts NULL", fresh, "a thread saw a value");
    check("main: its own value is untouched", pthread_getspecific(key) == &values[0], "changed");
    CHECK_EQ("destructor calls (return, pthread_exit, twice for the re-set value, none for NULL)",
             dtor_calls, 4);
    CHECK_EQ("the values the destructors saw", dtor_values, 1 + 10 + 100 + 1000);

    pthread_key_t key2;
    REQUIRE("a second key", pthread_key_create(&key2, NULL) == 0);
    check("keys are distinct", key2 != key, "same key");
    CHECK_EQ("pthread_getspecific of a new key is NULL", (long)pthread_getspecific(key2), 0);
    CHECK_EQ("pthread_key_delete", pthread_key_delete(key2), 0);
    CHECK_EQ("pthread_key_delete of the first key", pthread_key_delete(key), 0);
    CHECK_EQ("destructor calls after the keys are deleted", dtor_calls, 4);
    return check_finish();
}
