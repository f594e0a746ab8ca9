/*
 * posix_spawn and posix_spawnp of this program: file actions (dup2 onto stdout, close, open at a
 * chosen fd), attributes (SETPGROUP, SETSIGMASK, SETSIGDEF), argv and envp, the exit status; and
 * posix_spawnp's PATH search past a missing directory.
 *
 * The spawned image (`posix_spawn child-mode <closed fd> <spawner>`) writes its check lines to
 * its stdout, which a file action points at a pipe; the parent reaps it and then copies those
 * lines into the transcript.
 */
#include "fork.h"
#include <libgen.h>
#include <spawn.h>
#include <sys/stat.h>

#define OPENED_FD 20

static const char *label = "image";

/* A check name prefixed with the spawner's name: "posix_spawnp image: ...". */
static const char *named(const char *what)
{
    static char name[160];
    snprintf(name, sizeof name, "%s image: %s", label, what);
    return name;
}

static int image(int argc, char **argv)
{
    if (argc != 4) {
        check("image: argv has 4 entries", 0, "argc %d", argc);
        return 1;
    }
    label = argv[3];
    check(named("argv[0] is the spawner's"), strcmp(argv[0], "spawned") == 0, "another argv[0]");
    const char *env = getenv("SPAWNED");
    check(named("envp is the spawner's"), env && strcmp(env, "yes") == 0 && !getenv("PATH"),
          "SPAWNED %s", env ? env : "unset");
    struct stat st;
    check(named("dup2 made stdout the pipe"), fstat(1, &st) == 0 && S_ISFIFO(st.st_mode),
          "not a pipe");
    CHECK_ERR(named("the closed fd is gone"), fcntl(atoi(argv[2]), F_GETFD), EBADF);
    CHECK_EQ(named("the opened fd is write-only"), fcntl(OPENED_FD, F_GETFL) & O_ACCMODE,
             O_WRONLY);
    CHECK_EQ(named("write through the opened fd"), write(OPENED_FD, "via open action\n", 16), 16);
    CHECK_EQ(named("SETPGROUP 0 made it a group leader"), getpgrp(), getpid());
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    check(named("SETSIGMASK set the mask"), sigismember(&mask, SIGUSR1) == 1, "SIGUSR1 unblocked");
    struct sigaction sa;
    sigaction(SIGUSR2, NULL, &sa);
    check(named("SETSIGDEF reset an ignored signal"), sa.sa_handler == SIG_DFL, "not SIG_DFL");
    return check_failures == 0 ? 23 : 1;
}

/* Spawns the image with stdout on a pipe; reaps it and copies its lines into the transcript. */
static void spawn_and_report(const char *what, int use_path, const char *file)
{
    int p[2];
    NEED("pipe", pipe(p) == 0);
    int doomed = open(".", O_RDONLY);
    NEED("an fd to close", doomed >= 0);
    char doomed_arg[16];
    snprintf(doomed_arg, sizeof doomed_arg, "%d", doomed);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    posix_spawn_file_actions_addclose(&fa, doomed);
    posix_spawn_file_actions_addopen(&fa, OPENED_FD, "opened.txt", O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    posix_spawnattr_setsigmask(&attr, &set);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    posix_spawnattr_setsigdefault(&attr, &set);

    char *const args[] = {"spawned", CHILD_MODE, doomed_arg, (char *)what, NULL};
    char *const env[] = {"SPAWNED=yes", NULL};
    pid_t pid = -1;
    int err = use_path ? posix_spawnp(&pid, file, &fa, &attr, args, env)
                       : posix_spawn(&pid, file, &fa, &attr, args, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[1]);
    close(doomed);
    char name[128];
    snprintf(name, sizeof name, "%s returns 0", what);
    check(name, err == 0, "got %s", errname(err));
    if (err != 0) {
        close(p[0]);
        return;
    }
    snprintf(name, sizeof name, "%s: the image exits 23", what);
    check_status(name, pid, "exit 23");
    char buf[4096];
    ssize_t n, have = 0;
    while ((n = read(p[0], buf + have, sizeof buf - 1 - (size_t)have)) > 0)
        have += n;
    close(p[0]);
    buf[have] = '\0';
    out("%s", buf);
    int fd = open("opened.txt", O_RDONLY);
    char text[32] = {0};
    snprintf(name, sizeof name, "%s: the open action created the file", what);
    check(name, fd >= 0 && read(fd, text, sizeof text - 1) == 16 &&
          strcmp(text, "via open action\n") == 0, "got \"%s\"", text);
    close(fd);
    unlink("opened.txt");
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    char path[4096];
    snprintf(path, sizeof path, "%s", self_exe());
    signal(SIGUSR2, SIG_IGN);
    spawn_and_report("posix_spawn", 0, path);

    char dir[4096], base[4096], search[4200];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    snprintf(search, sizeof search, "/nonexistent:%s", dirname(dir));
    setenv("PATH", search, 1);
    spawn_and_report("posix_spawnp", 1, basename(base));
    return check_finish();
}
