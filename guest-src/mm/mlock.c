/*
 * mlock, mlock2, munlock, mlockall and munlockall accept mapped memory (the contents stay), round
 * an unaligned start down, and refuse unmapped ranges with ENOMEM and unknown flags with EINVAL.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    char *p = map_anon(4);
    memset(p, 'l', (size_t)(4 * pg));
    CHECK_OK("mlock 2 pages", mlock(p, (size_t)(2 * pg)));
    CHECK_EQ("the locked pages keep their contents", p[2 * pg - 1], 'l');
    CHECK_OK("munlock them", munlock(p, (size_t)(2 * pg)));
    CHECK_OK("mlock of an unaligned start and length", mlock(p + 10, 100));
    CHECK_OK("munlock of the same", munlock(p + 10, 100));
    CHECK_OK("mlock of length 0", mlock(p, 0));
    CHECK_OK("munlock of memory that is not locked", munlock(p + 3 * pg, (size_t)pg));
    CHECK_OK("mlock2 MLOCK_ONFAULT", syscall(SYS_mlock2, p, 2 * pg, MLOCK_ONFAULT));
    CHECK_OK("munlock it", munlock(p, (size_t)(2 * pg)));
    CHECK_ERR("mlock2 with an unknown flag", syscall(SYS_mlock2, p, pg, 0x100), EINVAL);
    char *ro = map_anon(1);
    mprotect(ro, (size_t)pg, PROT_READ);
    CHECK_OK("mlock of a read-only page", mlock(ro, (size_t)pg));
    munlock(ro, (size_t)pg);

    munmap(p + pg, (size_t)pg);
    CHECK_ERR("mlock over a hole", mlock(p, (size_t)(3 * pg)), ENOMEM);
    CHECK_ERR("munlock over a hole", munlock(p, (size_t)(3 * pg)), ENOMEM);
    CHECK_ERR("mlock of an unmapped page", mlock(p + pg, (size_t)pg), ENOMEM);

    CHECK_OK("mlockall MCL_CURRENT", mlockall(MCL_CURRENT));
    CHECK_OK("munlockall", munlockall());
    CHECK_OK("mlockall MCL_CURRENT|MCL_FUTURE", mlockall(MCL_CURRENT | MCL_FUTURE));
    char *later = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("a mapping made under MCL_FUTURE", later != MAP_FAILED && later[0] == 0, "errno %s", errname(errno));
    CHECK_OK("munlockall", munlockall());
    CHECK_ERR("mlockall with no flag", mlockall(0), EINVAL);
    CHECK_ERR("mlockall MCL_ONFAULT alone", mlockall(MCL_ONFAULT), EINVAL);
    CHECK_ERR("mlockall with an unknown flag", mlockall(MCL_CURRENT | 0x100), EINVAL);
    CHECK_EQ("the contents survived", p[0] + p[2 * pg], 'l' + 'l');
    return check_finish();
}
