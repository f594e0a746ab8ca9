/*
 * A SysV attach across fork: the child inherits the attach (shm_nattch counts it), both sides see
 * each other's writes, IPC_RMID and a detach in the parent leave the child's attach working, and
 * the segment disappears when the child, its last user, exits.
 */
#include "mm.h"

static int nattch(int id)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    return shmctl(id, IPC_STAT, &ds) == 0 ? (int)ds.shm_nattch : -1;
}

int main(void)
{
    mm_init();
    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)pg, IPC_CREAT | 0600));
    REQUIRE("shmget", id >= 0);
    volatile char *a = shmat(id, NULL, 0);
    REQUIRE("shmat", a != (void *)-1);
    a[0] = 'P';
    struct turns t;
    turns_open(&t);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        CHECK_EQ("(1) child sees the parent's pre-fork write", a[0], 'P');
        CHECK_EQ("(1) the fork added an attach", nattch(id), 2);
        a[64] = 'C';
        pass_to_parent(&t);
        wait_for_parent(&t);
        CHECK_EQ("(3) child sees the parent's last write", a[128], 'Q');
        CHECK_EQ("(3) only the child's attach is left", nattch(id), 1);
        a[192] = 'D';
        CHECK_EQ("(3) the child's attach still works", a[192], 'D');
        child_exit();
    }
    wait_for_child(&t);
    CHECK_EQ("(2) parent sees the child's write", a[64], 'C');
    a[128] = 'Q';
    CHECK_OK("(2) IPC_RMID while both are attached", shmctl(id, IPC_RMID, NULL));
    CHECK_OK("(2) parent detaches", shmdt((void *)a));
    pass_to_child(&t);
    check_child("child exited 0", pid);
    struct shmid_ds ds;
    CHECK_ERR("the segment died with its last attach, the child's", shmctl(id, IPC_STAT, &ds), EINVAL);
    return check_finish();
}
