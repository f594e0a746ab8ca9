/*
 * SysV segments by key, IPC_SET and IPC_RMID: shmget finds a keyed segment again, IPC_SET changes
 * its mode, and IPC_RMID of an attached segment hides the key at once but keeps the segment (still
 * attachable by id) until the last detach; shmget of the key then creates a new segment.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    key_t key = mm_key(1);
    int id = shm_owned_id(shmget(key, (size_t)pg, IPC_CREAT | IPC_EXCL | 0600));
    REQUIRE("shmget IPC_CREAT|IPC_EXCL of a new key", id >= 0);
    CHECK_EQ("shmget of the key finds the segment", shmget(key, (size_t)pg, 0), id);
    CHECK_EQ("size 0 finds it too", shmget(key, 0, 0), id);
    CHECK_EQ("a smaller size finds it too", shmget(key, 10, 0600), id);
    CHECK_EQ("IPC_CREAT without IPC_EXCL finds it", shmget(key, (size_t)pg, IPC_CREAT | 0600), id);
    CHECK_ERR("IPC_CREAT|IPC_EXCL of an existing key", shmget(key, (size_t)pg, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    CHECK_ERR("a larger size than the segment's", shmget(key, (size_t)(2 * pg), 0), EINVAL);

    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    REQUIRE("IPC_STAT", shmctl(id, IPC_STAT, &ds) == 0);
    ds.shm_perm.mode = 0640;
    CHECK_OK("IPC_SET mode 0640", shmctl(id, IPC_SET, &ds));
    memset(&ds, 0, sizeof ds);
    shmctl(id, IPC_STAT, &ds);
    CHECK_EQ("IPC_STAT sees the new mode", ds.shm_perm.mode & 0777, 0640);
    ds.shm_perm.mode = 01777;
    CHECK_OK("IPC_SET with bits beyond the permissions", shmctl(id, IPC_SET, &ds));
    shmctl(id, IPC_STAT, &ds);
    CHECK_EQ("only the permission bits are taken", ds.shm_perm.mode & 07777, 0777);

    volatile char *a = shmat(id, NULL, 0);
    REQUIRE("shmat", a != (void *)-1);
    memcpy((char *)a, "kept", 4);
    CHECK_OK("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
    CHECK_MEM("the attach still holds the data", (const char *)a, "kept", 4);
    memset(&ds, 0, sizeof ds);
    CHECK_OK("IPC_STAT by id still works", shmctl(id, IPC_STAT, &ds));
    check("the mode carries SHM_DEST", (ds.shm_perm.mode & SHM_DEST) != 0, "mode %#o", (unsigned)ds.shm_perm.mode);
    CHECK_EQ("one attach", ds.shm_nattch, 1);
    CHECK_ERR("the key no longer finds it", shmget(key, (size_t)pg, 0), ENOENT);
    volatile char *b = shmat(id, NULL, 0);
    check("a removed but attached segment can still be attached by id", b != (void *)-1, "errno %s", errname(errno));
    if (b != (void *)-1) {
        CHECK_MEM("the new attach sees the data", (const char *)b, "kept", 4);
        shmdt((void *)b);
    }

    int id2 = shm_owned_id(shmget(key, (size_t)pg, IPC_CREAT | IPC_EXCL | 0600));
    check("shmget of the key creates a new segment", id2 >= 0 && id2 != id, "errno %s", errname(errno));
    volatile char *n = shmat(id2, NULL, 0);
    REQUIRE("attach the new segment", n != (void *)-1);
    CHECK_EQ("the new segment is zero-filled", n[0], 0);
    CHECK_MEM("the old one is unchanged", (const char *)a, "kept", 4);

    CHECK_OK("the last shmdt of the removed segment", shmdt((void *)a));
    CHECK_ERR("the segment is gone: IPC_STAT", shmctl(id, IPC_STAT, &ds), EINVAL);
    errno = 0;
    check("the segment is gone: shmat", shmat(id, NULL, 0) == (void *)-1 && errno == EINVAL, "errno %s", errname(errno));
    CHECK_ERR("the segment is gone: IPC_RMID", shmctl(id, IPC_RMID, NULL), EINVAL);
    shmdt((void *)n);
    CHECK_OK("IPC_RMID of a detached segment", shmctl(id2, IPC_RMID, NULL));
    CHECK_ERR("removes it at once", shmctl(id2, IPC_STAT, &ds), EINVAL);
    return check_finish();
}
