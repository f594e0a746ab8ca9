/*
 * Credentials: getresuid/getresgid agree with getuid/geteuid/getgid/getegid; "change nothing"
 * calls succeed; getgroups counts. In a forked child that gives up what it can (as root: every
 * group and uid 65534), becoming root again is refused with EPERM, and a second thread — blocked
 * in a read while the first changed its ids — has the same effective uid: the C library makes
 * every thread change, since the kernel keeps credentials per thread. Prints no id.
 */
#include "../fork/fork.h"
#include <grp.h>
#include <pthread.h>
#include <sys/syscall.h>

static int p[2];
static volatile long thread_euid = -1;

static void *reader(void *arg)
{
    (void)arg;
    char c;
    /* Blocked here while the main thread changes its ids. */
    if (read(p[0], &c, 1) != 1)
        return NULL;
    thread_euid = (long)syscall(SYS_geteuid);
    return NULL;
}

int main(void)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    CHECK_OK("getresuid", getresuid(&ru, &eu, &su));
    check("getresuid agrees with getuid and geteuid", ru == getuid() && eu == geteuid(),
          "they differ");
    CHECK_OK("getresgid", getresgid(&rg, &eg, &sg));
    check("getresgid agrees with getgid and getegid", rg == getgid() && eg == getegid(),
          "they differ");
    CHECK_OK("setresuid(-1, -1, -1) changes nothing", setresuid(-1, -1, -1));
    CHECK_OK("setresgid(-1, -1, -1) changes nothing", setresgid(-1, -1, -1));
    CHECK_OK("setuid to the real uid", setuid(getuid()));
    int n = getgroups(0, NULL);
    check("getgroups(0, NULL) counts the groups", n >= 0, "returned %d", n);
    gid_t groups[256];
    int m = n <= 256 ? getgroups(n, groups) : n;
    CHECK_EQ("getgroups fills as many as it counted", m, n);
    if (n > 0)
        CHECK_ERR("getgroups with too small a list: EINVAL", getgroups(n - 1, groups), EINVAL);
    else
        check("getgroups with too small a list: EINVAL", 1, "%s", "no groups to list");

    REQUIRE("pipe", pipe(p) == 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, reader, NULL) != 0)
            _exit(2);
        if (geteuid() == 0) {
            /* Give up root: no supplementary groups, gid and uid 65534. */
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
                _exit(3);
        }
        CHECK_ERR("child: setuid(0) after giving up root: EPERM", setuid(0), EPERM);
        CHECK_ERR("child: setresuid(0, 0, 0) too", setresuid(0, 0, 0), EPERM);
        long main_euid = (long)geteuid();
        if (write(p[1], "x", 1) != 1)
            _exit(4);
        pthread_join(t, NULL);
        check("child: the thread that was blocked has the same euid", thread_euid == main_euid,
              "it differs");
        child_exit();
    }
    check_status("the child that gave up root", pid, "exit 0");
    return check_finish();
}
