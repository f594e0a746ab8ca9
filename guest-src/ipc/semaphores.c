/*
 * SysV semaphores: semget, semctl (SETALL/GETALL, GETVAL/SETVAL, GETPID, GETNCNT, IPC_STAT,
 * IPC_SET, IPC_INFO/SEM_INFO, IPC_RMID), semop and semtimedop (IPC_NOWAIT, a timeout, a waiter
 * woken by another process, SEM_UNDO undone at exit, a signal ending a wait with EINTR even
 * under SA_RESTART), and the argument errors in Linux's order.
 */
#include "../fork/fork.h"
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <time.h>

union semun_arg {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

static int sem_id;

static long sem_ctl(int num, int cmd, union semun_arg arg)
{
    return syscall(SYS_semctl, sem_id, num, cmd, arg.buf);
}

static long getval(int num, int cmd)
{
    union semun_arg none = {0};
    return sem_ctl(num, cmd, none);
}

static long op(int num, int delta, int flags)
{
    struct sembuf sb = {(unsigned short)num, (short)delta, (short)flags};
    return syscall(SYS_semop, sem_id, &sb, 1);
}

/* Waits (yielding) until `n` processes wait on semaphore `num` to grow. */
static void wait_for_waiters(int num, int n)
{
    while (getval(num, GETNCNT) != n)
        sched_yield();
}

static void on_usr1(int sig)
{
    (void)sig;
}

int main(void)
{
    sem_id = (int)syscall(SYS_semget, IPC_PRIVATE, 3, IPC_CREAT | 0600);
    NEED("semget of a new set of 3", sem_id >= 0);

    unsigned short init[3] = {1, 2, 3}, got[3] = {0, 0, 0};
    union semun_arg arg = {.array = init};
    CHECK_OK("SETALL", sem_ctl(0, SETALL, arg));
    arg.array = got;
    CHECK_OK("GETALL", sem_ctl(0, GETALL, arg));
    check("GETALL returns what SETALL set", got[0] == 1 && got[1] == 2 && got[2] == 3,
          "%u %u %u", got[0], got[1], got[2]);
    CHECK_EQ("GETVAL of semaphore 1", getval(1, GETVAL), 2);
    union semun_arg val = {.val = 7};
    CHECK_OK("SETVAL 7", sem_ctl(1, SETVAL, val));
    CHECK_EQ("GETVAL after SETVAL", getval(1, GETVAL), 7);
    val.val = 40000;
    CHECK_ERR("SETVAL past SEMVMX", sem_ctl(1, SETVAL, val), ERANGE);
    CHECK_EQ("GETPID after our own SETVAL", getval(1, GETPID), getpid());

    CHECK_OK("semop -1 on a semaphore at 1", op(0, -1, 0));
    CHECK_ERR("semop -1 IPC_NOWAIT on a semaphore at 0", op(0, -1, IPC_NOWAIT), EAGAIN);
    struct sembuf down = {0, -1, 0};
    struct timespec brief = {0, 1000};
    CHECK_ERR("semtimedop that times out", syscall(SYS_semtimedop, sem_id, &down, 1, &brief),
              EAGAIN);
    struct timespec bad = {0, 2000000000L};
    CHECK_ERR("semtimedop with tv_nsec out of range",
              syscall(SYS_semtimedop, sem_id, &down, 1, &bad), EINVAL);
    CHECK_ERR("semtimedop with an unreadable timeout",
              syscall(SYS_semtimedop, sem_id, &down, 1, (void *)8), EFAULT);
    struct sembuf two[2] = {{0, 1, 0}, {1, -1, 0}};
    CHECK_OK("two operations at once", syscall(SYS_semop, sem_id, two, 2));
    CHECK_EQ("both applied (0)", getval(0, GETVAL), 1);
    CHECK_EQ("both applied (1)", getval(1, GETVAL), 6);
    struct sembuf blocked[2] = {{0, -1, 0}, {1, -100, IPC_NOWAIT}};
    CHECK_ERR("an all-or-nothing pair that cannot complete",
              syscall(SYS_semop, sem_id, blocked, 2), EAGAIN);
    CHECK_EQ("neither applied", getval(0, GETVAL), 1);

    /* A waiter in another process, woken by a semop here. */
    CHECK_OK("semop -1 to 0", op(0, -1, 0));
    pid_t pid = fork_child();
    if (pid == 0) {
        long r = op(0, -1, 0);
        _exit(r == 0 ? 0 : 1);
    }
    wait_for_waiters(0, 1);
    CHECK_EQ("GETNCNT sees the child waiting", getval(0, GETNCNT), 1);
    CHECK_OK("semop +1 wakes it", op(0, 1, 0));
    check_status("the child got the semaphore", pid, "exit 0");
    CHECK_EQ("GETPID names the child", getval(0, GETPID), pid);
    CHECK_EQ("the semaphore is 0 again", getval(0, GETVAL), 0);

    /* SEM_UNDO: what an exiting process took comes back. */
    pid = fork_child();
    if (pid == 0)
        _exit(op(2, -3, SEM_UNDO) == 0 ? 0 : 1);
    check_status("a child takes 3 with SEM_UNDO and exits", pid, "exit 0");
    CHECK_EQ("SEM_UNDO gave them back", getval(2, GETVAL), 3);

    /* A signal ends a semop wait with EINTR, even with SA_RESTART. */
    pid = fork_child();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        long r = op(0, -1, 0);
        _exit(r == -1 && errno == EINTR ? 0 : 1);
    }
    wait_for_waiters(0, 1);
    kill(pid, SIGUSR1);
    check_status("a signal ends a semop wait with EINTR under SA_RESTART", pid, "exit 0");

    struct semid_ds ds;
    memset(&ds, 0, sizeof ds);
    union semun_arg st = {.buf = &ds};
    CHECK_OK("IPC_STAT", sem_ctl(0, IPC_STAT, st));
    CHECK_EQ("sem_nsems", ds.sem_nsems, 3);
    CHECK_EQ("the mode", ds.sem_perm.mode & 0777, 0600);
    CHECK_EQ("the owner", ds.sem_perm.uid, getuid());
    CHECK_EQ("sem_otime is set", ds.sem_otime != 0, 1);
    ds.sem_perm.mode = 0640;
    CHECK_OK("IPC_SET mode 0640", sem_ctl(0, IPC_SET, st));
    memset(&ds, 0, sizeof ds);
    sem_ctl(0, IPC_STAT, st);
    CHECK_EQ("IPC_STAT shows the new mode", ds.sem_perm.mode & 0777, 0640);
    CHECK_ERR("IPC_STAT into an unwritable buffer", syscall(SYS_semctl, sem_id, 0, IPC_STAT, 8),
              EFAULT);

    struct seminfo info;
    memset(&info, 0, sizeof info);
    union semun_arg in = {.info = &info};
    CHECK_OK("IPC_INFO", sem_ctl(0, IPC_INFO, in));
    check("IPC_INFO limits", info.semopm > 0 && info.semmsl > 0 && info.semvmx == 32767,
          "semopm %d semmsl %d semvmx %d", info.semopm, info.semmsl, info.semvmx);
    CHECK_OK("SEM_INFO", sem_ctl(0, SEM_INFO, in));
    check("SEM_INFO counts this set", info.semusz >= 1, "semusz %d", info.semusz);

    CHECK_ERR("semop of no operations", syscall(SYS_semop, sem_id, &down, 0), EINVAL);
    struct seminfo lim;
    union semun_arg li = {.info = &lim};
    sem_ctl(0, IPC_INFO, li);
    CHECK_ERR("semop of more than SEMOPM operations",
              syscall(SYS_semop, sem_id, &down, lim.semopm + 1), E2BIG);
    CHECK_ERR("semop of unreadable operations", syscall(SYS_semop, sem_id, (void *)8, 1), EFAULT);
    struct sembuf past = {3, 1, 0};
    CHECK_ERR("semop on semaphore 3 of 3", syscall(SYS_semop, sem_id, &past, 1), EFBIG);
    CHECK_ERR("semctl with an unknown command", getval(0, 999), EINVAL);
    CHECK_ERR("semctl of a negative id", syscall(SYS_semctl, -1, 0, GETVAL, 0), EINVAL);
    CHECK_ERR("semget of a negative count", syscall(SYS_semget, IPC_PRIVATE, -1, IPC_CREAT | 0600),
              EINVAL);
    /* A key of this process's own, so that nothing left by another run can collide. */
    key_t key = (key_t)(0x5e300000 | (getpid() & 0xffff));
    long keyed = syscall(SYS_semget, key, 1, IPC_CREAT | IPC_EXCL | 0600);
    CHECK_OK("semget of a new key", keyed);
    CHECK_ERR("semget IPC_EXCL of that key again",
              syscall(SYS_semget, key, 1, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    CHECK_EQ("semget of the key finds the same set", syscall(SYS_semget, key, 0, 0), keyed);
    CHECK_ERR("semget of the key with more semaphores than it has", syscall(SYS_semget, key, 2, 0),
              EINVAL);
    syscall(SYS_semctl, keyed, 0, IPC_RMID, 0);
    CHECK_ERR("IPC_STAT with the IPC_64 bit", syscall(SYS_semctl, sem_id, 0, IPC_STAT | 0x100, &ds),
              EINVAL);

    CHECK_OK("IPC_RMID", getval(0, IPC_RMID));
    CHECK_ERR("semop on a removed set", op(0, 1, 0), EINVAL);
    CHECK_ERR("GETVAL on a removed set", getval(0, GETVAL), EINVAL);
    return check_finish();
}
