/* The threaded program tests/gdb.rs debugs: the main thread starts two workers, each calls
 * work() with its own number (with "busy", the first calls tick() until the second is done),
 * all three meet at a barrier (all alive when a worker stops in work()), main joins them. */
#include <pthread.h>
#include <unistd.h>

volatile long slots[3];
static pthread_barrier_t all_here;

__attribute__((noinline)) long work(long n)
{
    slots[n] += n;
    slots[n] += n;
    return slots[n];
}

static volatile int busy, done;
volatile long ticks;

__attribute__((noinline)) void tick(long n)
{
    ticks += n;
}

static void *worker(void *arg)
{
    long n = (long)arg;
    if (busy && n == 1) {
        while (!done)
            tick(n);
    }
    work(n);
    if (n == 2)
        done = 1;
    pthread_barrier_wait(&all_here);
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t t[2];
    busy = argc > 1 && argv[1][0] == 'b';
    pthread_barrier_init(&all_here, 0, 3);
    for (long n = 1; n <= 2; n++)
        pthread_create(&t[n - 1], 0, worker, (void *)n);
    pthread_barrier_wait(&all_here);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], 0);
    if (slots[1] == 2 && slots[2] == 4)
        write(1, "joined\n", 7);
    return 0;
}
