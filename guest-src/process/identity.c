/* Process identity and time: pids, uname, clocks and sleeping. */
#include "check.h"
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

int main(void)
{
    pid_t pid = getpid();
    check("getpid is positive", pid > 0, "got %d", pid);
    check("getppid differs from getpid", getppid() != pid, "same");
    CHECK_EQ("gettid equals getpid in the main thread", syscall(SYS_gettid), pid);
    CHECK_EQ("getuid equals geteuid", getuid(), geteuid());

    struct utsname u;
    CHECK_OK("uname", uname(&u));
    check("uname sysname", strcmp(u.sysname, "Linux") == 0, "got \"%s\"", u.sysname);
    check("uname machine", strcmp(u.machine, "aarch64") == 0, "got \"%s\"", u.machine);

    struct timespec a, b, r;
    CHECK_OK("clock_gettime MONOTONIC", clock_gettime(CLOCK_MONOTONIC, &a));
    struct timespec nap = {0, 2000000};
    CHECK_OK("nanosleep 2 ms", nanosleep(&nap, NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    check("monotonic clock advanced by at least the sleep", ns >= 2000000, "advanced %lld ns", ns);
    CHECK_OK("clock_getres MONOTONIC", clock_getres(CLOCK_MONOTONIC, &r));
    check("clock resolution at most 1 ms", r.tv_sec == 0 && r.tv_nsec <= 1000000, "too coarse");
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    check("realtime clock is past 2020", rt.tv_sec > 1577836800, "got %lld", (long long)rt.tv_sec);
    struct timespec bad = {0, 1000000000};
    CHECK_ERR("nanosleep rejects tv_nsec of 1e9", nanosleep(&bad, NULL), EINVAL);
    return check_finish();
}
