/*
 * threads — 2,000 threads alive at once (or as many as the system allows, the rest EAGAIN as
 * from copy_process): every one runs, waits for all the others, sees its own thread-local value
 * and is joined; the process carries on as before.
 */
#include "check.h"
#include <pthread.h>
#include <sys/syscall.h>

#define WANT 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_up = PTHREAD_COND_INITIALIZER;
static int running, released;
static __thread long mine;

static void *worker(void *arg)
{
    mine = (long)arg;
    pthread_mutex_lock(&lock);
    running++;
    pthread_cond_broadcast(&all_up);
    while (!released)
        pthread_cond_wait(&all_up, &lock);
    pthread_mutex_unlock(&lock);
    return (void *)(mine * 2);
}

static pthread_t threads[WANT];

int main(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int made = 0, eagain = 0, other = 0;
    for (int i = 0; i < WANT; i++) {
        int e = pthread_create(&threads[made], &attr, worker, (void *)(long)(i + 1));
        if (e == 0)
            made++;
        else if (e == EAGAIN)
            eagain++;
        else
            other++;
    }
    CHECK_EQ("every creation succeeded or was EAGAIN", other, 0);
    CHECK_EQ("2000 threads made", made + eagain, WANT);
    pthread_mutex_lock(&lock);
    while (running < made)
        pthread_cond_wait(&all_up, &lock);
    CHECK_EQ("all of them running at once", running, made);
    released = 1;
    pthread_cond_broadcast(&all_up);
    pthread_mutex_unlock(&lock);
    int good = 0;
    for (int i = 0; i < made; i++) {
        void *ret;
        if (pthread_join(threads[i], &ret) == 0 && (long)ret == 2L * (i + 1))
            good++;
    }
    CHECK_EQ("each joined with its own value", good, made);
    pthread_t t;
    CHECK_EQ("a thread after them", pthread_create(&t, NULL, worker, (void *)1L), 0);
    pthread_join(t, NULL);
    return check_finish();
}
