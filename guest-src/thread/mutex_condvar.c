/*
 * Four threads contend on one mutex and its condition variables: two producers and two consumers
 * move numbered items through a bounded queue, then all four run rounds through a barrier built
 * from a mutex, a condition variable and a generation count. Totals are checked exactly at the
 * end. pthread_cond_timedwait with a passed deadline (realtime and monotonic clocks) and with a
 * short one nobody signals returns ETIMEDOUT holding the mutex; trylock and error-checking
 * mutexes report EBUSY, EDEADLK and EPERM.
 */
#include "check.h"
#include <pthread.h>
#include <time.h>

#define THREADS 4
#define ITEMS 3000 /* per producer */
#define QUEUE 4
#define ROUNDS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QUEUE];
static int head, count;
static int producers_left = 2;
static long consumed_sum[2], consumed_count[2];
static int max_seen_count;

static void put(long v)
{
    pthread_mutex_lock(&lock);
    while (count == QUEUE)
        pthread_cond_wait(&not_full, &lock);
    queue[(head + count) % QUEUE] = v;
    count++;
    if (count > max_seen_count)
        max_seen_count = count;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

static void *producer(void *arg)
{
    long id = (long)arg;
    for (long i = 1; i <= ITEMS; i++)
        put(id * 100000 + i);
    pthread_mutex_lock(&lock);
    producers_left--;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *consumer(void *arg)
{
    long id = (long)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && producers_left > 0)
            pthread_cond_wait(&not_empty, &lock);
        if (count == 0) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        long v = queue[head];
        head = (head + 1) % QUEUE;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        consumed_sum[id] += v;
        consumed_count[id]++;
    }
}

/* ---- a barrier from a mutex and a condition variable ---- */

static pthread_cond_t round_cond = PTHREAD_COND_INITIALIZER;
static int arrived;
static long generation;
static int round_sum[ROUNDS];
static int bad_rounds;

static void barrier(void)
{
    pthread_mutex_lock(&lock);
    long gen = generation;
    if (++arrived == THREADS) {
        arrived = 0;
        generation++;
        pthread_cond_broadcast(&round_cond);
    } else {
        while (gen == generation)
            pthread_cond_wait(&round_cond, &lock);
    }
    pthread_mutex_unlock(&lock);
}

static void *rounds(void *arg)
{
    long id = (long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        round_sum[r] += (int)id + 1;
        pthread_mutex_unlock(&lock);
        barrier();
        pthread_mutex_lock(&lock);
        /* Everyone added to this round before anyone left the barrier. */
        if (round_sum[r] != 1 + 2 + 3 + 4)
            bad_rounds++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static struct timespec clock_plus(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    long ns = ts.tv_nsec + ms * 1000000L;
    /* ms may be negative: normalise into [0, 1e9). */
    ts.tv_sec += ns / 1000000000L;
    ns %= 1000000000L;
    if (ns < 0) {
        ns += 1000000000L;
        ts.tv_sec--;
    }
    ts.tv_nsec = ns;
    return ts;
}

int main(void)
{
    pthread_t t[THREADS];
    REQUIRE("create 2 producers and 2 consumers",
            pthread_create(&t[0], NULL, producer, (void *)1) == 0 &&
                pthread_create(&t[1], NULL, consumer, (void *)0) == 0 &&
                pthread_create(&t[2], NULL, producer, (void *)2) == 0 &&
                pthread_create(&t[3], NULL, consumer, (void *)1) == 0);
    int joins = 0;
    for (int i = 0; i < THREADS; i++)
        joins += pthread_join(t[i], NULL) == 0;
    CHECK_EQ("join all four", joins, THREADS);
    CHECK_EQ("items consumed", consumed_count[0] + consumed_count[1], 2 * ITEMS);
    long per_producer = (long)ITEMS * (ITEMS + 1) / 2;
    CHECK_EQ("sum of items consumed", consumed_sum[0] + consumed_sum[1],
             100000L * ITEMS + per_producer + 200000L * ITEMS + per_producer);
    CHECK_EQ("the queue is empty", count, 0);
    check("the queue never held more than its bound", max_seen_count >= 1 && max_seen_count <= QUEUE,
          "max %d", max_seen_count);

    for (long i = 0; i < THREADS; i++)
        NEED("pthread_create (rounds)", pthread_create(&t[i], NULL, rounds, (void *)i) == 0);
    joins = 0;
    for (int i = 0; i < THREADS; i++)
        joins += pthread_join(t[i], NULL) == 0;
    CHECK_EQ("join the round threads", joins, THREADS);
    CHECK_EQ("barrier generations", generation, ROUNDS);
    CHECK_EQ("rounds where someone left the barrier early", bad_rounds, 0);
    int sums_ok = 1;
    for (int r = 0; r < ROUNDS; r++)
        sums_ok &= round_sum[r] == 10;
    check("every round got all four contributions", sums_ok, "a round sum differs");

    /* pthread_cond_timedwait: deadlines. */
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(&lock);
    struct timespec past = clock_plus(CLOCK_REALTIME, -1000);
    int r = pthread_cond_timedwait(&c, &lock, &past);
    check("timedwait with a passed realtime deadline: ETIMEDOUT", r == ETIMEDOUT, "got %s",
          errname(r));
    CHECK_EQ("the mutex is held again after the timeout", pthread_mutex_trylock(&lock), EBUSY);
    struct timespec soon = clock_plus(CLOCK_REALTIME, 20);
    r = pthread_cond_timedwait(&c, &lock, &soon);
    check("timedwait of 20 ms nobody signals: ETIMEDOUT", r == ETIMEDOUT, "got %s", errname(r));
    struct timespec now = clock_plus(CLOCK_REALTIME, 0);
    check("it waited until the deadline", now.tv_sec > soon.tv_sec ||
          (now.tv_sec == soon.tv_sec && now.tv_nsec >= soon.tv_nsec), "returned early");
    pthread_mutex_unlock(&lock);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    CHECK_EQ("pthread_condattr_setclock CLOCK_MONOTONIC", pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    pthread_cond_t mc;
    CHECK_EQ("pthread_cond_init (monotonic)", pthread_cond_init(&mc, &ca), 0);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&lock);
    struct timespec mpast = clock_plus(CLOCK_MONOTONIC, -1);
    r = pthread_cond_timedwait(&mc, &lock, &mpast);
    check("timedwait with a passed monotonic deadline: ETIMEDOUT", r == ETIMEDOUT, "got %s",
          errname(r));
    struct timespec zero = {0, 0};
    r = pthread_cond_timedwait(&mc, &lock, &zero);
    check("timedwait with deadline 0: ETIMEDOUT", r == ETIMEDOUT, "got %s", errname(r));
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&mc);

    /* Mutex kinds. */
    CHECK_EQ("trylock of a free mutex", pthread_mutex_trylock(&lock), 0);
    pthread_mutex_unlock(&lock);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &ma);
    CHECK_EQ("error-checking mutex: unlock when not locked is EPERM", pthread_mutex_unlock(&em), EPERM);
    pthread_mutex_lock(&em);
    r = pthread_mutex_lock(&em);
    check("error-checking mutex: relock is EDEADLK", r == EDEADLK, "got %d", r);
    CHECK_EQ("error-checking mutex: unlock", pthread_mutex_unlock(&em), 0);
    pthread_mutex_destroy(&em);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_t rm;
    pthread_mutex_init(&rm, &ma);
    int rec = pthread_mutex_lock(&rm) == 0 && pthread_mutex_lock(&rm) == 0 &&
              pthread_mutex_trylock(&rm) == 0;
    rec = rec && pthread_mutex_unlock(&rm) == 0 && pthread_mutex_unlock(&rm) == 0 &&
          pthread_mutex_unlock(&rm) == 0;
    check("recursive mutex: locked three times, unlocked three times", rec, "a call failed");
    CHECK_EQ("recursive mutex: a fourth unlock is EPERM", pthread_mutex_unlock(&rm), EPERM);
    pthread_mutex_destroy(&rm);
    pthread_mutexattr_destroy(&ma);
    return check_finish();
}
