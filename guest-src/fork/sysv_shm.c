/*
 * A SysV segment attached before fork: both sides see each other's writes, the fork counts one
 * more attach, shmdt in the child leaves the parent's attach working, a child that exits
 * without shmdt is detached by its exit, and the segment lives on until IPC_RMID.
 */
#include "fork.h"
#include <sys/mman.h>
#include <sys/shm.h>

static int nattch(int id)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    return shmctl(id, IPC_STAT, &ds) == 0 ? (int)ds.shm_nattch : -1;
}

static pid_t last_pid(int id)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    return shmctl(id, IPC_STAT, &ds) == 0 ? ds.shm_lpid : -1;
}

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    int id = shmget(IPC_PRIVATE, (size_t)pg, IPC_CREAT | 0600);
    REQUIRE("shmget IPC_PRIVATE", id >= 0);
    volatile char *a = shmat(id, NULL, 0);
    if (a == (void *)-1)
        shmctl(id, IPC_RMID, NULL);
    REQUIRE("shmat", a != (void *)-1);
    CHECK_EQ("one attach before the fork", nattch(id), 1);
    memcpy((char *)a, "P0", 2);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_EQ("child: the fork added an attach", nattch(id), 2);
        check("child: sees the parent's pre-fork write", a[0] == 'P' && a[1] == '0', "got %.2s",
              (const char *)a);
        memcpy((char *)a + 64, "C1", 2);
        pass_to_parent(&t);
        wait_for_parent(&t);
        check("child: sees the parent's post-fork write", a[128] == 'P' && a[129] == '2',
              "got %.2s", (const char *)a + 128);
        CHECK_OK("child: shmdt", shmdt((void *)a));
        CHECK_EQ("child: one attach left, the parent's", nattch(id), 1);
        CHECK_PID("child: shm_lpid is the child", last_pid(id), getpid());
        CHECK_ERR("child: the detached range is unmapped", msync((void *)a, (size_t)pg, MS_ASYNC),
                  ENOMEM);
        CHECK_ERR("child: a second shmdt fails", shmdt((void *)a), EINVAL);
        pass_to_parent(&t);
        wait_for_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    check("parent: sees the child's write", a[64] == 'C' && a[65] == '1', "got %.2s",
          (const char *)a + 64);
    memcpy((char *)a + 128, "P2", 2);
    pass_to_child(&t);
    wait_for_child(&t);
    CHECK_EQ("parent: still attached after the child's shmdt", nattch(id), 1);
    memcpy((char *)a + 192, "P3", 2);
    check("parent: the attach still reads and writes", a[0] == 'P' && a[64] == 'C' &&
          a[192] == 'P' && a[193] == '3', "lost data");
    pass_to_child(&t);
    check_status("child exited 0", pid, "exit 0");

    pid = fork_child();
    if (pid == 0)
        _exit(a[192] == 'P' ? 0 : 1);
    check_status("a second child inherits the attach and exits without shmdt", pid, "exit 0");
    CHECK_EQ("its exit detached it", nattch(id), 1);
    CHECK_OK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    check("the parent's attach outlives IPC_RMID", a[0] == 'P' && a[64] == 'C', "lost data");
    CHECK_OK("shmdt in the parent", shmdt((void *)a));
    struct shmid_ds ds;
    CHECK_ERR("the segment is gone", shmctl(id, IPC_STAT, &ds), EINVAL);
    return check_finish();
}
