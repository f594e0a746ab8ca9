/*
 * vfork: the parent stays suspended until the child execs or exits (seen as the order of bytes
 * in a pipe both write, not as timing); vfork + execve of this program runs the new image in the
 * child's pid with execve's argv and envp; vfork + _exit and a failed execve report through the
 * exit status.
 *
 * musl's vfork() on aarch64 is a plain fork (clone with SIGCHLD only), so the case makes the
 * kernel's vfork call itself: clone(CLONE_VM | CLONE_VFORK | SIGCHLD) on the caller's stack,
 * from a leaf function that keeps nothing on that stack, as glibc's vfork() does.
 *
 * The new image (`vfork_exec child-mode <fd>`) prints its checks while the parent waits for it.
 */
#include "fork.h"

/* Returns the child's pid in the parent, 0 in the child, a negative errno on failure. */
pid_t guest_vfork(void) __attribute__((returns_twice));
__asm__(".text\n"
        ".global guest_vfork\n"
        ".type guest_vfork, %function\n"
        "guest_vfork:\n"
        "    mov x0, #0x4111\n" /* CLONE_VM | CLONE_VFORK | SIGCHLD */
        "    mov x1, #0\n"      /* the same stack */
        "    mov x2, #0\n"
        "    mov x3, #0\n"
        "    mov x4, #0\n"
        "    mov x8, #220\n"    /* __NR_clone */
        "    svc #0\n"
        "    ret\n"
        ".size guest_vfork, . - guest_vfork\n");

static int order[2], report[2];
static char fd_arg[16];
static const char *path;

static int image(int argc, char **argv)
{
    check("image: argv is execve's", argc == 3 && strcmp(argv[0], "vfork-image") == 0,
          "argc %d", argc);
    const char *mode = getenv("FORK_MODE");
    check("image: the environment is execve's", mode && strcmp(mode, "vfork") == 0 &&
          getenv("PATH") == NULL, "FORK_MODE %s", mode ? mode : "unset");
    int fd = argc == 3 ? atoi(argv[2]) : -1;
    CHECK_EQ("image: the report pipe is inherited", fcntl(fd, F_GETFD), 0);
    pid_t me = getpid();
    CHECK_EQ("image: report its pid", write(fd, &me, sizeof me), sizeof me);
    return check_failures == 0 ? 42 : 1;
}

/* The two bytes in the order pipe, as a string. */
static const char *order_bytes(void)
{
    static char got[3];
    memset(got, 0, sizeof got);
    ssize_t n = read(order[0], got, 2);
    if (n < 0)
        snprintf(got, sizeof got, "-");
    return got;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    path = self_exe();
    /* Non-blocking: a byte that never came must not hang the parent. */
    REQUIRE("pipes", pipe2(order, O_NONBLOCK) == 0 && pipe2(report, O_NONBLOCK) == 0);
    snprintf(fd_arg, sizeof fd_arg, "%d", report[1]);

    pid_t pid = guest_vfork();
    if (pid == 0) {
        char *const args[] = {"vfork-image", CHILD_MODE, fd_arg, NULL};
        char *const env[] = {"FORK_MODE=vfork", NULL};
        write(order[1], "c", 1);
        execve(path, args, env);
        _exit(127);
    }
    NEED("vfork", pid > 0);
    write(order[1], "p", 1);
    /* The image prints while the parent waits here. */
    check_status("vfork + execve: the image exits 42", pid, "exit 42");
    const char *got = order_bytes();
    check("the parent resumed only once the child had called execve", strcmp(got, "cp") == 0,
          "order \"%s\"", got);
    pid_t image_pid = 0;
    CHECK_EQ("read the image's pid", read(report[0], &image_pid, sizeof image_pid),
             sizeof image_pid);
    check("the image runs in the pid vfork returned", image_pid == pid, "another pid");

    pid = guest_vfork();
    if (pid == 0) {
        write(order[1], "x", 1);
        _exit(7);
    }
    NEED("vfork", pid > 0);
    write(order[1], "y", 1);
    check_status("vfork + _exit(7)", pid, "exit 7");
    got = order_bytes();
    check("the parent resumed only once the child had exited", strcmp(got, "xy") == 0,
          "order \"%s\"", got);

    pid = guest_vfork();
    if (pid == 0) {
        char *const args[] = {"missing", NULL};
        execve("/nonexistent/program", args, args + 1);
        char e = (char)errno;
        write(report[1], &e, 1);
        _exit(127);
    }
    NEED("vfork", pid > 0);
    check_status("vfork + a failed execve + _exit(127)", pid, "exit 127");
    char e = 0;
    read(report[0], &e, 1);
    check("the failed execve said ENOENT", e == ENOENT, "got %s", errname(e));
    return check_finish();
}
