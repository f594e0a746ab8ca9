/*
 * eventfd_readers — blocking eventfds with several readers and writers: a semaphore eventfd
 * handing out one unit per read to three threads blocked on it, a counter eventfd read whole by
 * one of two forked children at a time, and a writer blocked by a full counter until a read
 * makes room. Every outcome is the same whichever waiter runs first.
 */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

static int sem;
static int ones[3];

static void *sem_reader(void *arg)
{
    int *count = arg;
    for (int i = 0; i < 2; i++) {
        uint64_t v = 0;
        if (read(sem, &v, 8) == 8 && v == 1)
            (*count)++;
    }
    return NULL;
}

static int full;

static void *blocked_writer(void *arg)
{
    (void)arg;
    uint64_t one = 1;
    return (void *)(intptr_t)write(full, &one, 8);
}

int main(void)
{
    /* Three threads, two reads each, one write of 6. */
    sem = eventfd(0, EFD_SEMAPHORE);
    REQUIRE("semaphore eventfd", sem >= 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, sem_reader, &ones[i]);
    uint64_t six = 6;
    CHECK_EQ("write 6 units", write(sem, &six, 8), 8);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ("every thread got two units of 1", ones[0] == 2 && ones[1] == 2 && ones[2] == 2, 1);
    uint64_t v;
    struct pollfd p = {.fd = sem, .events = POLLIN};
    CHECK_EQ("none left", poll(&p, 1, 0), 0);
    close(sem);

    /* A counter read whole: two forked readers, two writes, one value each. */
    int ctr = eventfd(0, 0);
    REQUIRE("counter eventfd", ctr >= 0);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork_or_die();
        if (kids[i] == 0) {
            uint64_t got = 0;
            if (read(ctr, &got, 8) != 8)
                _exit(100);
            _exit((int)got);
        }
    }
    uint64_t five = 5, seven = 7;
    int st, got[2];
    CHECK_EQ("write 5", write(ctr, &five, 8), 8);
    pid_t first = wait(&st);
    got[0] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK_EQ("one child took 5", got[0], 5);
    CHECK_EQ("write 7", write(ctr, &seven, 8), 8);
    pid_t second = wait(&st);
    got[1] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK_EQ("the other took 7", got[1], 7);
    CHECK_EQ("two different children", first != second && first > 0 && second > 0, 1);
    close(ctr);

    /* A full counter blocks a writer until a read makes room. */
    full = eventfd(0, 0);
    uint64_t most = 0xfffffffffffffffeULL;
    CHECK_EQ("fill to the largest count", write(full, &most, 8), 8);
    pthread_t w;
    pthread_create(&w, NULL, blocked_writer, NULL);
    CHECK_EQ("read the full count", read(full, &v, 8), 8);
    check("it was the largest", v == most, "%llx", (unsigned long long)v);
    void *wr;
    pthread_join(w, &wr);
    CHECK_EQ("the writer got through", (intptr_t)wr, 8);
    CHECK_EQ("its 1 is there", read(full, &v, 8) == 8 && v == 1, 1);
    close(full);
    return check_finish();
}
