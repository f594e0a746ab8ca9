/*
 * Close-on-exec across fork + execve of this program: every way of setting FD_CLOEXEC (O_CLOEXEC,
 * F_SETFD, dup3, F_DUPFD_CLOEXEC, pipe2) closes the fd in the new image; plain fds, dup()s of
 * close-on-exec fds and fds whose flag was cleared stay open with FD_CLOEXEC clear, and an
 * inherited file keeps its offset. The fork itself keeps every fd and its flag.
 *
 * The new image (`cloexec_exec child-mode <fd>...`, fds in the order of `fds`) prints its checks
 * while the parent waits for it.
 */
#include "fork.h"

#define N_FDS 9
static const struct {
    const char *how;
    int survives;
} fds[N_FDS] = {
    {"open O_CLOEXEC", 0},
    {"plain open", 1},
    {"F_SETFD FD_CLOEXEC", 0},
    {"dup of an O_CLOEXEC fd", 1},
    {"dup3 O_CLOEXEC", 0},
    {"F_DUPFD_CLOEXEC", 0},
    {"pipe2 O_CLOEXEC", 0},
    {"plain pipe", 1},
    {"F_SETFD 0 on an O_CLOEXEC fd", 1},
};

static int image(int argc, char **argv)
{
    if (argc != 2 + N_FDS) {
        check("image: one argument per fd", 0, "argc %d", argc);
        return 1;
    }
    for (int i = 0; i < N_FDS; i++) {
        int fd = atoi(argv[2 + i]);
        char name[128];
        snprintf(name, sizeof name, "image: %s: %s", fds[i].how,
                 fds[i].survives ? "open, FD_CLOEXEC clear" : "closed (EBADF)");
        if (fds[i].survives)
            CHECK_EQ(name, fcntl(fd, F_GETFD), 0);
        else
            CHECK_ERR(name, fcntl(fd, F_GETFD), EBADF);
    }
    int plain = atoi(argv[3]);
    char buf[8] = {0};
    CHECK_EQ("image: the inherited file kept its offset", read(plain, buf, 3), 3);
    CHECK_MEM("image: and reads on from it", buf, "def", 3);
    return check_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    const char *path = self_exe();
    int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a file",
            fd >= 0 && write(fd, "abcdefgh", 8) == 8 && lseek(fd, 0, SEEK_SET) == 0);
    int f[N_FDS];
    f[0] = open("file", O_RDONLY | O_CLOEXEC);
    f[1] = open("file", O_RDONLY);
    f[2] = open("file", O_RDONLY);
    fcntl(f[2], F_SETFD, FD_CLOEXEC);
    f[3] = dup(f[0]);
    f[4] = dup3(f[1], 30, O_CLOEXEC);
    f[5] = fcntl(f[1], F_DUPFD_CLOEXEC, 40);
    int p[2], q[2];
    REQUIRE("pipes", pipe2(p, O_CLOEXEC) == 0 && pipe(q) == 0);
    f[6] = p[0];
    f[7] = q[1];
    f[8] = open("file", O_RDONLY | O_CLOEXEC);
    fcntl(f[8], F_SETFD, 0);
    for (int i = 0; i < N_FDS; i++)
        NEED("open the fds", f[i] >= 0);
    char buf[4];
    REQUIRE("read 3 bytes of the plain fd", read(f[1], buf, 3) == 3);

    char args[N_FDS][16];
    char *argv2[3 + N_FDS];
    argv2[0] = "cloexec_exec";
    argv2[1] = CHILD_MODE;
    for (int i = 0; i < N_FDS; i++) {
        snprintf(args[i], sizeof args[i], "%d", f[i]);
        argv2[2 + i] = args[i];
    }
    argv2[2 + N_FDS] = NULL;

    pid_t pid = fork_child();
    if (pid == 0) {
        int kept = 1;
        for (int i = 0; i < N_FDS; i++) {
            int want = fds[i].survives ? 0 : FD_CLOEXEC;
            if (fcntl(f[i], F_GETFD) != want)
                kept = 0;
        }
        check("the forked child has every fd with its flag", kept, "an fd or flag differs");
        execv(path, argv2);
        check("execv", 0, "errno %s", errname(errno));
        _exit(127);
    }
    check_status("the image exits 0", pid, "exit 0");
    int still = 1;
    for (int i = 0; i < N_FDS; i++)
        if (fcntl(f[i], F_GETFD) < 0)
            still = 0;
    check("the parent's fds are all still open", still, "an fd closed");
    CHECK_EQ("the image's reads moved the parent's offset too", lseek(f[1], 0, SEEK_CUR), 6);
    return check_finish();
}
