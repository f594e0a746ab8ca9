/*
 * epoll_threads — epoll waits woken from another thread: 500 round trips of an eventfd write in
 * one thread ending epoll_pwait in the other, each with exactly one event and its data word; a
 * wait on an empty interest list ended by another thread's EPOLL_CTL_ADD of a ready descriptor;
 * an EPOLLONESHOT registration re-armed with EPOLL_CTL_MOD by another thread ending a wait.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define ROUNDS 500

static int ping, pong, ep_ping, ep_pong;
static int bad_wakes;

/* Waits on `ep` for one event on `fd` with data `tag` and consumes it. */
static int take(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev[2];
    int n;
    while ((n = epoll_pwait(ep, ev, 2, -1, NULL)) < 0 && errno == EINTR)
        ;
    uint64_t v;
    if (n != 1 || ev[0].data.u64 != tag || ev[0].events != EPOLLIN)
        return 0;
    return read(fd, &v, 8) == 8 && v == 1;
}

static void *ponger(void *arg)
{
    (void)arg;
    uint64_t one = 1;
    for (int i = 0; i < ROUNDS; i++) {
        if (!take(ep_ping, ping, 11))
            bad_wakes++;
        if (write(pong, &one, 8) != 8)
            bad_wakes++;
    }
    return NULL;
}

static int ep_wait;
static int waited;

static void *waiter(void *arg)
{
    (void)arg;
    struct epoll_event ev;
    int n;
    while ((n = epoll_wait(ep_wait, &ev, 1, -1)) < 0 && errno == EINTR)
        ;
    waited = n == 1 ? (int)ev.data.u64 : -1;
    return NULL;
}

int main(void)
{
    ping = eventfd(0, EFD_NONBLOCK);
    pong = eventfd(0, EFD_NONBLOCK);
    ep_ping = epoll_create1(0);
    ep_pong = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 11};
    REQUIRE("watch ping", epoll_ctl(ep_ping, EPOLL_CTL_ADD, ping, &ev) == 0);
    ev.data.u64 = 22;
    REQUIRE("watch pong", epoll_ctl(ep_pong, EPOLL_CTL_ADD, pong, &ev) == 0);
    pthread_t t;
    REQUIRE("thread", pthread_create(&t, NULL, ponger, NULL) == 0);
    uint64_t one = 1;
    int good = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (write(ping, &one, 8) != 8)
            break;
        good += take(ep_pong, pong, 22);
    }
    pthread_join(t, NULL);
    CHECK_EQ("500 round trips", good, ROUNDS);
    CHECK_EQ("every wake had one event", bad_wakes, 0);

    /* An empty interest list; another thread adds a ready descriptor. */
    ep_wait = epoll_create1(0);
    int ready = eventfd(1, 0);
    waited = 0;
    REQUIRE("waiter", pthread_create(&t, NULL, waiter, NULL) == 0);
    ev.events = EPOLLIN;
    ev.data.u64 = 33;
    CHECK_OK("add a ready descriptor", epoll_ctl(ep_wait, EPOLL_CTL_ADD, ready, &ev));
    pthread_join(t, NULL);
    CHECK_EQ("the waiter saw it", waited, 33);

    /* A one-shot registration, fired and disabled; another thread re-arms it. */
    int ep1 = epoll_create1(0);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 44;
    CHECK_OK("add one-shot", epoll_ctl(ep1, EPOLL_CTL_ADD, ready, &ev));
    struct epoll_event got;
    CHECK_EQ("it fires", epoll_wait(ep1, &got, 1, 0), 1);
    CHECK_EQ("then it is disabled", epoll_wait(ep1, &got, 1, 0), 0);
    close(ep_wait);
    ep_wait = ep1;
    waited = 0;
    REQUIRE("second waiter", pthread_create(&t, NULL, waiter, NULL) == 0);
    ev.data.u64 = 55;
    CHECK_OK("re-arm with MOD", epoll_ctl(ep1, EPOLL_CTL_MOD, ready, &ev));
    pthread_join(t, NULL);
    CHECK_EQ("the waiter saw the re-armed event", waited, 55);
    CHECK_EQ("disabled again", epoll_wait(ep1, &got, 1, 0), 0);
    close(ep1);
    close(ready);
    return check_finish();
}
