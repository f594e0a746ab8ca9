/*
 * fork + execve("/proc/self/exe") runs this program again, as busybox does for its applets. The
 * new image keeps the pid, the parent, the working directory, the signal mask and ignored
 * signals; caught signals revert to SIG_DFL; memory starts afresh; argv and envp are execve's;
 * /proc/self/exe names the same program.
 *
 * The new image (`exec_image child-mode <path> <pid> <ppid>`) prints its checks while the parent
 * waits for it.
 */
#include "fork.h"
#include <sys/stat.h>

static int touched = 1;

static void on_usr1(int sig) { (void)sig; }

static int image(int argc, char **argv)
{
    if (argc != 5) {
        check("image: argv has 5 entries", 0, "argc %d", argc);
        return 1;
    }
    CHECK_MEM("image: argv[0] is execve's", argv[0], "renamed", 8);
    const char *env = getenv("EXEC_IMAGE");
    check("image: the environment is execve's", env && strcmp(env, "yes") == 0 && !getenv("PATH"),
          "EXEC_IMAGE %s", env ? env : "unset");
    check("image: /proc/self/exe names the same program", strcmp(self_exe(), argv[2]) == 0,
          "another path");
    check("image: the pid did not change", getpid() == (pid_t)atol(argv[3]), "another pid");
    check("image: the parent did not change", getppid() == (pid_t)atol(argv[4]), "another pid");
    char cwd[4096];
    const char *end = getcwd(cwd, sizeof cwd) ? strrchr(cwd, '/') : NULL;
    check("image: the working directory is kept", end && strcmp(end, "/sub") == 0, "elsewhere");
    CHECK_EQ("image: memory starts afresh", touched, 1);
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    check("image: a caught signal reverts to SIG_DFL", sa.sa_handler == SIG_DFL, "not SIG_DFL");
    sigaction(SIGUSR2, NULL, &sa);
    check("image: an ignored signal stays ignored", sa.sa_handler == SIG_IGN, "not SIG_IGN");
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    check("image: the signal mask is kept", sigismember(&mask, SIGTERM) == 1 &&
          sigismember(&mask, SIGUSR1) == 0, "mask differs");
    return check_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    const char *path = self_exe();
    NEED("mkdir sub", mkdir("sub", 0755) == 0 && chdir("sub") == 0);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    touched = 2;

    char pid_arg[24], ppid_arg[24];
    snprintf(ppid_arg, sizeof ppid_arg, "%ld", (long)getpid());
    pid_t pid = fork_child();
    if (pid == 0) {
        snprintf(pid_arg, sizeof pid_arg, "%ld", (long)getpid());
        char *args[] = {"renamed", CHILD_MODE, (char *)path, pid_arg, ppid_arg, NULL};
        char *env[] = {"EXEC_IMAGE=yes", NULL};
        execve("/proc/self/exe", args, env);
        int e = errno;
        check("execve /proc/self/exe", 0, "errno %s", errname(e));
        _exit(127);
    }
    check_status("the image exits 0", pid, "exit 0");

    pid = fork_child();
    if (pid == 0) {
        char *args[] = {"renamed", NULL};
        CHECK_ERR("execve of a directory", execve(".", args, args + 1), EACCES);
        CHECK_ERR("execve of a missing file", execve("missing", args, args + 1), ENOENT);
        int fd = open("data", O_CREAT | O_WRONLY, 0644);
        close(fd);
        CHECK_ERR("execve of a file without x permission", execve("data", args, args + 1), EACCES);
        fd = open("script", O_CREAT | O_WRONLY, 0755);
        write(fd, "neither ELF nor #!\n", 19);
        close(fd);
        CHECK_ERR("execve of an executable text file", execve("script", args, args + 1), ENOEXEC);
        CHECK_EQ("a failed execve leaves the process running", touched, 2);
        child_exit();
    }
    check_status("failed execves return to the caller", pid, "exit 0");
    return check_finish();
}
