/*
 * SysV shared memory basics: a private segment attached twice is one object seen through two
 * addresses; IPC_STAT reports its size, mode, creator and attach count as attaches come and go;
 * the contents outlive every detach until IPC_RMID.
 */
#include "mm.h"
#include <stdint.h>

static struct shmid_ds stat_of(int id)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (shmctl(id, IPC_STAT, &ds) != 0)
        ds.shm_segsz = (size_t)-1;
    return ds;
}

int main(void)
{
    mm_init();
    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)(2 * pg), IPC_CREAT | 0600));
    REQUIRE("shmget IPC_PRIVATE, 2 pages", id >= 0);
    struct shmid_ds ds = stat_of(id);
    CHECK_EQ("IPC_STAT: shm_segsz", ds.shm_segsz, 2 * pg);
    CHECK_EQ("IPC_STAT: no attaches yet", ds.shm_nattch, 0);
    CHECK_EQ("IPC_STAT: mode", ds.shm_perm.mode & 0777, 0600);
    check("IPC_STAT: shm_cpid is the caller", ds.shm_cpid == getpid(), "other pid");
    check("IPC_STAT: owner and creator are the caller",
          ds.shm_perm.uid == getuid() && ds.shm_perm.cuid == getuid(), "other uid");

    volatile char *a = shmat(id, NULL, 0);
    REQUIRE("shmat", a != (void *)-1);
    check("the attach address is page aligned", ((uintptr_t)a & (uintptr_t)(pg - 1)) == 0, "unaligned");
    CHECK_EQ("one attach", stat_of(id).shm_nattch, 1);
    check("IPC_STAT: shm_lpid is the attacher", stat_of(id).shm_lpid == getpid(), "other pid");
    volatile char *b = shmat(id, NULL, 0);
    REQUIRE("a second shmat of the same segment", b != (void *)-1 && b != a);
    CHECK_EQ("two attaches", stat_of(id).shm_nattch, 2);
    check("a new segment is zero-filled", a[0] == 0 && a[2 * pg - 1] == 0, "non-zero");
    memcpy((char *)a + 10, "via a", 5);
    CHECK_MEM("the second attach sees the first's write", (const char *)b + 10, "via a", 5);
    memcpy((char *)b + pg + 10, "via b", 5);
    CHECK_MEM("the first attach sees the second's write", (const char *)a + pg + 10, "via b", 5);

    CHECK_OK("shmdt the first attach", shmdt((void *)a));
    CHECK_EQ("one attach left", stat_of(id).shm_nattch, 1);
    CHECK_MEM("the second attach still holds the data", (const char *)b + 10, "via a", 5);
    CHECK_ERR("shmdt of an address that is no longer attached", shmdt((void *)a), EINVAL);
    CHECK_OK("shmdt the second attach", shmdt((void *)b));
    ds = stat_of(id);
    CHECK_EQ("no attaches left", ds.shm_nattch, 0);
    CHECK_EQ("the segment still exists with its size", ds.shm_segsz, 2 * pg);
    volatile char *c = shmat(id, NULL, 0);
    REQUIRE("attach again", c != (void *)-1);
    CHECK_MEM("the contents outlived every detach", (const char *)c + pg + 10, "via b", 5);
    shmdt((void *)c);
    CHECK_OK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    CHECK_ERR("IPC_STAT of the removed segment", shmctl(id, IPC_STAT, &ds), EINVAL);

    int odd = shm_owned_id(shmget(IPC_PRIVATE, 100, IPC_CREAT | 0600));
    REQUIRE("shmget of 100 bytes", odd >= 0);
    CHECK_EQ("IPC_STAT keeps the exact size", stat_of(odd).shm_segsz, 100);
    volatile char *o = shmat(odd, NULL, 0);
    REQUIRE("attach it", o != (void *)-1);
    o[pg - 1] = 'e';
    CHECK_EQ("the attach covers the whole page", o[pg - 1], 'e');
    shmdt((void *)o);
    shmctl(odd, IPC_RMID, NULL);
    return check_finish();
}
