/*
 * The vDSO across fork and execve: a forked child finds the same vDSO at the same address (in
 * AT_SYSINFO_EHDR and in /proc/self/maps), calls it and returns from a handler through its
 * __kernel_rt_sigreturn; a new image (execve of this program) gets a vDSO of its own that works
 * the same way.
 */
#include "../fork/fork.h"
#include "vdso.h"

/* Every check on the vDSO of the running image, prefixed by `who`; returns the failures. */
static int use_vdso(const char *who, const Elf64_Ehdr *want_at)
{
    char what[160];
    struct vdso v;
    snprintf(what, sizeof what, "%s: AT_SYSINFO_EHDR names a vDSO", who);
    if (!check(what, vdso_open(&v), "missing or incomplete"))
        return 1;
    if (want_at) {
        snprintf(what, sizeof what, "%s: at its parent's address", who);
        check(what, v.eh == want_at, "moved");
    }
    vdso_clock_fn cgt = (vdso_clock_fn)vdso_sym(&v, "__kernel_clock_gettime", VDSO_VERSION);
    vdso_tod_fn tod = (vdso_tod_fn)vdso_sym(&v, "__kernel_gettimeofday", VDSO_VERSION);
    void *sigret = vdso_sym(&v, "__kernel_rt_sigreturn", VDSO_VERSION);
    snprintf(what, sizeof what, "%s: its symbols are found", who);
    if (!check(what, cgt && tod && sigret, "missing"))
        return 1;
    struct vdso_maps m;
    vdso_read_maps(&m);
    snprintf(what, sizeof what, "%s: /proc/self/maps shows it as [vdso] r-xp above [vvar] r--p", who);
    check(what,
          m.vdso_lines == 1 && m.vdso_start == (uintptr_t)v.eh && !strcmp(m.vdso_perms, "r-xp") &&
              m.vvar_lines == 1 && m.vvar_end == m.vdso_start && !strcmp(m.vvar_perms, "r--p"),
          "%d [vdso] lines, %d [vvar] lines", m.vdso_lines, m.vvar_lines);
    struct timespec a, b, c;
    long r1 = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
    int r2 = cgt(CLOCK_MONOTONIC, &b);
    long r3 = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
    snprintf(what, sizeof what, "%s: clock_gettime(CLOCK_MONOTONIC) through it lies between two system calls",
             who);
    check(what,
          r1 == 0 && r2 == 0 && r3 == 0 &&
              (a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec)) &&
              (b.tv_sec < c.tv_sec || (b.tv_sec == c.tv_sec && b.tv_nsec <= c.tv_nsec)),
          "results %ld %d %ld", r1, r2, r3);
    struct timeval tv;
    snprintf(what, sizeof what, "%s: gettimeofday through it", who);
    CHECK_EQ(what, tod(&tv, NULL), 0);
    snprintf(what, sizeof what, "%s: a handler without SA_RESTORER returns to __kernel_rt_sigreturn", who);
    uintptr_t lr = vdso_signal_return_address();
    check(what, lr == (uintptr_t)sigret, "%s", lr == 0 ? "handler did not run" : "returns elsewhere");
    return check_failures;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return use_vdso("new image", NULL) == 0 ? 0 : 1;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    use_vdso("parent", NULL);
    const char *path = self_exe();

    pid_t pid = fork_child();
    if (pid == 0) {
        use_vdso("forked child", eh);
        child_exit();
    }
    check_status("the forked child's checks pass", pid, "exit 0");

    pid = fork_child();
    if (pid == 0) {
        char *args[] = {argv[0], CHILD_MODE, NULL};
        execv(path, args);
        _exit(127);
    }
    check_status("the new image's checks pass", pid, "exit 0");

    pid = vfork();
    if (pid == 0) {
        char *args[] = {argv[0], CHILD_MODE, NULL};
        execv(path, args);
        _exit(127);
    }
    check_status("after vfork and execve too", pid, "exit 0");
    use_vdso("parent afterwards", eh);
    return check_finish();
}
