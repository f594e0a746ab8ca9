/* Four pthreads share a mutex-guarded counter and an atomic counter; thread-local state is private. */
#include "check.h"
#include <pthread.h>

#define THREADS 4
#define ITERS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long locked_counter;
static long atomic_counter;
static __thread long tls_counter;

static void *worker(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERS; i++) {
        pthread_mutex_lock(&lock);
        locked_counter++;
        pthread_mutex_unlock(&lock);
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
        tls_counter++;
    }
    return (void *)(tls_counter * 100 + id);
}

int main(void)
{
    pthread_t t[THREADS];
    tls_counter = -5;
    for (long i = 0; i < THREADS; i++)
        REQUIRE("pthread_create", pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    int tls_ok = 1;
    for (long i = 0; i < THREADS; i++) {
        void *ret;
        REQUIRE("pthread_join", pthread_join(t[i], &ret) == 0);
        tls_ok &= (long)ret == ITERS * 100L + i;
    }
    CHECK_EQ("mutex counter", locked_counter, THREADS * ITERS);
    CHECK_EQ("atomic counter", atomic_counter, THREADS * ITERS);
    check("each thread had its own thread-local counter", tls_ok, "shared or wrong");
    CHECK_EQ("the main thread's thread-local value is untouched", tls_counter, -5);
    return check_finish();
}
