/*
 * clock_gettime of every clock id, through the C library (the vDSO where it has one) and the
 * system call: REALTIME, MONOTONIC, PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID, MONOTONIC_RAW, the
 * COARSE clocks, BOOTTIME and TAI answer with a normalised time; the ids Linux has no clock for
 * (10, 12 and up, a CPU clock of no process) are EINVAL. Invariants only: monotonic clocks never
 * go back, BOOTTIME is never behind MONOTONIC, TAI never behind REALTIME, time() and
 * gettimeofday() agree with REALTIME.
 */
#include "check.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#ifndef CLOCK_TAI
#define CLOCK_TAI 11
#endif

static long long ns(struct timespec t)
{
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int normal(struct timespec t)
{
    return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000L;
}

int main(void)
{
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME"},
        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
        {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
        {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
        {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
        {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
        {CLOCK_TAI, "CLOCK_TAI"},
    };
    char name[128];
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec a = {-1, -1}, b = {-1, -1};
        int r1 = clock_gettime(clocks[i].id, &a);
        long r2 = syscall(SYS_clock_gettime, clocks[i].id, &b);
        snprintf(name, sizeof name, "%s through libc and the system call", clocks[i].name);
        check(name, r1 == 0 && r2 == 0 && normal(a) && normal(b), "r %d %ld", r1, r2);
        if (clocks[i].id != CLOCK_REALTIME && clocks[i].id != CLOCK_REALTIME_COARSE &&
            clocks[i].id != CLOCK_TAI) {
            /* a monotonic clock: a later reading is never earlier (the coarse one may equal) */
            int back = 0;
            struct timespec prev = b, cur;
            for (int k = 0; k < 2000; k++) {
                if (clock_gettime(clocks[i].id, &cur) != 0 || ns(cur) < ns(prev))
                    back = 1;
                prev = cur;
            }
            snprintf(name, sizeof name, "%s never goes back over 2000 readings", clocks[i].name);
            check(name, !back, "it went back");
        }
    }

    struct timespec mono, boot, real, tai;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    CHECK_EQ("BOOTTIME read after MONOTONIC is not behind it", ns(boot) >= ns(mono), 1);
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_TAI, &tai);
    CHECK_EQ("TAI read after REALTIME is not behind it", ns(tai) >= ns(real), 1);
    CHECK_EQ("REALTIME is after 2020", real.tv_sec > 1577836800, 1);
    time_t t = time(NULL);
    /* glibc's time() reads CLOCK_REALTIME_COARSE, which may be a tick behind. */
    CHECK_EQ("time() agrees with REALTIME", t >= real.tv_sec - 1 && t <= real.tv_sec + 60, 1);
    struct timeval tv;
    CHECK_OK("gettimeofday", gettimeofday(&tv, NULL));
    CHECK_EQ("gettimeofday agrees with REALTIME",
             tv.tv_sec >= real.tv_sec && tv.tv_sec <= real.tv_sec + 60 && tv.tv_usec < 1000000, 1);
    struct timespec coarse;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    CHECK_EQ("MONOTONIC_COARSE is not ahead of MONOTONIC read after it", ns(coarse) <= ns(mono), 1);

    struct timespec x;
    CHECK_ERR("clock 10 (no such clock)", syscall(SYS_clock_gettime, 10, &x), EINVAL);
    CHECK_ERR("clock 12", syscall(SYS_clock_gettime, 12, &x), EINVAL);
    CHECK_ERR("clock 16", syscall(SYS_clock_gettime, 16, &x), EINVAL);
    CHECK_ERR("clock 1000", syscall(SYS_clock_gettime, 1000, &x), EINVAL);
    /* A CPU clock id: ~pid << 3 | type; pid 5000000 is past PID_MAX_LIMIT. */
    clockid_t nobody = (clockid_t)((~5000000U << 3) | 2);
    CHECK_ERR("the CPU clock of no process", syscall(SYS_clock_gettime, nobody, &x), EINVAL);
    CHECK_ERR("clock_gettime into unwritable memory",
              syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (struct timespec *)8), EFAULT);
    CHECK_ERR("clock_gettime of clock 12 into unwritable memory (the clock first)",
              syscall(SYS_clock_gettime, 12, (struct timespec *)8), EINVAL);
    return check_finish();
}
