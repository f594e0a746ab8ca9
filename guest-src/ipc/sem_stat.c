/*
 * SysV semaphores seen through the kernel's table: semctl IPC_INFO and SEM_INFO (their limits
 * and usage counts, and the highest index in use as the result), SEM_STAT and SEM_STAT_ANY by
 * index (the set's identifier as the result, its permissions and size), an index in no use,
 * and IPC_STAT after IPC_SET changed the mode.
 */
#include "check.h"
#include <sys/ipc.h>
#include <sys/sem.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

int main(void)
{
    int id = semget(IPC_PRIVATE, 4, IPC_CREAT | 0640);
    REQUIRE("semget of a set of 4", id >= 0);

    struct seminfo info;
    memset(&info, 0, sizeof info);
    union semun arg = {.info = &info};
    int highest = semctl(0, 0, IPC_INFO, arg);
    CHECK_EQ("IPC_INFO returns the highest index in use", highest >= 0, 1);
    CHECK_EQ("IPC_INFO: semmsl is 32000", info.semmsl, 32000);
    CHECK_EQ("IPC_INFO: semopm is 500", info.semopm, 500);
    CHECK_EQ("IPC_INFO: semvmx is 32767", info.semvmx, 32767);
    CHECK_EQ("IPC_INFO: semmni is 32000", info.semmni, 32000);
    memset(&info, 0, sizeof info);
    /* Other processes may make or remove sets meanwhile: the index is only known to cover ours. */
    int highest2 = semctl(0, 0, SEM_INFO, arg);
    CHECK_EQ("SEM_INFO returns the highest index in use too", highest2 >= 0, 1);
    CHECK_EQ("SEM_INFO: semusz counts at least our set", info.semusz >= 1, 1);
    CHECK_EQ("SEM_INFO: semaem counts at least our 4 semaphores", info.semaem >= 4, 1);

    /* Find our set by index: SEM_STAT returns the identifier of the set at that index. */
    int found = -1, found_any = -1;
    for (int i = 0; i <= highest; i++) {
        struct semid_ds ds;
        union semun s = {.buf = &ds};
        int r = semctl(i, 0, SEM_STAT, s);
        if (r == id) {
            found = i;
            check("SEM_STAT: the set's size", ds.sem_nsems == 4, "%lu", (unsigned long)ds.sem_nsems);
            check("SEM_STAT: the set's mode", (ds.sem_perm.mode & 0777) == 0640, "%o",
                  ds.sem_perm.mode & 0777);
            check("SEM_STAT: our uid", ds.sem_perm.uid == getuid(), "differs");
        }
        r = semctl(i, 0, SEM_STAT_ANY, s);
        if (r == id)
            found_any = i;
    }
    CHECK_EQ("SEM_STAT finds the set at some index", found >= 0, 1);
    CHECK_EQ("SEM_STAT_ANY finds it at the same index", found_any, found);

    struct semid_ds ds;
    union semun s = {.buf = &ds};
    /* The last index (IPCMNI - 1) holds a set only when 32768 exist. */
    CHECK_ERR("SEM_STAT of an index in no use", semctl(32767, 0, SEM_STAT, s), EINVAL);
    CHECK_ERR("SEM_STAT_ANY of an index in no use", semctl(32767, 0, SEM_STAT_ANY, s), EINVAL);
    CHECK_ERR("SEM_STAT at a negative index", semctl(-1, 0, SEM_STAT, s), EINVAL);

    CHECK_OK("IPC_STAT", semctl(id, 0, IPC_STAT, s));
    ds.sem_perm.mode = 0600;
    CHECK_OK("IPC_SET mode 0600", semctl(id, 0, IPC_SET, s));
    memset(&ds, 0, sizeof ds);
    CHECK_OK("IPC_STAT again", semctl(id, 0, IPC_STAT, s));
    CHECK_EQ("the mode changed", ds.sem_perm.mode & 0777, 0600);
    CHECK_EQ("sem_ctime is set", ds.sem_ctime > 0, 1);
    CHECK_EQ("no semop yet: sem_otime is 0", ds.sem_otime, 0);
    struct sembuf up = {2, 1, 0};
    CHECK_OK("semop", semop(id, &up, 1));
    CHECK_OK("IPC_STAT after semop", semctl(id, 0, IPC_STAT, s));
    CHECK_EQ("sem_otime is set by semop", ds.sem_otime > 0, 1);

    CHECK_OK("IPC_RMID", semctl(id, 0, IPC_RMID));
    CHECK_ERR("IPC_STAT of a removed set", semctl(id, 0, IPC_STAT, s), EINVAL);
    return check_finish();
}
