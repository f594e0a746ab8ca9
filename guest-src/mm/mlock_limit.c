/*
 * An unprivileged process may lock no more than RLIMIT_MEMLOCK: mlock and mlock2 count the pages
 * not yet locked (ENOMEM past the limit), mmap(MAP_LOCKED), mappings under mlockall(MCL_FUTURE)
 * and mremap growth of a locked mapping say EAGAIN, mlockall(MCL_CURRENT) needs every mapped
 * page under the limit, and a zero limit refuses every lock with EPERM. The case drops root
 * first, so it runs unprivileged whoever starts it.
 */
#include "mm.h"
#include <sys/resource.h>

static void set_memlock(rlim_t cur, rlim_t max)
{
    struct rlimit rl = {cur, max};
    NEED("setrlimit RLIMIT_MEMLOCK", setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
}

/* The raw call: musl's mmap turns an EPERM for anonymous memory into ENOMEM. */
static char *map_flags(long pages, int flags)
{
    return (char *)syscall(SYS_mmap, NULL, (size_t)(pages * pg), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

static int resident(char *p, long pages)
{
    unsigned char vec[32];
    if (pages > 32 || mincore(p, (size_t)(pages * pg), vec) != 0)
        return 0;
    for (long i = 0; i < pages; i++)
        if (!(vec[i] & 1))
            return 0;
    return 1;
}

int main(void)
{
    mm_init();
    if (geteuid() == 0)
        NEED("drop root", setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
    set_memlock((rlim_t)(16 * pg), (rlim_t)(16 * pg));
    char *p = map_anon(32);

    CHECK_OK("mlock 8 pages under a 16-page limit", mlock(p, (size_t)(8 * pg)));
    CHECK_OK("mlock of the same 8 pages again", mlock(p, (size_t)(8 * pg)));
    CHECK_ERR("mlock of 12 more pages", mlock(p + 8 * pg, (size_t)(12 * pg)), ENOMEM);
    CHECK_OK("mlock of 8 more pages, up to the limit", mlock(p + 8 * pg, (size_t)(8 * pg)));
    CHECK_OK("mlock over locked pages only", mlock(p + 4 * pg, (size_t)(8 * pg)));
    CHECK_ERR("mlock of one page past the limit", mlock(p + 16 * pg, (size_t)pg), ENOMEM);
    CHECK_ERR("mlock2 MLOCK_ONFAULT of one page past the limit",
              syscall(SYS_mlock2, p + 16 * pg, pg, MLOCK_ONFAULT), ENOMEM);
    CHECK_ERR("mmap MAP_LOCKED of one page past the limit", (long)map_flags(1, MAP_LOCKED), EAGAIN);
    CHECK_ERR("mlockall MCL_CURRENT with more mapped than the limit", mlockall(MCL_CURRENT),
              ENOMEM);
    CHECK_OK("munlock of 4 pages", munlock(p, (size_t)(4 * pg)));
    CHECK_OK("mlock of 4 other pages in their place", mlock(p + 16 * pg, (size_t)(4 * pg)));
    CHECK_OK("munlock of everything", munlock(p, (size_t)(32 * pg)));

    char *q = map_flags(4, MAP_LOCKED);
    CHECK_OK("mmap MAP_LOCKED under the limit", (long)q);
    CHECK_EQ("its pages are present", resident(q, 4), 1);
    CHECK_ERR("mremap growing it past the limit", (long)mremap(q, (size_t)(4 * pg), (size_t)(20 * pg), MREMAP_MAYMOVE), EAGAIN);
    char *q2 = mremap(q, (size_t)(4 * pg), (size_t)(8 * pg), MREMAP_MAYMOVE);
    CHECK_OK("mremap growing it within the limit", (long)q2);
    CHECK_ERR("mlock of 12 pages while it is mapped", mlock(p, (size_t)(12 * pg)), ENOMEM);
    munmap(q2 == MAP_FAILED ? q : q2, (size_t)(8 * pg));
    CHECK_OK("mlock of 12 pages once it is unmapped", mlock(p, (size_t)(12 * pg)));
    CHECK_OK("munlock of them", munlock(p, (size_t)(12 * pg)));

    CHECK_OK("mlockall MCL_FUTURE under a limit", mlockall(MCL_FUTURE));
    CHECK_ERR("a mapping past the limit under MCL_FUTURE", (long)map_flags(20, 0), EAGAIN);
    char *f = map_flags(4, 0);
    CHECK_OK("a mapping within the limit under MCL_FUTURE", (long)f);
    CHECK_EQ("its pages are present", resident(f, 4), 1);
    CHECK_OK("munlockall", munlockall());

    set_memlock(0, (rlim_t)(16 * pg));
    CHECK_ERR("mlock with a zero limit", mlock(p, (size_t)pg), EPERM);
    CHECK_ERR("mlock2 with a zero limit", syscall(SYS_mlock2, p, pg, MLOCK_ONFAULT), EPERM);
    CHECK_ERR("mmap MAP_LOCKED with a zero limit", (long)map_flags(1, MAP_LOCKED), EPERM);
    CHECK_ERR("mlockall with a zero limit", mlockall(MCL_FUTURE), EPERM);
    CHECK_OK("munlock with a zero limit", munlock(p, (size_t)pg));
    CHECK_OK("munlockall with a zero limit", munlockall());
    CHECK_OK("an unlocked mapping with a zero limit", (long)map_flags(1, 0));
    return check_finish();
}
