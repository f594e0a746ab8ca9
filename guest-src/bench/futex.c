/*
 * futex.c threads|processes COUNT — two threads (private futex) or two processes (a shared
 * futex in MAP_SHARED|MAP_ANONYMOUS memory) bounce a counter COUNT times, each side sleeping in
 * FUTEX_WAIT until the other's FUTEX_WAKE: the wake-to-wakeup latency, twice per round trip.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* linux/futex.h (not every cross toolchain ships the kernel headers). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128

static int *word;
static unsigned long rounds;
static int op_flag;

static void side(unsigned long mine)
{
    for (unsigned long i = 0; i < rounds; i++) {
        int want = (int)(2 * i + mine);
        int seen;
        while ((seen = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != want)
            syscall(SYS_futex, word, FUTEX_WAIT | op_flag, seen, NULL, NULL, 0);
        __atomic_store_n(word, want + 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, word, FUTEX_WAKE | op_flag, 1, NULL, NULL, 0);
    }
}

static void *partner(void *arg)
{
    (void)arg;
    side(1);
    return NULL;
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3 || (strcmp(argv[1], "threads") != 0 && strcmp(argv[1], "processes") != 0)) {
        fprintf(stderr, "usage: %s threads|processes COUNT\n", argc > 0 ? argv[0] : "futex");
        return 2;
    }
    rounds = strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || rounds == 0) {
        fprintf(stderr, "%s: COUNT must be a positive integer\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "threads") == 0) {
        static int private_word;
        word = &private_word;
        op_flag = FUTEX_PRIVATE_FLAG;
        pthread_t t;
        if (pthread_create(&t, NULL, partner, NULL) != 0)
            return 1;
        side(0);
        pthread_join(t, NULL);
    } else {
        word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (word == MAP_FAILED)
            return 1;
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        side(pid == 0 ? 1 : 0);
        if (pid == 0)
            _exit(0);
        int status;
        waitpid(pid, &status, 0);
    }
    printf("futex %s: %lu round trips, final %d\n", argv[1], rounds, *word);
    return 0;
}
