/*
 * SysV shared memory errors: sizes out of range, missing keys without IPC_CREAT, bad ids and
 * commands, bad pointers (raw system calls, so no libc wrapper hides the kernel's answer).
 */
#include "mm.h"

int main(void)
{
    mm_init();
    CHECK_ERR("shmget of size 0 with IPC_CREAT", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL);
    CHECK_ERR("shmget of a size over SHMMAX", shmget(IPC_PRIVATE, (size_t)-1, IPC_CREAT | 0600), EINVAL);
    key_t key = mm_key(2);
    CHECK_ERR("shmget of a missing key without IPC_CREAT", shmget(key, (size_t)pg, 0600), ENOENT);
    CHECK_ERR("shmget of a missing key, size 0", shmget(key, 0, 0), ENOENT);

    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)pg, IPC_CREAT | 0600));
    REQUIRE("shmget", id >= 0);
    errno = 0;
    check("shmat of id -1", shmat(-1, NULL, 0) == (void *)-1 && errno == EINVAL, "errno %s", errname(errno));
    errno = 0;
    check("shmat of an id never issued", shmat(id ^ 0x7ff0000, NULL, 0) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));
    CHECK_ERR("shmctl with an unknown command", syscall(SYS_shmctl, id, 12345, NULL), EINVAL);
    struct shmid_ds ds;
    CHECK_ERR("IPC_STAT of id -1", syscall(SYS_shmctl, -1, IPC_STAT, &ds), EINVAL);
    CHECK_ERR("IPC_STAT into a bad pointer", syscall(SYS_shmctl, id, IPC_STAT, (void *)8), EFAULT);
    CHECK_ERR("IPC_SET from a bad pointer", syscall(SYS_shmctl, id, IPC_SET, (void *)8), EFAULT);
    CHECK_ERR("shmdt of address 0", syscall(SYS_shmdt, NULL), EINVAL);
    char *anon = map_anon(1);
    CHECK_ERR("shmdt of a private anonymous page", syscall(SYS_shmdt, anon), EINVAL);
    errno = 0;
    check("shmat with an unaligned address", shmat(id, anon + 1, 0) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));

    CHECK_OK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    CHECK_ERR("IPC_RMID twice", shmctl(id, IPC_RMID, NULL), EINVAL);
    errno = 0;
    check("shmat of a removed id", shmat(id, NULL, 0) == (void *)-1 && errno == EINVAL, "errno %s", errname(errno));
    return check_finish();
}
