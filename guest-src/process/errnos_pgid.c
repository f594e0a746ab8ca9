/*
 * setpgid, getpgid and getsid with pids that name no process, as Linux's kernel/sys.c answers:
 * setpgid reads pid 0 as the caller and pgid 0 as the pid before it refuses a negative pgid
 * (EINVAL), and only then looks the pid up (ESRCH); getpgid and getsid find no negative pid.
 */
#include "check.h"

#include <sys/syscall.h>

static long sys2(long nr, long a, long b)
{
    return syscall(nr, a, b);
}

int main(void)
{
    CHECK_ERR("setpgid(-9, 0): the pgid is the pid, negative: EINVAL",
              sys2(SYS_setpgid, -9, 0), EINVAL);
    CHECK_ERR("setpgid(-9, 5): no such process: ESRCH", sys2(SYS_setpgid, -9, 5), ESRCH);
    CHECK_ERR("setpgid(-9, -1): EINVAL", sys2(SYS_setpgid, -9, -1), EINVAL);
    CHECK_ERR("setpgid(0, -1): EINVAL", sys2(SYS_setpgid, 0, -1), EINVAL);
    CHECK_ERR("setpgid(INT_MIN, 0): EINVAL", sys2(SYS_setpgid, -2147483647 - 1, 0), EINVAL);
    CHECK_ERR("setpgid of an unused pid: ESRCH", sys2(SYS_setpgid, 4194304 + 7, 0), ESRCH);
    CHECK_ERR("getpgid(-9): ESRCH", sys2(SYS_getpgid, -9, 0), ESRCH);
    CHECK_ERR("getsid(-9): ESRCH", sys2(SYS_getsid, -9, 0), ESRCH);
    CHECK_EQ("getpgid(0) is getpgrp()", sys2(SYS_getpgid, 0, 0), getpgrp());
    CHECK_OK("setpgid(0, 0)", sys2(SYS_setpgid, 0, 0));
    CHECK_EQ("the caller leads its group", getpgrp(), getpid());
    return check_finish();
}
