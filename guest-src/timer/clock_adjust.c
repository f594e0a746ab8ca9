/*
 * Reading the clock's adjustment state (adjtimex and clock_adjtime with modes 0, and the
 * read-only single-shot offset) and the argument checks of adjtimex, clock_adjtime,
 * clock_settime and settimeofday that come before any privilege check. Nothing here changes
 * the clock: every call that would is malformed.
 */
#include "../include/check.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

int main(void)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    long state = syscall(SYS_adjtimex, &tx);
    CHECK_EQ("adjtimex(modes 0) answers a clock state", state >= 0 && state <= 5, 1);
    CHECK_EQ("and fills the tick", tx.tick > 0, 1);
    memset(&tx, 0, sizeof tx);
    state = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx);
    CHECK_EQ("clock_adjtime(CLOCK_REALTIME, modes 0)", state >= 0 && state <= 5, 1);
    CHECK_EQ("fills the tick", tx.tick > 0, 1);
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET_SS_READ;
    state = syscall(SYS_adjtimex, &tx);
    CHECK_EQ("the read-only single-shot offset", state >= 0 && state <= 5, 1);
    memset(&tx, 0, sizeof tx);
    tx.modes = 0x8000;
    CHECK_ERR("ADJ_ADJTIME without the single-shot bit", syscall(SYS_adjtimex, &tx), EINVAL);
    CHECK_ERR("adjtimex of a bad pointer", syscall(SYS_adjtimex, 16), EFAULT);
    CHECK_ERR("clock_adjtime(CLOCK_MONOTONIC)", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx),
              EOPNOTSUPP);
    CHECK_ERR("clock_adjtime(CLOCK_MONOTONIC) with a bad pointer",
              syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, 16), EFAULT);
    CHECK_ERR("clock_adjtime of clock 99 with a bad pointer", syscall(SYS_clock_adjtime, 99, 16),
              EFAULT);
    CHECK_ERR("clock_adjtime of clock 99", syscall(SYS_clock_adjtime, 99, &tx), EINVAL);

    struct timespec ts = { 0, 0 };
    CHECK_ERR("clock_settime(CLOCK_MONOTONIC)", syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts),
              EINVAL);
    CHECK_ERR("clock_settime(CLOCK_BOOTTIME)", syscall(SYS_clock_settime, CLOCK_BOOTTIME, &ts),
              EINVAL);
    CHECK_ERR("clock_settime of clock 99", syscall(SYS_clock_settime, 99, &ts), EINVAL);
    CHECK_ERR("clock_settime from a bad pointer", syscall(SYS_clock_settime, CLOCK_REALTIME, 16),
              EFAULT);
    ts.tv_nsec = 1000000000;
    CHECK_ERR("clock_settime with nsec 1e9", syscall(SYS_clock_settime, CLOCK_REALTIME, &ts),
              EINVAL);
    ts.tv_sec = -1;
    ts.tv_nsec = 0;
    CHECK_ERR("clock_settime with a negative time", syscall(SYS_clock_settime, CLOCK_REALTIME, &ts),
              EINVAL);
    struct timeval tv = { 0, 1000000 };
    CHECK_ERR("settimeofday with usec 1e6", syscall(SYS_settimeofday, &tv, NULL), EINVAL);
    tv.tv_usec = -1;
    CHECK_ERR("settimeofday with usec -1", syscall(SYS_settimeofday, &tv, NULL), EINVAL);
    CHECK_ERR("settimeofday from a bad pointer", syscall(SYS_settimeofday, 16, NULL), EFAULT);

    struct timespec res;
    static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                        CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW,
                                        CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                                        CLOCK_BOOTTIME, CLOCK_TAI };
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "clock_getres of clock %d", (int)clocks[i]);
        CHECK_OK(name, syscall(SYS_clock_getres, clocks[i], &res));
    }
    CHECK_ERR("clock_getres of clock 12", syscall(SYS_clock_getres, 12, &res), EINVAL);
    return check_finish();
}
