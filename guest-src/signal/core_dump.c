/*
 * A death by a core-dumping signal sets the core bit of the wait status (WCOREDUMP, and
 * CLD_DUMPED from waitid) exactly when a core file is written: RLIMIT_CORE large enough, the
 * process dumpable and its working directory writable. A zero limit, PR_SET_DUMPABLE 0 or a
 * signal that only terminates leave neither. PR_SET_DUMPABLE takes 0 and 1 only.
 */
#include "../fork/fork.h"
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

enum setup { LIMIT_ZERO, LIMIT_MAX, NOT_DUMPABLE };

/* A child that works in `dir`, prepares `how` and sends itself `sig` (default action). */
static pid_t dying_child(const char *dir, enum setup how, int sig)
{
    pid_t pid = fork_child();
    if (pid != 0)
        return pid;
    if (chdir(dir) != 0)
        _exit(90);
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = how == LIMIT_ZERO ? 0 : rl.rlim_max;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        _exit(91);
    if (how == NOT_DUMPABLE && prctl(PR_SET_DUMPABLE, 0) != 0)
        _exit(92);
    signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    kill(getpid(), sig);
    _exit(0);
}

/* How many files named core* the directory holds; removes them. */
static int take_cores(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "core", 4) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
        n++;
    }
    closedir(d);
    return n;
}

static void death(const char *what, enum setup how, int sig, int want_core)
{
    char name[128];
    pid_t pid = dying_child("cores", how, sig);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
    while (r < 0 && errno == EINTR);
    int st;
    pid_t w = wait_for(pid, &st, 0);
    snprintf(name, sizeof name, "%s: reaped", what);
    CHECK_EQ(name, w == pid && r == 0, 1);
    snprintf(name, sizeof name, "%s: %s", what, status_text(st));
    check(name, WIFSIGNALED(st) && WTERMSIG(st) == sig, "wrong signal");
    snprintf(name, sizeof name, "%s: WCOREDUMP", what);
    CHECK_EQ(name, WIFSIGNALED(st) && WCOREDUMP(st) ? 1 : 0, want_core);
    snprintf(name, sizeof name, "%s: waitid si_code", what);
    CHECK_EQ(name, si.si_code, want_core ? CLD_DUMPED : CLD_KILLED);
    snprintf(name, sizeof name, "%s: core files", what);
    CHECK_EQ(name, take_cores("cores"), want_core);
}

int main(void)
{
    NEED("a directory for the cores", mkdir("cores", 0777) == 0);
    CHECK_EQ("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    CHECK_ERR("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL);
    death("SIGQUIT with RLIMIT_CORE 0", LIMIT_ZERO, SIGQUIT, 0);
    death("SIGQUIT with RLIMIT_CORE at its maximum", LIMIT_MAX, SIGQUIT, 1);
    death("SIGSEGV with RLIMIT_CORE at its maximum", LIMIT_MAX, SIGSEGV, 1);
    death("SIGABRT after PR_SET_DUMPABLE 0", NOT_DUMPABLE, SIGABRT, 0);
    death("SIGTERM with RLIMIT_CORE at its maximum", LIMIT_MAX, SIGTERM, 0);
    rmdir("cores");
    return check_finish();
}
