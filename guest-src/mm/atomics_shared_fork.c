/*
 * Guest atomics stay exact between agents that share memory, whatever made them share it: for
 * each way of getting writable shared memory (MAP_SHARED|MAP_ANONYMOUS, a shm_open object, one
 * mapped read-only and then made writable with mprotect, a memfd, a SysV attach, a shared
 * mapping moved by mremap) a fresh process that had none sets up two counters that way, forks,
 * and parent and child each add 1 to both N times, with ldaddal and with an ldaxr/stlxr loop,
 * after meeting at a gate on the same memory: neither loses an increment (2N each). A second
 * thread of one process, on private memory, does the same.
 *
 * Each setup runs in a child of the main process, which itself maps nothing shared, so that
 * every setup starts from a process with one thread and no shared memory.
 */
#include "mm.h"
#include <pthread.h>
#include <stdio.h>
#include <sys/ipc.h>

#define N 100000

/* The counters: [0] for ldaddal, [1] for ldaxr/stlxr, [2] the start gate. */
typedef volatile uint64_t counters[3];

static void add_lse(volatile uint64_t *word)
{
    uint64_t old;
    for (long i = 0; i < N; i++)
        __asm__ volatile(".arch_extension lse\n\t"
                         "ldaddal %[one], %[old], [%[word]]"
                         : [old] "=&r"(old)
                         : [one] "r"((uint64_t)1), [word] "r"(word)
                         : "memory");
}

static void add_llsc(volatile uint64_t *word)
{
    uint64_t value, status;
    for (long i = 0; i < N; i++)
        __asm__ volatile("1:\n\t"
                         "ldaxr   %[value], [%[word]]\n\t"
                         "add     %[value], %[value], #1\n\t"
                         "stlxr   %w[status], %[value], [%[word]]\n\t"
                         "cbnz    %w[status], 1b"
                         : [value] "=&r"(value), [status] "=&r"(status)
                         : [word] "r"(word)
                         : "memory");
}

/* Both sides meet at the gate, then add. */
static void race(counters c)
{
    __atomic_fetch_add(&c[2], 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&c[2], __ATOMIC_SEQ_CST) < 2)
        ;
    add_lse(&c[0]);
    add_llsc(&c[1]);
}

static void check_totals(const char *how, counters c)
{
    char name[96];
    snprintf(name, sizeof name, "%s: ldaddal total", how);
    CHECK_EQ(name, (long)c[0], 2L * N);
    snprintf(name, sizeof name, "%s: ldaxr/stlxr total", how);
    CHECK_EQ(name, (long)c[1], 2L * N);
}

/* Forks a child that races this process on `c`, races too, and checks the totals. */
static void race_with_child(const char *how, counters c)
{
    pid_t pid = fork();
    NEED("fork", pid >= 0);
    if (pid == 0) {
        race(c);
        _exit(0);
    }
    race(c);
    int st = 0;
    check("the racing child exited 0", waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
          WEXITSTATUS(st) == 0, "status %#x", st);
    check_totals(how, c);
}

static void *thread_race(void *arg)
{
    race(arg);
    return NULL;
}

static uint64_t private_counters[3];

static void setup(int kind)
{
    size_t len = (size_t)pg;
    void *p = MAP_FAILED;
    int fd;
    char name[64];

    switch (kind) {
    case 0:
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        NEED("mmap MAP_SHARED|MAP_ANONYMOUS", p != MAP_FAILED);
        race_with_child("MAP_SHARED|MAP_ANONYMOUS", p);
        return;
    case 1:
    case 2:
        snprintf(name, sizeof name, "/elfvisor-atomics-%d", (int)getpid());
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        NEED("shm_open", fd >= 0);
        shm_unlink(name);
        NEED("ftruncate", ftruncate(fd, (off_t)len) == 0);
        if (kind == 1) {
            p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            NEED("mmap of the shm_open object", p != MAP_FAILED);
            race_with_child("shm_open", p);
        } else {
            p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
            NEED("read-only mmap of the shm_open object", p != MAP_FAILED);
            NEED("mprotect to read-write", mprotect(p, len, PROT_READ | PROT_WRITE) == 0);
            race_with_child("shm_open, made writable by mprotect", p);
        }
        return;
    case 3:
        fd = memfd_create("atomics", 0);
        NEED("memfd_create", fd >= 0);
        NEED("ftruncate", ftruncate(fd, (off_t)len) == 0);
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        NEED("mmap of the memfd", p != MAP_FAILED);
        race_with_child("memfd", p);
        return;
    case 4:
        fd = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
        NEED("shmget", fd >= 0);
        p = shmat(fd, NULL, 0);
        shmctl(fd, IPC_RMID, NULL);
        NEED("shmat", p != (void *)-1);
        race_with_child("SysV shmat", p);
        return;
    case 5:
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        NEED("mmap MAP_SHARED|MAP_ANONYMOUS", p != MAP_FAILED);
        p = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
        NEED("mremap", p != MAP_FAILED);
        race_with_child("moved by mremap", p);
        return;
    default: {
        pthread_t t;
        NEED("pthread_create",
             pthread_create(&t, NULL, thread_race, (void *)private_counters) == 0);
        race(private_counters);
        NEED("pthread_join", pthread_join(t, NULL) == 0);
        check_totals("a second thread, private memory", private_counters);
        return;
    }
    }
}

int main(void)
{
    mm_init();
    for (int kind = 0; kind <= 6; kind++) {
        pid_t pid = fork();
        NEED("fork", pid >= 0);
        if (pid == 0) {
            check_count = 0;
            check_failures = 0;
            setup(kind);
            child_exit();
        }
        check_child("the setup's process exited 0", pid);
    }
    return check_finish();
}
