/*
 * Default actions, each seen through a forked child's wait status: SIGTERM, SIGUSR1, SIGQUIT,
 * SIGABRT and SIGKILL kill; SIGCHLD, SIGURG and SIGWINCH are ignored; SIGSTOP stops and SIGCONT
 * continues (WUNTRACED and WCONTINUED statuses); SIG_IGN for SIGTERM survives kill() and
 * SIGKILL still kills. Across execve an ignored signal stays ignored, a caught one is reset to
 * the default action, and a blocked pending signal stays pending.
 *
 * The new image (`default_actions child-mode`) prints its checks while the parent waits for it.
 */
#include "../fork/fork.h"
#include <sys/resource.h>

static void on_usr1(int sig) { (void)sig; }

/* No core file from SIGQUIT or SIGABRT, on any lane. */
static void no_core(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
}

/* A child that sends itself `sig` with the default action and, if it survives, exits 0. */
static void self_signal(int sig, const char *name, const char *want)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        no_core();
        signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        kill(getpid(), sig);
        _exit(0);
    }
    char label[96];
    snprintf(label, sizeof label, "%s: %s", name, want);
    check_status(label, pid, want);
}

/* The new image: checks what execve kept, then dies of the reset SIGUSR1. */
static int image(void)
{
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    check("image: SIGTERM is still ignored", sa.sa_handler == SIG_IGN, "not SIG_IGN");
    sigaction(SIGUSR1, NULL, &sa);
    check("image: the caught SIGUSR1 is reset to SIG_DFL", sa.sa_handler == SIG_DFL, "not SIG_DFL");
    sigset_t pend;
    sigemptyset(&pend);
    sigpending(&pend);
    CHECK_EQ("image: the blocked SIGUSR2 is still pending", sigismember(&pend, SIGUSR2), 1);
    kill(getpid(), SIGTERM);
    check("image: survived SIGTERM", 1, "unreachable");
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* SIGUSR2 (caught before execve) is default now */
    check("image: survived the pending SIGUSR2", 0, "SIGUSR2 did not kill");
    return 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image();
    const char *path = self_exe();

    self_signal(SIGTERM, "SIGTERM", "killed by SIGTERM");
    self_signal(SIGUSR1, "SIGUSR1", "killed by SIGUSR1");
    self_signal(SIGQUIT, "SIGQUIT", "killed by SIGQUIT");
    self_signal(SIGCHLD, "SIGCHLD is ignored", "exit 0");
    self_signal(SIGURG, "SIGURG is ignored", "exit 0");
    self_signal(SIGWINCH, "SIGWINCH is ignored", "exit 0");
    self_signal(SIGCONT, "SIGCONT to a running process", "exit 0");

    pid_t pid = fork_child();
    if (pid == 0) {
        no_core();
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    check_status("abort(): killed by SIGABRT", pid, "killed by SIGABRT");

    /* SIGSTOP and SIGCONT sent by the parent to a child blocked on a pipe. */
    int p[2];
    REQUIRE("pipe for the stopped child", pipe(p) == 0);
    pid = fork_child();
    if (pid == 0) {
        char c;
        close(p[1]);
        _exit(read(p[0], &c, 1) == 1 && c == 'g' ? 0 : 2);
    }
    close(p[0]);
    int st;
    CHECK_OK("kill SIGSTOP", kill(pid, SIGSTOP));
    pid_t w = wait_for(pid, &st, WUNTRACED);
    check("WUNTRACED: stopped by SIGSTOP", w == pid && strcmp(status_text(st), "stopped by SIGSTOP") == 0,
          "got %s", w == pid ? status_text(st) : errname(errno));
    CHECK_EQ("WNOHANG while stopped: nothing new", wait_for(pid, &st, WNOHANG | WUNTRACED), 0);
    CHECK_OK("kill SIGCONT", kill(pid, SIGCONT));
    w = wait_for(pid, &st, WCONTINUED);
    check("WCONTINUED: continued", w == pid && strcmp(status_text(st), "continued") == 0, "got %s",
          w == pid ? status_text(st) : errname(errno));
    CHECK_EQ("the continued child reads on", write(p[1], "g", 1), 1);
    check_status("and exits 0 after its read", pid, "exit 0");
    close(p[1]);

    /* SIG_IGN: SIGTERM from the parent is ignored, SIGKILL is not. */
    REQUIRE("pipe for the ignoring child", pipe(p) == 0);
    pid = fork_child();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        close(p[0]);
        if (write(p[1], "r", 1) != 1)
            _exit(2);
        raise(SIGTERM);
        kill(getpid(), SIGTERM);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    NEED("the child is ready", read(p[0], &c, 1) == 1);
    close(p[0]);
    CHECK_OK("kill SIGTERM to a child ignoring it", kill(pid, SIGTERM));
    CHECK_EQ("the child is still there", wait_for(pid, &st, WNOHANG), 0);
    CHECK_OK("kill SIGKILL", kill(pid, SIGKILL));
    check_status("SIGKILL kills it", pid, "killed by SIGKILL");

    /* Survives SIGTERM it ignores, then exits 0 by itself. */
    pid = fork_child();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    check_status("SIG_IGN: SIGTERM to itself is ignored", pid, "exit 0");

    /* Across execve: ignored stays ignored, caught is reset, pending stays pending. */
    pid = fork_child();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGUSR1, on_usr1);
        signal(SIGUSR2, on_usr1);
        sigset_t usr2;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        sigprocmask(SIG_BLOCK, &usr2, NULL);
        raise(SIGUSR2);
        char *args[] = {"default_actions", CHILD_MODE, NULL};
        char *env[] = {NULL};
        execve(path, args, env);
        int e = errno;
        check("execve this program", 0, "errno %s", errname(e));
        _exit(127);
    }
    check_status("the new image dies of the pending SIGUSR2 reset to default", pid,
                 "killed by SIGUSR2");
    return check_finish();
}
