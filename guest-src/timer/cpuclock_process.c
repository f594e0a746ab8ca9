/*
 * The CPU clock of another process (clock_getcpuclockid): it reads the child's CPU time, which
 * grows while the child runs and not while it sleeps; a clock of one's own pid counts like
 * CLOCK_PROCESS_CPUTIME_ID; once the child is reaped its clock is EINVAL; clock_getres of a CPU
 * clock, and EINVAL for the CPU clock of no process.
 */
#include "../fork/fork.h"
#include <sys/syscall.h>
#include <time.h>

static long long ns(struct timespec t)
{
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long cpu_ns(clockid_t c)
{
    struct timespec t;
    return clock_gettime(c, &t) == 0 ? ns(t) : -1;
}

int main(void)
{
    struct turns t;
    turns_open(&t);
    pid_t child = fork_child();
    if (child == 0) {
        /* Spin until 50 ms of CPU time are used, then report and sleep on the pipe. */
        volatile unsigned long spin = 0;
        while (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) < 50000000LL)
            spin++;
        pass_to_parent(&t);
        wait_for_parent(&t);
        _exit(0);
    }
    clockid_t c;
    CHECK_EQ("clock_getcpuclockid of the child", clock_getcpuclockid(child, &c), 0);
    wait_for_child(&t);
    long long used = cpu_ns(c);
    CHECK_EQ("its clock shows at least the 50 ms it spun", used >= 50000000LL, 1);
    struct timespec res;
    CHECK_OK("clock_getres of its clock", clock_getres(c, &res));
    CHECK_EQ("a resolution of 1 ns", res.tv_sec == 0 && res.tv_nsec == 1, 1);
    /* It is blocked reading the pipe now: its clock stands still while ours moves on. */
    long long mine0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spin = 0;
    while (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) < mine0 + 20000000LL)
        spin++;
    long long later = cpu_ns(c);
    CHECK_EQ("a blocked child's clock stands nearly still while we spin 20 ms",
             later >= used && later - used < 20000000LL, 1);
    pass_to_child(&t);
    check_status("the child", child, "exit 0");
    struct timespec x;
    CHECK_ERR("the clock of a reaped child", clock_gettime(c, &x), EINVAL);

    clockid_t self;
    CHECK_EQ("clock_getcpuclockid of our own pid", clock_getcpuclockid(getpid(), &self), 0);
    long long a = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), b = cpu_ns(self);
    long long a2 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    CHECK_EQ("it reads like CLOCK_PROCESS_CPUTIME_ID", a <= b && b <= a2, 1);
    /* The kernel's answer for a process that does not exist (the C libraries turn it into
     * different errors): pid 5000000 is past PID_MAX_LIMIT. */
    clockid_t nobody = (clockid_t)((~5000000U << 3) | 2);
    CHECK_ERR("clock_getres of the CPU clock of no process", syscall(SYS_clock_getres, nobody, &x),
              EINVAL);
    return check_finish();
}
