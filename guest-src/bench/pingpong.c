/*
 * pingpong.c COUNT — two processes bounce a counter through a MAP_SHARED|MAP_ANONYMOUS page
 * COUNT times: each waits (yielding) until the other's write is visible, then answers. The
 * MAP_SHARED write-to-read latency, twice per round trip.
 */
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
    unsigned long n = bench_count(argc, argv);
    volatile unsigned long *turn =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (turn == MAP_FAILED)
        return 1;
    *turn = 0;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    /* The parent writes odd values, the child even ones. */
    unsigned long mine = pid == 0 ? 1 : 0;
    for (unsigned long i = 0; i < n; i++) {
        unsigned long want = 2 * i + mine;
        while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) != want)
            sched_yield();
        __atomic_store_n(turn, want + 1, __ATOMIC_RELEASE);
    }
    if (pid == 0)
        _exit(0);
    int status;
    waitpid(pid, &status, 0);
    printf("pingpong: %lu round trips, final %lu\n", n, (unsigned long)*turn);
    return 0;
}
