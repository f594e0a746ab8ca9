/*
 * Scheduling and accounting calls on the process and on one of its threads: policies and
 * parameters (sched_*), affinity (one CPU, then back), priorities (getpriority/setpriority on a
 * thread, by its tid), getcpu, getrusage, times, and capget/capset with their version
 * handshake; each with its argument errors. Raw system calls throughout (musl stubs some of
 * these with ENOSYS).
 */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>

/* linux/capability.h, which not every libc's headers carry. */
#define CAP_VERSION_3 0x20080522
struct cap_header {
    unsigned version;
    int pid;
};
struct cap_data {
    unsigned effective, permitted, inheritable;
};

static int ready[2], release[2];
static volatile long thread_tid;

static void *sleeper(void *arg)
{
    (void)arg;
    thread_tid = syscall(SYS_gettid);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1)
        return NULL;
    if (read(release[0], &c, 1) != 1)
        return NULL;
    return NULL;
}

int main(void)
{
    struct sched_param sp = {0};
    CHECK_EQ("sched_getscheduler: SCHED_OTHER", syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
    sp.sched_priority = -1;
    CHECK_OK("sched_getparam", syscall(SYS_sched_getparam, 0, &sp));
    CHECK_EQ("its priority", sp.sched_priority, 0);
    CHECK_EQ("SCHED_FIFO's highest priority", syscall(SYS_sched_get_priority_max, SCHED_FIFO), 99);
    CHECK_EQ("SCHED_FIFO's lowest priority", syscall(SYS_sched_get_priority_min, SCHED_FIFO), 1);
    CHECK_EQ("SCHED_OTHER's highest priority", syscall(SYS_sched_get_priority_max, SCHED_OTHER), 0);
    CHECK_ERR("a priority bound of an unknown policy", syscall(SYS_sched_get_priority_max, 77),
              EINVAL);
    sp.sched_priority = 0;
    CHECK_OK("sched_setscheduler SCHED_BATCH", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp));
    CHECK_EQ("sched_getscheduler: SCHED_BATCH", syscall(SYS_sched_getscheduler, 0), SCHED_BATCH);
    CHECK_OK("sched_setscheduler SCHED_OTHER", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    CHECK_ERR("sched_setscheduler of an unknown policy",
              syscall(SYS_sched_setscheduler, 0, 77, &sp), EINVAL);
    CHECK_ERR("sched_setscheduler without a parameter",
              syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
    CHECK_ERR("sched_setscheduler with an unreadable parameter",
              syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8), EFAULT);
    CHECK_ERR("sched_getparam of a negative pid", syscall(SYS_sched_getparam, -1, &sp), EINVAL);
    CHECK_ERR("sched_getscheduler of a process that does not exist",
              syscall(SYS_sched_getscheduler, 0x3ffffff0), ESRCH);
    struct timespec rr;
    CHECK_OK("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0, &rr));

    cpu_set_t all, one, now;
    CPU_ZERO(&all);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof all, &all);
    check("sched_getaffinity returns whole longs", n > 0 && n % 8 == 0, "returned %ld", n);
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all))
            first = c;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK_OK("sched_setaffinity to one CPU", syscall(SYS_sched_setaffinity, 0, sizeof one, &one));
    CPU_ZERO(&now);
    syscall(SYS_sched_getaffinity, 0, sizeof now, &now);
    CHECK_EQ("the mask is that CPU", CPU_EQUAL(&now, &one), 1);
    unsigned cpu = 99, node = 99;
    CHECK_OK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
    CHECK_EQ("getcpu runs on that CPU", cpu, (unsigned)first);
    CHECK_EQ("on node 0", node, 0);
    CHECK_OK("sched_setaffinity back", syscall(SYS_sched_setaffinity, 0, sizeof all, &all));
    CHECK_ERR("sched_getaffinity of a length not in longs", syscall(SYS_sched_getaffinity, 0, 12, &now),
              EINVAL);
    CHECK_ERR("sched_setaffinity from unreadable memory",
              syscall(SYS_sched_setaffinity, 0, sizeof all, (void *)8), EFAULT);

    /* A thread, named by its tid. */
    NEED("pipes", pipe(ready) == 0 && pipe(release) == 0);
    pthread_t t;
    NEED("pthread_create", pthread_create(&t, NULL, sleeper, NULL) == 0);
    char c;
    NEED("the thread is ready", read(ready[0], &c, 1) == 1);
    long tid = thread_tid;
    long mine = syscall(SYS_getpriority, PRIO_PROCESS, 0);
    long theirs = syscall(SYS_getpriority, PRIO_PROCESS, tid);
    CHECK_EQ("getpriority of the thread equals ours", theirs, mine);
    CHECK_OK("setpriority of the thread, 2 nicer",
             syscall(SYS_setpriority, PRIO_PROCESS, tid, 20 - theirs + 2));
    CHECK_EQ("getpriority of the thread moved by 2", syscall(SYS_getpriority, PRIO_PROCESS, tid),
             theirs - 2);
    CHECK_EQ("ours did not move", syscall(SYS_getpriority, PRIO_PROCESS, 0), mine);
    CHECK_EQ("sched_getscheduler of the thread", syscall(SYS_sched_getscheduler, tid), SCHED_OTHER);
    CPU_ZERO(&now);
    CHECK_OK("sched_getaffinity of the thread", syscall(SYS_sched_getaffinity, tid, sizeof now, &now));
    CHECK_ERR("getpriority with an unknown which", syscall(SYS_getpriority, 7, 0), EINVAL);
    NEED("release the thread", write(release[1], "x", 1) == 1);
    pthread_join(t, NULL);

    struct rusage ru;
    CHECK_OK("getrusage RUSAGE_SELF", syscall(SYS_getrusage, RUSAGE_SELF, &ru));
    check("ru_maxrss is set", ru.ru_maxrss > 0, "%ld", ru.ru_maxrss);
    CHECK_OK("getrusage RUSAGE_THREAD", syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
    CHECK_OK("getrusage RUSAGE_CHILDREN", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    CHECK_ERR("getrusage of an unknown who", syscall(SYS_getrusage, 5, &ru), EINVAL);
    CHECK_ERR("getrusage into unwritable memory", syscall(SYS_getrusage, RUSAGE_SELF, (void *)8),
              EFAULT);
    struct tms tm;
    CHECK_OK("times", syscall(SYS_times, &tm));
    CHECK_OK("times without a buffer", syscall(SYS_times, NULL));
    CHECK_ERR("times into unwritable memory", syscall(SYS_times, (void *)8), EFAULT);

    struct cap_header hdr = {CAP_VERSION_3, 0};
    struct cap_data data[2];
    memset(data, 0, sizeof data);
    CHECK_OK("capget v3", syscall(SYS_capget, &hdr, data));
    CHECK_EQ("effective is within permitted",
             (data[0].effective & ~data[0].permitted) | (data[1].effective & ~data[1].permitted), 0);
    CHECK_OK("capset of the same sets", syscall(SYS_capset, &hdr, data));
    hdr.version = 0x1234;
    CHECK_OK("capget of an unknown version without data", syscall(SYS_capget, &hdr, NULL));
    CHECK_EQ("the kernel names its version", hdr.version, CAP_VERSION_3);
    hdr.version = 0x1234;
    CHECK_ERR("capget of an unknown version with data", syscall(SYS_capget, &hdr, data), EINVAL);
    CHECK_EQ("and names its version", hdr.version, CAP_VERSION_3);
    hdr.pid = (int)syscall(SYS_gettid);
    CHECK_OK("capget of our own tid", syscall(SYS_capget, &hdr, data));
    hdr.pid = 0x3ffffff0;
    CHECK_ERR("capget of a process that does not exist", syscall(SYS_capget, &hdr, data), ESRCH);
    CHECK_ERR("capget of an unreadable header", syscall(SYS_capget, (void *)8, data), EFAULT);
    return check_finish();
}
