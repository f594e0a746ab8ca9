/*
 * SHM_RDONLY: a read-only attach reads what a read-write attach writes, a store through it raises
 * SIGSEGV/SEGV_ACCERR at the exact address, and mprotect cannot make it writable.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    fault_install();
    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)(2 * pg), IPC_CREAT | 0600));
    REQUIRE("shmget", id >= 0);
    volatile char *rw = shmat(id, NULL, 0);
    volatile char *ro = shmat(id, NULL, SHM_RDONLY);
    REQUIRE("a read-write and a SHM_RDONLY attach", rw != (void *)-1 && ro != (void *)-1);
    memcpy((char *)rw + pg + 5, "data", 4);
    CHECK_MEM("the read-only attach reads the data", (const char *)ro + pg + 5, "data", 4);
    check_probe("the read-only attach, as the kernel sees it", ro + pg, "r-");
    check_fault("the SHM_RDONLY attach", ro + pg + 7, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    check_fault("the first page of the SHM_RDONLY attach", ro, ACC_WRITE, SIGSEGV, SEGV_ACCERR);
    CHECK_MEM("the failed store changed nothing", (const char *)rw + pg + 5, "data", 4);
    CHECK_ERR("mprotect PROT_WRITE on the read-only attach",
              mprotect((void *)ro, (size_t)pg, PROT_READ | PROT_WRITE), EACCES);
    CHECK_OK("mprotect PROT_READ on it", mprotect((void *)ro, (size_t)pg, PROT_READ));
    CHECK_OK("mprotect PROT_NONE on it", mprotect((void *)ro, (size_t)pg, PROT_NONE));
    check_fault("the attach made PROT_NONE", ro, ACC_READ, SIGSEGV, SEGV_ACCERR);
    rw[0] = 'w';
    CHECK_OK("mprotect PROT_READ restores reading", mprotect((void *)ro, (size_t)pg, PROT_READ));
    check_reads("the restored attach", ro, 'w');
    CHECK_OK("shmdt the read-only attach", shmdt((void *)ro));
    CHECK_OK("shmdt the read-write attach", shmdt((void *)rw));
    CHECK_OK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    return check_finish();
}
