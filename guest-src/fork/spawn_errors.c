/*
 * posix_spawn and posix_spawnp failures come back as the return value, with the execve or file
 * action errno, and leave no child behind: a missing program, an empty path, a directory, a file
 * without execute permission, an executable file that is neither ELF nor script, a file action
 * that cannot open its file.
 */
#include "fork.h"
#include <spawn.h>

static void check_spawn(const char *name, int use_path, const char *file,
                        posix_spawn_file_actions_t *fa, int want)
{
    char *const args[] = {"spawned", NULL};
    char *const env[] = {NULL};
    pid_t pid = -1;
    int err = use_path ? posix_spawnp(&pid, file, fa, NULL, args, env)
                       : posix_spawn(&pid, file, fa, NULL, args, env);
    check(name, err == want, "got %s, want %s", errname(err), errname(want));
    int st;
    char left[160];
    snprintf(left, sizeof left, "%s: no child is left", name);
    CHECK_PID_ERR(left, waitpid(-1, &st, WNOHANG), ECHILD);
}

int main(void)
{
    check_spawn("posix_spawn of a missing path: ENOENT", 0, "/nonexistent/program", NULL, ENOENT);
    check_spawn("posix_spawnp of a missing name: ENOENT", 1, "no-such-program-here", NULL, ENOENT);
    check_spawn("posix_spawnp of a missing path with a slash: ENOENT", 1, "./no-such-program",
                NULL, ENOENT);
    check_spawn("posix_spawn of an empty path: ENOENT", 0, "", NULL, ENOENT);
    check_spawn("posix_spawn of a directory: EACCES", 0, ".", NULL, EACCES);
    int fd = open("data", O_CREAT | O_WRONLY, 0644);
    REQUIRE("create a data file", fd >= 0 && close(fd) == 0);
    check_spawn("posix_spawn of a file without x permission: EACCES", 0, "data", NULL, EACCES);
    fd = open("text", O_CREAT | O_WRONLY, 0755);
    REQUIRE("create an executable text file",
            fd >= 0 && write(fd, "neither ELF nor #!\n", 19) == 19 && close(fd) == 0);
    check_spawn("posix_spawn of an executable text file: ENOEXEC", 0, "./text", NULL, ENOEXEC);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 5, "/nonexistent/dir/file", O_RDONLY, 0);
    check_spawn("a failing open file action: ENOENT, before the exec", 0, ".", &fa, ENOENT);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, 77, 1);
    check_spawn("a dup2 file action from a closed fd: EBADF, before the exec", 0, ".", &fa,
                EBADF);
    posix_spawn_file_actions_destroy(&fa);
    return check_finish();
}
