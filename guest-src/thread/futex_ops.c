/*
 * futex(2) called directly: FUTEX_WAIT on a changed value (EAGAIN), with a relative timeout and a
 * passed absolute deadline (ETIMEDOUT); FUTEX_WAKE with nobody waiting; a waiter woken by
 * FUTEX_WAKE; FUTEX_REQUEUE and FUTEX_CMP_REQUEUE moving waiters between words; FUTEX_WAKE_OP's
 * operation and comparison; bitsets; the PRIVATE variants; argument errors.
 *
 * A waiter is known to be queued when a wake or requeue reports it: the main thread retries
 * FUTEX_WAKE or FUTEX_REQUEUE until the count comes back, so no sleep decides the outcome.
 */
#include "check.h"
#include "futex.h"
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

/* ---- a thread that waits on a word ---- */

struct waiter {
    pthread_t thread;
    uint32_t *word;
    int op;
    uint32_t val;
    uint32_t bitset;
    long ret;
    int err;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    errno = 0;
    w->ret = futex(w->word, w->op, w->val, 0, NULL, w->bitset);
    w->err = errno;
    return NULL;
}

static void start_waiter(struct waiter *w, uint32_t *word, int op, uint32_t bitset)
{
    w->word = word;
    w->op = op;
    w->val = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    w->bitset = bitset;
    w->ret = -2;
    w->err = 0;
    NEED("pthread_create (waiter)", pthread_create(&w->thread, NULL, wait_thread, w) == 0);
}

/* The waiter's FUTEX_WAIT returned 0 (woken) and the thread joined. */
static int waiter_woken(struct waiter *w)
{
    return pthread_join(w->thread, NULL) == 0 && w->ret == 0;
}

static uint32_t words[8] __attribute__((aligned(64)));

static long ms_between(struct timespec a, struct timespec b)
{
    return (b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000L;
}

int main(void)
{
    uint32_t *a = &words[0], *b = &words[2], *c = &words[4], *d = &words[6];

    /* FUTEX_WAIT whose value does not match. */
    *a = 5;
    CHECK_ERR("FUTEX_WAIT with a changed value: EAGAIN", futex(a, FUTEX_WAIT, 4, 0, NULL, 0), EAGAIN);
    CHECK_ERR("FUTEX_WAIT_PRIVATE with a changed value: EAGAIN",
              futex(a, FUTEX_WAIT_PRIVATE, 6, 0, NULL, 0), EAGAIN);

    /* Timeouts. */
    struct timespec rel = {0, 20 * 1000000L}, t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_ERR("FUTEX_WAIT with a 20 ms timeout: ETIMEDOUT",
              futex(a, FUTEX_WAIT, 5, (long)&rel, NULL, 0), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check("it waited at least 20 ms", ms_between(t0, t1) >= 20, "returned early");
    struct timespec zero = {0, 0};
    CHECK_ERR("FUTEX_WAIT_PRIVATE with a zero timeout: ETIMEDOUT",
              futex(a, FUTEX_WAIT_PRIVATE, 5, (long)&zero, NULL, 0), ETIMEDOUT);
    struct timespec past;
    clock_gettime(CLOCK_MONOTONIC, &past);
    past.tv_sec -= 1;
    CHECK_ERR("FUTEX_WAIT_BITSET with a passed CLOCK_MONOTONIC deadline: ETIMEDOUT",
              futex(a, FUTEX_WAIT_BITSET, 5, (long)&past, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    CHECK_ERR("FUTEX_WAIT_BITSET_PRIVATE with a passed deadline: ETIMEDOUT",
              futex(a, FUTEX_WAIT_BITSET_PRIVATE, 5, (long)&past, NULL, FUTEX_BITSET_MATCH_ANY),
              ETIMEDOUT);
    struct timespec rpast;
    clock_gettime(CLOCK_REALTIME, &rpast);
    rpast.tv_sec -= 1;
    CHECK_ERR("FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME with a passed deadline: ETIMEDOUT",
              futex(a, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 5, (long)&rpast, NULL,
                    FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct timespec soon = t0;
    soon.tv_nsec += 10 * 1000000L;
    if (soon.tv_nsec >= 1000000000L) {
        soon.tv_nsec -= 1000000000L;
        soon.tv_sec++;
    }
    CHECK_ERR("FUTEX_WAIT_BITSET with a deadline 10 ms ahead: ETIMEDOUT",
              futex(a, FUTEX_WAIT_BITSET_PRIVATE, 5, (long)&soon, NULL, FUTEX_BITSET_MATCH_ANY),
              ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check("it returned at or after the deadline", t1.tv_sec > soon.tv_sec ||
          (t1.tv_sec == soon.tv_sec && t1.tv_nsec >= soon.tv_nsec), "returned early");

    /* Argument errors. */
    CHECK_ERR("FUTEX_WAIT at an unaligned address: EINVAL",
              futex((char *)a + 1, FUTEX_WAIT, 5, 0, NULL, 0), EINVAL);
    CHECK_ERR("FUTEX_WAKE at an unaligned address: EINVAL",
              futex((char *)a + 2, FUTEX_WAKE, 1, 0, NULL, 0), EINVAL);
    CHECK_ERR("FUTEX_WAIT_PRIVATE at an unaligned address: EINVAL",
              futex((char *)a + 3, FUTEX_WAIT_PRIVATE, 5, 0, NULL, 0), EINVAL);
    struct timespec badns = {0, 1000000000L};
    CHECK_ERR("FUTEX_WAIT with tv_nsec of 1e9: EINVAL",
              futex(a, FUTEX_WAIT, 5, (long)&badns, NULL, 0), EINVAL);
    struct timespec negs = {-1, 0};
    CHECK_ERR("FUTEX_WAIT with a negative tv_sec: EINVAL",
              futex(a, FUTEX_WAIT, 5, (long)&negs, NULL, 0), EINVAL);
    CHECK_ERR("FUTEX_WAIT_BITSET with bitset 0: EINVAL",
              futex(a, FUTEX_WAIT_BITSET, 5, 0, NULL, 0), EINVAL);
    CHECK_ERR("FUTEX_WAIT on an unmapped address: EFAULT",
              futex((void *)16, FUTEX_WAIT, 0, 0, NULL, 0), EFAULT);
    CHECK_ERR("an unknown futex operation: ENOSYS", futex(a, 99, 0, 0, NULL, 0), ENOSYS);
    CHECK_ERR("FUTEX_CLOCK_REALTIME with plain FUTEX_WAKE: ENOSYS",
              futex(a, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, NULL, 0), ENOSYS);

    /* Wakes with nobody waiting. */
    CHECK_EQ("FUTEX_WAKE with nobody waiting returns 0", futex(a, FUTEX_WAKE, 1, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE_PRIVATE with nobody waiting returns 0",
             futex(a, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE of 0 waiters returns 0", futex(a, FUTEX_WAKE, 0, 0, NULL, 0), 0);

    /* A waiter woken by FUTEX_WAKE, shared and private. */
    struct waiter w1, w2, w3;
    *a = 0;
    start_waiter(&w1, a, FUTEX_WAIT, 0);
    CHECK_EQ("FUTEX_WAKE wakes the blocked waiter (1)", wake_until(a, FUTEX_WAKE, 1), 1);
    check("the waiter's FUTEX_WAIT returned 0", waiter_woken(&w1), "returned %ld, errno %s",
          w1.ret, errname(w1.err));
    start_waiter(&w1, a, FUTEX_WAIT_PRIVATE, 0);
    CHECK_EQ("FUTEX_WAKE_PRIVATE wakes a FUTEX_WAIT_PRIVATE waiter (1)",
             wake_until(a, FUTEX_WAKE_PRIVATE, 1), 1);
    check("the private waiter's FUTEX_WAIT returned 0", waiter_woken(&w1), "returned %ld, errno %s",
          w1.ret, errname(w1.err));

    /* Three waiters, one FUTEX_WAKE of 2 and one of INT_MAX. */
    start_waiter(&w1, a, FUTEX_WAIT_PRIVATE, 0);
    start_waiter(&w2, a, FUTEX_WAIT_PRIVATE, 0);
    start_waiter(&w3, a, FUTEX_WAIT_PRIVATE, 0);
    /* Gather all three on word b first, so that all three are known to be queued. */
    CHECK_EQ("FUTEX_REQUEUE_PRIVATE moves 3 waiters from a to b",
             requeue_until(a, b, FUTEX_REQUEUE_PRIVATE, 3), 3);
    CHECK_EQ("FUTEX_WAKE on a after the requeue wakes nobody",
             futex(a, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE of 2 on b wakes 2", futex(b, FUTEX_WAKE_PRIVATE, 2, 0, NULL, 0), 2);
    CHECK_EQ("FUTEX_WAKE of INT_MAX on b wakes the last one",
             futex(b, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 1);
    int all = waiter_woken(&w1) + waiter_woken(&w2) + waiter_woken(&w3);
    CHECK_EQ("all three waiters returned 0", all, 3);

    /* FUTEX_REQUEUE (shared) then a wake on the second word. */
    *a = 0;
    *b = 77; /* the requeue does not look at the target's value */
    start_waiter(&w1, a, FUTEX_WAIT, 0);
    CHECK_EQ("FUTEX_REQUEUE moves the waiter from a to b", requeue_until(a, b, FUTEX_REQUEUE, 1), 1);
    CHECK_EQ("FUTEX_WAKE on a wakes nobody", futex(a, FUTEX_WAKE, 1, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE on b wakes the requeued waiter", futex(b, FUTEX_WAKE, 1, 0, NULL, 0), 1);
    check("the requeued waiter's FUTEX_WAIT returned 0", waiter_woken(&w1), "returned %ld, errno %s",
          w1.ret, errname(w1.err));

    /* FUTEX_CMP_REQUEUE. */
    *a = 3;
    CHECK_ERR("FUTEX_CMP_REQUEUE with a wrong val3: EAGAIN",
              futex(a, FUTEX_CMP_REQUEUE, 1, 1, b, 4), EAGAIN);
    CHECK_ERR("FUTEX_CMP_REQUEUE_PRIVATE with a wrong val3: EAGAIN",
              futex(a, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, b, 2), EAGAIN);
    CHECK_EQ("FUTEX_CMP_REQUEUE with the right val3 and nobody waiting returns 0",
             futex(a, FUTEX_CMP_REQUEUE, 1, 1, b, 3), 0);
    CHECK_ERR("FUTEX_CMP_REQUEUE with a negative count: EINVAL",
              futex(a, FUTEX_CMP_REQUEUE, (uint32_t)-1, 1, b, 3), EINVAL);
    CHECK_ERR("FUTEX_CMP_REQUEUE to an unaligned word: EINVAL",
              futex(a, FUTEX_CMP_REQUEUE, 1, 1, (char *)b + 1, 3), EINVAL);
    start_waiter(&w1, a, FUTEX_WAIT_PRIVATE, 0);
    start_waiter(&w2, a, FUTEX_WAIT_PRIVATE, 0);
    CHECK_EQ("gather two waiters on c", requeue_until(a, c, FUTEX_REQUEUE_PRIVATE, 2), 2);
    *c = 9;
    CHECK_EQ("FUTEX_CMP_REQUEUE_PRIVATE wakes 1 and moves 1 (returns 2)",
             futex(c, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, d, 9), 2);
    CHECK_EQ("FUTEX_WAKE on c wakes nobody", futex(c, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE on d wakes the moved one", futex(d, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 1);
    all = waiter_woken(&w1) + waiter_woken(&w2);
    CHECK_EQ("both waiters returned 0", all, 2);

    /* FUTEX_WAKE_OP. */
    *a = 0;
    *b = 0;
    CHECK_EQ("FUTEX_WAKE_OP ADD 1, CMP_EQ 0, nobody waiting: returns 0",
             futex(a, FUTEX_WAKE_OP, 1, 1, b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)), 0);
    CHECK_EQ("the second word went from 0 to 1", *b, 1);
    CHECK_EQ("FUTEX_WAKE_OP_PRIVATE ADD 1 again",
             futex(a, FUTEX_WAKE_OP_PRIVATE, 1, 1, b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)), 0);
    CHECK_EQ("the second word is 2", *b, 2);
    CHECK_EQ("FUTEX_WAKE_OP SET 7",
             futex(a, FUTEX_WAKE_OP, 0, 0, b, FUTEX_OP(FUTEX_OP_SET, 7, FUTEX_OP_CMP_NE, 0)), 0);
    CHECK_EQ("the second word is 7", *b, 7);
    CHECK_EQ("FUTEX_WAKE_OP OR 0x30",
             futex(a, FUTEX_WAKE_OP, 0, 0, b, FUTEX_OP(FUTEX_OP_OR, 0x30, FUTEX_OP_CMP_NE, 0)), 0);
    CHECK_EQ("the second word is 0x37", *b, 0x37);
    CHECK_EQ("FUTEX_WAKE_OP ANDN 0x05",
             futex(a, FUTEX_WAKE_OP, 0, 0, b, FUTEX_OP(FUTEX_OP_ANDN, 0x05, FUTEX_OP_CMP_NE, 0)), 0);
    CHECK_EQ("the second word is 0x32", *b, 0x32);
    CHECK_EQ("FUTEX_WAKE_OP XOR 0x12",
             futex(a, FUTEX_WAKE_OP, 0, 0, b, FUTEX_OP(FUTEX_OP_XOR, 0x12, FUTEX_OP_CMP_NE, 0)), 0);
    CHECK_EQ("the second word is 0x20", *b, 0x20);
    CHECK_EQ("FUTEX_WAKE_OP SET with ARG_SHIFT (1 << 4)",
             futex(a, FUTEX_WAKE_OP, 0, 0, b,
                   FUTEX_OP(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_NE, 0)), 0);
    CHECK_EQ("the second word is 16", *b, 16);
    CHECK_ERR("FUTEX_WAKE_OP at an unaligned second word: EINVAL",
              futex(a, FUTEX_WAKE_OP, 1, 1, (char *)b + 2,
                    FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)), EINVAL);
    CHECK_ERR("FUTEX_WAKE_OP with an unknown operation: ENOSYS",
              futex(a, FUTEX_WAKE_OP, 1, 1, b, FUTEX_OP(6, 1, FUTEX_OP_CMP_EQ, 0)), ENOSYS);

    /* A waiter on the first word is woken unconditionally; on the second, when the comparison holds. */
    *a = 0;
    start_waiter(&w1, a, FUTEX_WAIT_PRIVATE, 0);
    long woken = 0;
    for (int i = 0; i < 20000 && woken == 0; i++) {
        woken = futex(a, FUTEX_WAKE_OP_PRIVATE, 1, 0, b,
                      FUTEX_OP(FUTEX_OP_SET, 40, FUTEX_OP_CMP_EQ, 0));
        if (woken == 0)
            pause_briefly();
    }
    CHECK_EQ("FUTEX_WAKE_OP wakes the waiter on the first word", woken, 1);
    CHECK_EQ("and set the second word to 40", *b, 40);
    check("that waiter returned 0", waiter_woken(&w1), "returned %ld, errno %s", w1.ret,
          errname(w1.err));

    *c = 0;
    start_waiter(&w1, c, FUTEX_WAIT_PRIVATE, 0);
    CHECK_EQ("a waiter moved onto the second word", requeue_until(c, b, FUTEX_REQUEUE_PRIVATE, 1), 1);
    CHECK_EQ("FUTEX_WAKE_OP ADD 1 with CMP_EQ 0 (old 40: false) wakes nobody",
             futex(a, FUTEX_WAKE_OP_PRIVATE, 1, 1, b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)), 0);
    CHECK_EQ("the second word is 41", *b, 41);
    CHECK_EQ("FUTEX_WAKE_OP ADD 1 with CMP_GT 40 (old 41: true) wakes it",
             futex(a, FUTEX_WAKE_OP_PRIVATE, 1, 1, b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 40)), 1);
    CHECK_EQ("the second word is 42", *b, 42);
    check("the second-word waiter returned 0", waiter_woken(&w1), "returned %ld, errno %s", w1.ret,
          errname(w1.err));

    /* Bitsets. */
    *c = 0;
    start_waiter(&w1, c, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
    CHECK_EQ("a bitset-0x1 waiter moved onto d", requeue_until(c, d, FUTEX_REQUEUE_PRIVATE, 1), 1);
    CHECK_EQ("FUTEX_WAKE_BITSET 0x2 does not wake it",
             futex(d, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, 0x2), 0);
    CHECK_ERR("FUTEX_WAKE_BITSET with bitset 0: EINVAL",
              futex(d, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, 0), EINVAL);
    CHECK_EQ("FUTEX_WAKE_BITSET 0x3 wakes it", futex(d, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, 0x3), 1);
    check("the bitset waiter returned 0", waiter_woken(&w1), "returned %ld, errno %s", w1.ret,
          errname(w1.err));
    start_waiter(&w1, c, FUTEX_WAIT_BITSET_PRIVATE, 0x4);
    CHECK_EQ("plain FUTEX_WAKE wakes a bitset waiter", wake_until(c, FUTEX_WAKE_PRIVATE, 1), 1);
    check("that bitset waiter returned 0", waiter_woken(&w1), "returned %ld, errno %s", w1.ret,
          errname(w1.err));
    return check_finish();
}
