/*
 * Exit statuses as a parent sees them: exit(0), exit(1), exit(255), exit(256) -> 0, exit(-1) ->
 * 255, _exit(300) -> 44, returning from main, the exit_group and exit system calls. exit() and a
 * return from main run atexit handlers and then flush stdio; _exit and the raw system calls do
 * neither. waitid reports the same codes.
 */
#include "fork.h"
#include <sys/syscall.h>

enum how { CALL_EXIT, CALL__EXIT, RETURN_FROM_MAIN, SYSCALL_EXIT_GROUP, SYSCALL_EXIT };

static const struct {
    const char *what;
    enum how how;
    int code;
    const char *status;
    const char *left_behind; /* what atexit and stdio wrote to the pipe */
} cases[] = {
    {"exit(0)", CALL_EXIT, 0, "exit 0", "atexit;stdio;"},
    {"exit(1)", CALL_EXIT, 1, "exit 1", "atexit;stdio;"},
    {"exit(255)", CALL_EXIT, 255, "exit 255", "atexit;stdio;"},
    {"exit(256)", CALL_EXIT, 256, "exit 0", "atexit;stdio;"},
    {"exit(-1)", CALL_EXIT, -1, "exit 255", "atexit;stdio;"},
    {"_exit(300)", CALL__EXIT, 300, "exit 44", ""},
    {"return 77 from main", RETURN_FROM_MAIN, 77, "exit 77", "atexit;stdio;"},
    {"the exit_group(3) system call", SYSCALL_EXIT_GROUP, 3, "exit 3", ""},
    {"the exit(5) system call of the only thread", SYSCALL_EXIT, 5, "exit 5", ""},
};

static int report_fd = -1;

static void at_exit(void)
{
    if (report_fd >= 0)
        write(report_fd, "atexit;", 7);
}

int main(void)
{
    REQUIRE("atexit", atexit(at_exit) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int p[2];
        NEED("pipe", pipe(p) == 0);
        pid_t pid = fork_child();
        if (pid == 0) {
            close(p[0]);
            report_fd = p[1];
            FILE *f = fdopen(dup(p[1]), "w");
            if (!f || setvbuf(f, NULL, _IOFBF, 256) != 0 || fputs("stdio;", f) < 0)
                _exit(99);
            switch (cases[i].how) {
            case CALL_EXIT:
                exit(cases[i].code);
            case CALL__EXIT:
                _exit(cases[i].code);
            case RETURN_FROM_MAIN:
                return cases[i].code;
            case SYSCALL_EXIT_GROUP:
                syscall(SYS_exit_group, cases[i].code);
                break;
            case SYSCALL_EXIT:
                syscall(SYS_exit, cases[i].code);
                break;
            }
            _exit(98);
        }
        close(p[1]);
        char name[160];
        snprintf(name, sizeof name, "%s: %s", cases[i].what, cases[i].status);
        check_status(name, pid, cases[i].status);
        char got[64] = {0};
        ssize_t n, have = 0;
        while ((n = read(p[0], got + have, sizeof got - 1 - (size_t)have)) > 0)
            have += n;
        close(p[0]);
        snprintf(name, sizeof name, "%s: %s", cases[i].what,
                 cases[i].left_behind[0] ? "atexit handlers ran, then stdio was flushed"
                                         : "no atexit handler, no stdio flush");
        check(name, strcmp(got, cases[i].left_behind) == 0, "left \"%s\"", got);
    }

    pid_t pid = fork_child();
    if (pid == 0)
        _exit(256 + 9);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid WEXITED", waitid(P_PID, (id_t)pid, &si, WEXITED));
    CHECK_EQ("waitid: si_code CLD_EXITED", si.si_code, CLD_EXITED);
    CHECK_EQ("waitid: si_status is the code modulo 256", si.si_status, 9);
    CHECK_PID("waitid: si_pid is the child", si.si_pid, pid);
    return check_finish();
}
