/*
 * futex_waitv (kernel/futex/syscalls.c): one waiter waits on three futex words at once and is
 * woken by a FUTEX_WAKE on any of them, returning that word's index; a word whose value already
 * differs is EAGAIN; an absolute timeout on CLOCK_MONOTONIC or CLOCK_REALTIME ends with
 * ETIMEDOUT; a shared (non-private) word works between processes. Argument checks: flags, no
 * waiters, more than 128, a waiter without FUTEX_32 or with reserved bits, an unknown clock, an
 * unaligned word, unreadable waiters.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
/* The futex values (include/uapi/linux/futex.h); musl ships no linux/ headers. */
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_32 2

struct waitv {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
};

static uint32_t words[3];
static volatile int in_wait;

static long waitv(struct waitv *w, unsigned n, unsigned flags, struct timespec *ts, int clock)
{
    return syscall(SYS_futex_waitv, w, n, flags, ts, clock);
}

static void fill(struct waitv *w, uint32_t *base, int n, int private_flag)
{
    for (int i = 0; i < n; i++)
        w[i] = (struct waitv){0, (uint64_t)(uintptr_t)&base[i],
                              FUTEX_32 | (private_flag ? FUTEX_PRIVATE_FLAG : 0), 0};
}

static void *waker(void *arg)
{
    (void)arg;
    /* Wake word 1 until the waiter has returned: a wake before it sleeps wakes nobody. */
    while (in_wait) {
        syscall(SYS_futex, &words[1], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    struct waitv w[3];
    fill(w, words, 3, 1);
    in_wait = 1;
    pthread_t th;
    REQUIRE("pthread_create", pthread_create(&th, NULL, waker, NULL) == 0);
    long r = waitv(w, 3, 0, NULL, 0);
    in_wait = 0;
    pthread_join(th, NULL);
    CHECK_EQ("woken by a wake on the second word: index 1", r, 1);

    words[2] = 5;
    CHECK_ERR("a word whose value differs", waitv(w, 3, 0, NULL, 0), EAGAIN);
    words[2] = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 2000000;
    if (now.tv_nsec >= 1000000000) {
        now.tv_sec++;
        now.tv_nsec -= 1000000000;
    }
    CHECK_ERR("an absolute CLOCK_MONOTONIC timeout", waitv(w, 3, 0, &now, CLOCK_MONOTONIC),
              ETIMEDOUT);
    clock_gettime(CLOCK_REALTIME, &now);
    CHECK_ERR("an absolute CLOCK_REALTIME timeout already past",
              waitv(w, 3, 0, &now, CLOCK_REALTIME), ETIMEDOUT);

    uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared page", shared != MAP_FAILED);
    pid_t child = fork_child();
    if (child == 0) {
        struct waitv sw[2];
        fill(sw, shared, 2, 0);
        _exit(waitv(sw, 2, 0, NULL, 0) == 1 ? 0 : 1);
    }
    /* Wake the shared word until the child has been woken and exited. */
    int st = 0;
    while (waitpid(child, &st, WNOHANG) == 0) {
        syscall(SYS_futex, &shared[1], FUTEX_WAKE, 1, NULL, NULL, 0);
        sched_yield();
    }
    CHECK_EQ("a waiter in another process woken on a shared word: index 1",
             WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);

    CHECK_ERR("flags", waitv(w, 3, 1, NULL, 0), EINVAL);
    CHECK_ERR("no waiters", waitv(w, 0, 0, NULL, 0), EINVAL);
    CHECK_ERR("a null list", waitv(NULL, 1, 0, NULL, 0), EINVAL);
    static struct waitv many[129];
    CHECK_ERR("129 waiters", waitv(many, 129, 0, NULL, 0), EINVAL);
    struct waitv bad = w[0];
    bad.flags = FUTEX_PRIVATE_FLAG;
    CHECK_ERR("a waiter without FUTEX_32", waitv(&bad, 1, 0, NULL, 0), EINVAL);
    bad.flags = FUTEX_32 | 1;
    CHECK_ERR("a waiter with an unknown flag", waitv(&bad, 1, 0, NULL, 0), EINVAL);
    bad.flags = FUTEX_32;
    bad.reserved = 1;
    CHECK_ERR("a waiter with its reserved field set", waitv(&bad, 1, 0, NULL, 0), EINVAL);
    struct timespec ts = {0, 0};
    CHECK_ERR("a timeout on an unknown clock", waitv(w, 3, 0, &ts, CLOCK_BOOTTIME), EINVAL);
    bad = w[0];
    bad.uaddr += 1;
    CHECK_ERR("an unaligned word", waitv(&bad, 1, 0, NULL, 0), EINVAL);
    bad.uaddr = 8;
    CHECK_ERR("an unmapped word", waitv(&bad, 1, 0, NULL, 0), EFAULT);
    CHECK_ERR("an unreadable list", waitv((struct waitv *)8, 1, 0, NULL, 0), EFAULT);
    CHECK_ERR("an unreadable timeout", waitv(w, 3, 0, (struct timespec *)8, CLOCK_MONOTONIC),
              EFAULT);
    return check_finish();
}
