/*
 * shmat at a chosen address: an SHMLBA-aligned address is used as given, an unaligned one is
 * refused unless SHM_RND rounds it down (to the kernel's SHMLBA, printed; with SHM_REMAP, never
 * down to address 0), an occupied range needs SHM_REMAP, and a range outside every attach cannot
 * be detached.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    int id = shm_owned_id(shmget(IPC_PRIVATE, (size_t)(2 * pg), IPC_CREAT | 0600));
    REQUIRE("shmget, 2 pages", id >= 0);
    /* A free, 64 KiB-aligned window: 128 pages reserved, then released. */
    char *res = mmap(NULL, (size_t)(128 * pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve a window", res != MAP_FAILED);
    char *win = (char *)(((uintptr_t)res + 65535) & ~(uintptr_t)65535);
    munmap(res, (size_t)(128 * pg));

    char *a = shmat(id, win, 0);
    check("an aligned address is used as given", a == win, "errno %s", errname(errno));
    a[0] = 'a';
    shmdt(a);

    errno = 0;
    check("an address off by 100 bytes is refused", shmat(id, win + 100, 0) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));
    char *r = shmat(id, win + pg + 100, SHM_RND);
    REQUIRE("SHM_RND accepts it", r != (void *)-1);
    long rounded_by = (long)(win + pg + 100 - r);
    out("SHM_RND of (aligned + one page + 100) rounded down by %ld bytes\n", rounded_by);
    check("libc's SHMLBA matches the rounding", rounded_by == (long)((pg + 100) % SHMLBA), "SHMLBA %ld",
          (long)SHMLBA);
    CHECK_EQ("the rounded attach sees the segment", r[0], 'a');
    shmdt(r);
    char *pa = shmat(id, win + pg, 0);
    out("a page-aligned address that is not 64 KiB-aligned: %s\n",
        pa == win + pg ? "used as given" : pa == (void *)-1 ? errname(errno) : "attached elsewhere");
    if (pa != (void *)-1)
        shmdt(pa);
    /* SHM_RND down to address 0 attaches at 0 for a caller allowed below mmap_min_addr (root)
     * and fails otherwise, so only the privilege-independent SHM_REMAP cases are checked. */
    errno = 0;
    check("SHM_RND|SHM_REMAP rounding to address 0", shmat(id, (void *)100, SHM_RND | SHM_REMAP) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("SHM_REMAP without an address", shmat(id, NULL, SHM_REMAP) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));

    char *occ = mmap(win, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    REQUIRE("occupy the window", occ == win);
    occ[2 * pg] = 'k';
    errno = 0;
    check("an occupied range without SHM_REMAP", shmat(id, win, 0) == (void *)-1 && errno == EINVAL,
          "errno %s", errname(errno));
    CHECK_EQ("the occupant is untouched", occ[0], 0);
    char *re = shmat(id, win, SHM_REMAP);
    check("SHM_REMAP replaces the occupant", re == win, "errno %s", errname(errno));
    CHECK_EQ("the replaced range shows the segment", win[0], 'a');
    CHECK_EQ("the occupant's page past the segment survives", win[2 * pg], 'k');
    CHECK_OK("shmdt", shmdt(re));
    check_probe("the detached range", win, "unmapped");
    check_probe("the occupant's last page", win + 2 * pg, "rw");
    CHECK_ERR("shmdt of a private mapping", shmdt(win + 2 * pg), EINVAL);
    CHECK_ERR("shmdt of an unaligned address", shmdt(win + 1), EINVAL);
    munmap(win, (size_t)(3 * pg));
    CHECK_OK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    return check_finish();
}
