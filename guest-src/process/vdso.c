/*
 * The vDSO: AT_SYSINFO_EHDR names an aarch64 ELF shared object that a C library can use as
 * Linux's (one PT_LOAD, a dynamic section with a SysV hash table, symbol versions, soname
 * linux-vdso.so.1) exporting __kernel_clock_gettime, __kernel_clock_getres,
 * __kernel_gettimeofday and __kernel_rt_sigreturn at version LINUX_2.6.39. /proc/self/maps shows
 * it as [vdso] (r-xp), with [vvar] (r--p) right below. Each time function agrees with its system
 * call; a bad pointer for a clock the vDSO serves itself raises SIGSEGV, while other clocks give
 * the system call's EFAULT and EINVAL; a handler installed without SA_RESTORER returns to
 * __kernel_rt_sigreturn.
 */
#include "vdso.h"
#include <sys/mman.h>
#include <sys/wait.h>

static long long ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long us(const struct timeval *t)
{
    return (long long)t->tv_sec * 1000000LL + t->tv_usec;
}

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

/* Runs fn in a child and returns its status in words. */
static const char *in_child(int (*fn)(void *), void *arg)
{
    static char buf[64];
    pid_t pid = fork();
    if (pid < 0)
        return "fork failed";
    if (pid == 0)
        _exit(fn(arg) & 0xff);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : "another signal");
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

static vdso_clock_fn cgt, cgr;
static vdso_tod_fn tod;

/* Each returns the vDSO's result negated (an errno) when it returns at all. */
static int cgt_at(void *p)
{
    struct {
        clockid_t clock;
        void *ts;
    } *a = p;
    return -cgt(a->clock, a->ts);
}

static int cgr_at(void *p)
{
    struct {
        clockid_t clock;
        void *ts;
    } *a = p;
    return -cgr(a->clock, a->ts);
}

static int tod_at(void *p)
{
    void **a = p;
    return -tod(a[0], a[1]);
}

int main(void)
{
    struct vdso v;
    REQUIRE("AT_SYSINFO_EHDR names a vDSO with symbols, strings and a SysV hash table", vdso_open(&v));
    CHECK_EQ("the vDSO starts on a page", (uintptr_t)v.eh % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    check("it is a 64-bit little-endian aarch64 shared object",
          v.eh->e_ident[EI_CLASS] == ELFCLASS64 && v.eh->e_ident[EI_DATA] == ELFDATA2LSB &&
              v.eh->e_machine == EM_AARCH64 && v.eh->e_type == ET_DYN,
          "class %d data %d machine %d type %d", v.eh->e_ident[EI_CLASS], v.eh->e_ident[EI_DATA],
          v.eh->e_machine, v.eh->e_type);
    CHECK_EQ("one PT_LOAD", v.loads, 1);
    check("symbol versions are defined", v.versym && v.verdef, "no DT_VERSYM/DT_VERDEF");
    check("its soname is linux-vdso.so.1", v.soname && !strcmp(v.soname, "linux-vdso.so.1"), "%s",
          v.soname ? v.soname : "none");
    check("version index 2 is " VDSO_VERSION,
          vdso_version_name(&v, 2) && !strcmp(vdso_version_name(&v, 2), VDSO_VERSION), "another");

    cgt = (vdso_clock_fn)vdso_sym(&v, "__kernel_clock_gettime", VDSO_VERSION);
    cgr = (vdso_clock_fn)vdso_sym(&v, "__kernel_clock_getres", VDSO_VERSION);
    tod = (vdso_tod_fn)vdso_sym(&v, "__kernel_gettimeofday", VDSO_VERSION);
    void *sigret = vdso_sym(&v, "__kernel_rt_sigreturn", VDSO_VERSION);
    check("__kernel_clock_gettime@" VDSO_VERSION, cgt != NULL, "missing");
    check("__kernel_clock_getres@" VDSO_VERSION, cgr != NULL, "missing");
    check("__kernel_gettimeofday@" VDSO_VERSION, tod != NULL, "missing");
    check("__kernel_rt_sigreturn@" VDSO_VERSION, sigret != NULL, "missing");
    check("no symbol under another version", vdso_sym(&v, "__kernel_clock_gettime", "LINUX_2.6") == NULL,
          "found");
    REQUIRE("the time functions are present", cgt && cgr && tod);

    struct vdso_maps m;
    vdso_read_maps(&m);
    CHECK_EQ("one [vdso] line", m.vdso_lines, 1);
    check("[vdso] starts at AT_SYSINFO_EHDR and is r-xp",
          m.vdso_start == (uintptr_t)v.eh && !strcmp(m.vdso_perms, "r-xp"), "%s%s",
          m.vdso_start == (uintptr_t)v.eh ? "" : "elsewhere, ", m.vdso_perms);
    check("the functions lie in [vdso]",
          (uintptr_t)cgt >= m.vdso_start && (uintptr_t)tod < m.vdso_end && (uintptr_t)sigret < m.vdso_end,
          "outside");
    CHECK_EQ("one [vvar] line", m.vvar_lines, 1);
    check("[vvar] is r--p and ends where [vdso] starts",
          !strcmp(m.vvar_perms, "r--p") && m.vvar_end == m.vdso_start && m.vvar_start < m.vvar_end, "%s%s",
          m.vvar_perms, m.vvar_end == m.vdso_start ? "" : ", not adjacent");

    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        char what[128];
        struct timespec a, b, c;
        long r1 = syscall(SYS_clock_gettime, clocks[i].id, &a);
        int r2 = cgt(clocks[i].id, &b);
        long r3 = syscall(SYS_clock_gettime, clocks[i].id, &c);
        snprintf(what, sizeof what, "clock_gettime(%s) through the vDSO lies between two system calls",
                 clocks[i].name);
        check(what, r1 == 0 && r2 == 0 && r3 == 0 && ns(&a) <= ns(&b) && ns(&b) <= ns(&c),
              "results %ld %d %ld", r1, r2, r3);
        struct timespec ra = {-1, -1}, rb = {-2, -2};
        r1 = syscall(SYS_clock_getres, clocks[i].id, &ra);
        r2 = cgr(clocks[i].id, &rb);
        snprintf(what, sizeof what, "clock_getres(%s) through the vDSO equals the system call", clocks[i].name);
        check(what, r1 == 0 && r2 == 0 && ns(&ra) == ns(&rb), "results %ld %d", r1, r2);
    }
    CHECK_EQ("clock_getres with a NULL result", cgr(CLOCK_MONOTONIC, NULL), 0);
    struct timespec t;
    CHECK_EQ("clock_gettime(12), not a clock: -EINVAL", cgt(12, &t), -EINVAL);
    CHECK_EQ("clock_gettime(1000): -EINVAL", cgt(1000, &t), -EINVAL);
    CHECK_EQ("clock_getres(1000): -EINVAL", cgr(1000, &t), -EINVAL);

    struct timeval ta, tb, tc;
    struct timezone za = {-1, -1}, zb = {-2, -2};
    long r1 = syscall(SYS_gettimeofday, &ta, &za);
    int r2 = tod(&tb, &zb);
    long r3 = syscall(SYS_gettimeofday, &tc, NULL);
    check("gettimeofday through the vDSO lies between two system calls",
          r1 == 0 && r2 == 0 && r3 == 0 && us(&ta) <= us(&tb) && us(&tb) <= us(&tc), "results %ld %d %ld",
          r1, r2, r3);
    check("its timezone equals the system call's",
          za.tz_minuteswest == zb.tz_minuteswest && za.tz_dsttime == zb.tz_dsttime, "differs");
    CHECK_EQ("gettimeofday(NULL, NULL)", tod(NULL, NULL), 0);

    struct timespec lt;
    CHECK_OK("the C library's clock_gettime", clock_gettime(CLOCK_MONOTONIC, &lt));
    struct timeval ltv;
    CHECK_OK("the C library's gettimeofday", gettimeofday(&ltv, NULL));

    /* Bad pointers: the vDSO writes them from user space; clocks it does not serve fall back. */
    char *ro = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("map a read-only page", ro != MAP_FAILED);
    struct {
        clockid_t clock;
        void *ts;
    } bad_mono = {CLOCK_MONOTONIC, (void *)8}, ro_real = {CLOCK_REALTIME, ro},
      bad_cpu = {CLOCK_PROCESS_CPUTIME_ID, (void *)8}, bad_invalid = {1000, (void *)8},
      bad_coarse = {CLOCK_MONOTONIC_COARSE, (void *)8};
    const char *st;
    st = in_child(cgt_at, &bad_mono);
    check("clock_gettime(CLOCK_MONOTONIC, bad) through the vDSO: SIGSEGV", !strcmp(st, "killed by SIGSEGV"),
          "%s", st);
    st = in_child(cgt_at, &ro_real);
    check("clock_gettime(CLOCK_REALTIME, read-only) through the vDSO: SIGSEGV",
          !strcmp(st, "killed by SIGSEGV"), "%s", st);
    int untouched = 1;
    for (int i = 0; i < 16; i++)
        untouched &= ro[i] == 0;
    check("the read-only page is unchanged", untouched, "written");
    st = in_child(cgr_at, &bad_coarse);
    check("clock_getres(CLOCK_MONOTONIC_COARSE, bad) through the vDSO: SIGSEGV",
          !strcmp(st, "killed by SIGSEGV"), "%s", st);
    st = in_child(cgt_at, &bad_cpu);
    check("clock_gettime(CLOCK_PROCESS_CPUTIME_ID, bad) through the vDSO: EFAULT", !strcmp(st, "exit 14"), "%s",
          st);
    st = in_child(cgr_at, &bad_cpu);
    check("clock_getres(CLOCK_PROCESS_CPUTIME_ID, bad) through the vDSO: EFAULT", !strcmp(st, "exit 14"), "%s",
          st);
    st = in_child(cgt_at, &bad_invalid);
    check("clock_gettime(1000, bad) through the vDSO: EINVAL", !strcmp(st, "exit 22"), "%s", st);
    void *tod_bad_tv[2] = {(void *)8, NULL}, *tod_bad_tz[2] = {NULL, (void *)8};
    st = in_child(tod_at, tod_bad_tv);
    check("gettimeofday(bad, NULL) through the vDSO: SIGSEGV", !strcmp(st, "killed by SIGSEGV"), "%s", st);
    st = in_child(tod_at, tod_bad_tz);
    check("gettimeofday(NULL, bad) through the vDSO: SIGSEGV", !strcmp(st, "killed by SIGSEGV"), "%s", st);

    uintptr_t lr = vdso_signal_return_address();
    check("a handler without SA_RESTORER returns to __kernel_rt_sigreturn", lr == (uintptr_t)sigret,
          "%s", lr == 0 ? "handler did not run" : "returns elsewhere");
    CHECK_EQ("and the program goes on after it", vdso_handler_runs, 1);
    return check_finish();
}
