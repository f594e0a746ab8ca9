/* The program tests/gdb.rs interrupts while every thread is blocked in a system call: a worker
 * reads one byte from an empty pipe (fds 3 and 4), the main thread waits for it in
 * pthread_join (a futex wait). A second pipe (fds 5 and 6) holds one byte, 'x'; only a read
 * whose descriptor the debugger changed to 5 ever gets it, and the worker says what it read. */
#include <pthread.h>
#include <unistd.h>

static int empty[2], full[2];

static void *worker(void *arg)
{
    (void)arg;
    char c = 0;
    long n = read(empty[0], &c, 1);
    if (n == 1 && c == 'x')
        write(1, "read x\n", 7);
    else
        write(1, "read other\n", 11);
    return 0;
}

int main(void)
{
    pthread_t t;
    if (pipe(empty) || pipe(full) || empty[0] != 3 || full[0] != 5)
        return 2;
    write(full[1], "x", 1);
    pthread_create(&t, 0, worker, 0);
    pthread_join(t, 0);
    write(1, "joined\n", 7);
    return 0;
}
