/*
 * epoll_wakeup.c COUNT — two threads bounce a token COUNT times through two eventfds, each
 * side sleeping in epoll_pwait on its own eventfd until the other's write: the
 * write-to-wakeup latency of epoll, twice per round trip.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static unsigned long rounds;
static int efd[2], ep[2];

/* Waits for a token on side `me`, takes it, and hands one to the other side. */
static int side(int me, int first)
{
    uint64_t one = 1, got;
    for (unsigned long i = 0; i < rounds; i++) {
        if (!(first && i == 0)) {
            struct epoll_event ev;
            while (epoll_pwait(ep[me], &ev, 1, -1, NULL) != 1)
                ;
            if (read(efd[me], &got, 8) != 8)
                return 1;
        }
        if (write(efd[1 - me], &one, 8) != 8)
            return 1;
    }
    return 0;
}

static void *partner(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)side(1, 0);
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 2) {
        fprintf(stderr, "usage: %s COUNT\n", argc > 0 ? argv[0] : "epoll_wakeup");
        return 2;
    }
    rounds = strtoul(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || rounds == 0) {
        fprintf(stderr, "%s: COUNT must be a positive integer\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < 2; i++) {
        efd[i] = eventfd(0, 0);
        ep[i] = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (efd[i] < 0 || ep[i] < 0 || epoll_ctl(ep[i], EPOLL_CTL_ADD, efd[i], &ev) != 0) {
            perror("epoll_wakeup: setup");
            return 1;
        }
    }
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL) != 0) {
        fprintf(stderr, "epoll_wakeup: pthread_create failed\n");
        return 1;
    }
    int status = side(0, 1);
    /* The last token: side 0 handed out its last one; take side 1's last reply. */
    struct epoll_event ev;
    uint64_t got;
    while (epoll_pwait(ep[0], &ev, 1, -1, NULL) != 1)
        ;
    if (read(efd[0], &got, 8) != 8)
        status = 1;
    void *res;
    pthread_join(t, &res);
    if (status != 0 || res != NULL) {
        fprintf(stderr, "epoll_wakeup: a side failed\n");
        return 1;
    }
    printf("epoll_wakeup: %lu round trips\n", rounds);
    return 0;
}
