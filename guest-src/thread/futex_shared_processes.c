/*
 * A futex word in MAP_SHARED|MAP_ANONYMOUS memory works across fork: a child blocked in
 * FUTEX_WAIT (shared, no PRIVATE flag) is woken by its parent and the other way round; a waiter
 * of another process is out of reach of FUTEX_WAKE_PRIVATE; a shared FUTEX_REQUEUE moves the
 * child's wait; and 300 rounds of ping-pong through two shared words end with both counts exact.
 *
 * The waker retries FUTEX_WAKE until it reports the waiter, so no sleep decides the outcome. Only
 * the parent prints, after the child has reported through the shared page and exited.
 */
#include "../fork/fork.h"
#include "futex.h"
#include <limits.h>
#include <sys/mman.h>
#include <time.h>

#define ROUNDS 300

struct shared {
    uint32_t child_wait;  /* the child waits here */
    uint32_t parent_wait; /* the parent waits here */
    uint32_t parked;      /* the child waits here before being requeued */
    uint32_t ping, pong;  /* round numbers: the parent writes ping, the child pong */
    long child_wait_ret;
    int child_wait_err;
    long child_wake_ret;
    long child_parked_ret;
    int child_parked_err;
    int child_rounds;
    int child_out_of_order;
};

static uint32_t load(uint32_t *w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }
static void store(uint32_t *w, uint32_t v) { __atomic_store_n(w, v, __ATOMIC_SEQ_CST); }

/* Waits (shared futex) until *w == want. */
static void wait_for_value(uint32_t *w, uint32_t want)
{
    uint32_t v;
    while ((v = load(w)) != want)
        futex(w, FUTEX_WAIT, v, 0, NULL, 0);
}

static void child(struct shared *s)
{
    /* 1: block until the parent wakes us. */
    errno = 0;
    s->child_wait_ret = futex(&s->child_wait, FUTEX_WAIT, 0, 0, NULL, 0);
    s->child_wait_err = errno;

    /* 2: wake the parent, which blocks on parent_wait. */
    s->child_wake_ret = wake_until(&s->parent_wait, FUTEX_WAKE, 1);

    /* 3: block on `parked`; the parent requeues us onto child_wait and wakes us there. */
    errno = 0;
    s->child_parked_ret = futex(&s->parked, FUTEX_WAIT, 0, 0, NULL, 0);
    s->child_parked_err = errno;

    /* 4: ping-pong. */
    for (uint32_t r = 1; r <= ROUNDS; r++) {
        wait_for_value(&s->ping, r);
        if (load(&s->ping) != r)
            s->child_out_of_order++;
        s->child_rounds++;
        store(&s->pong, r);
        futex(&s->pong, FUTEX_WAKE, 1, 0, NULL, 0);
    }
    _exit(0);
}

int main(void)
{
    struct shared *s = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap MAP_SHARED|MAP_ANONYMOUS", s != MAP_FAILED);
    pid_t pid = fork_or_die();
    if (pid == 0)
        child(s);

    /* 1 */
    CHECK_EQ("the parent's FUTEX_WAKE wakes the child blocked in FUTEX_WAIT",
             wake_until(&s->child_wait, FUTEX_WAKE, 1), 1);

    /* 2 */
    errno = 0;
    long r = futex(&s->parent_wait, FUTEX_WAIT, 0, 0, NULL, 0);
    int e = errno;
    check("the parent's FUTEX_WAIT returns 0 when the child wakes it", r == 0,
          "returned %ld, errno %s", r, errname(e));

    /* 3 */
    CHECK_EQ("a shared FUTEX_REQUEUE moves the child's wait to another word",
             requeue_until(&s->parked, &s->child_wait, FUTEX_REQUEUE, 1), 1);
    CHECK_EQ("FUTEX_WAKE_PRIVATE does not reach another process's waiter",
             futex(&s->child_wait, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE on the new word wakes it", futex(&s->child_wait, FUTEX_WAKE, INT_MAX, 0, NULL, 0), 1);

    /* 4 */
    int parent_rounds = 0, parent_out_of_order = 0;
    for (uint32_t i = 1; i <= ROUNDS; i++) {
        store(&s->ping, i);
        futex(&s->ping, FUTEX_WAKE, 1, 0, NULL, 0);
        wait_for_value(&s->pong, i);
        if (load(&s->pong) != i)
            parent_out_of_order++;
        parent_rounds++;
    }
    check_status("the child exits 0", pid, "exit 0");

    check("the child's FUTEX_WAIT returned 0", s->child_wait_ret == 0, "returned %ld, errno %s",
          s->child_wait_ret, errname(s->child_wait_err));
    CHECK_EQ("the child's FUTEX_WAKE woke the parent (1)", s->child_wake_ret, 1);
    check("the child's requeued FUTEX_WAIT returned 0", s->child_parked_ret == 0,
          "returned %ld, errno %s", s->child_parked_ret, errname(s->child_parked_err));
    CHECK_EQ("ping-pong: the parent's rounds", parent_rounds, ROUNDS);
    CHECK_EQ("ping-pong: the child's rounds", s->child_rounds, ROUNDS);
    CHECK_EQ("ping-pong: final ping", s->ping, ROUNDS);
    CHECK_EQ("ping-pong: final pong", s->pong, ROUNDS);
    CHECK_EQ("ping-pong: no side ran ahead", parent_out_of_order + s->child_out_of_order, 0);
    return check_finish();
}
