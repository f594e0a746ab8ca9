/*
 * rlimit_fsize — RLIMIT_FSIZE is the process's own: at 10,000 bytes, a write is cut at the
 * limit and one at or past it fails with EFBIG and raises SIGXFSZ (also with O_APPEND, pwrite,
 * writev, ftruncate and a memfd), shrinking is fine, pipes have no limit, and the process still
 * maps shared anonymous memory and forks, its child keeping the limit. Under an emulator the
 * limit must bound the guest's files, never the emulator's own.
 */
#include "check.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT 10000

static volatile sig_atomic_t xfsz;

static void on_xfsz(int sig)
{
    (void)sig;
    xfsz++;
}

static char buf[20000];

int main(void)
{
    signal(SIGXFSZ, on_xfsz);
    struct rlimit r = {LIMIT, LIMIT};
    CHECK_OK("setrlimit RLIMIT_FSIZE 10000", setrlimit(RLIMIT_FSIZE, &r));
    struct rlimit got;
    getrlimit(RLIMIT_FSIZE, &got);
    CHECK_EQ("getrlimit", got.rlim_cur, LIMIT);

    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE("open", fd >= 0);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ("write 8000", write(fd, buf, 8000), 8000);
    CHECK_EQ("write 4000 is cut to 2000", write(fd, buf, 4000), 2000);
    CHECK_EQ("no signal yet", xfsz, 0);
    CHECK_ERR("write at the limit", write(fd, buf, 1), EFBIG);
    CHECK_EQ("SIGXFSZ raised", xfsz, 1);
    CHECK_EQ("pwrite at 9995 is cut", pwrite(fd, buf, 100, 9995), 5);
    CHECK_ERR("pwrite past the limit", pwrite(fd, buf, 10, 20000), EFBIG);
    struct iovec iov[2] = {{buf, 3}, {buf, 30}};
    CHECK_EQ("pwritev at 9990 is cut", pwritev(fd, iov, 2, 9990), 10);
    CHECK_ERR("ftruncate past the limit", ftruncate(fd, 20000), EFBIG);
    CHECK_EQ("SIGXFSZ for each refused one", xfsz, 3);
    CHECK_OK("ftruncate down", ftruncate(fd, 5000));
    CHECK_OK("ftruncate to the limit", ftruncate(fd, LIMIT));
    close(fd);
    fd = open("f", O_WRONLY | O_APPEND);
    CHECK_ERR("O_APPEND write at the limit", write(fd, buf, 1), EFBIG);
    close(fd);

    int m = (int)syscall(SYS_memfd_create, "m", 0);
    CHECK_ERR("memfd ftruncate past the limit", ftruncate(m, 1 << 20), EFBIG);
    CHECK_OK("memfd ftruncate below it", ftruncate(m, 4096));
    close(m);

    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    CHECK_EQ("a pipe takes 20000 bytes", write(p[1], buf, 20000), 20000);
    close(p[0]);
    close(p[1]);

    char *shared = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("1 MiB of shared anonymous memory", shared != MAP_FAILED, 1);
    char *priv = malloc(1 << 20);
    memset(priv, 7, 1 << 20);
    if (shared != MAP_FAILED)
        shared[0] = 0;

    pid_t pid = fork_or_die();
    if (pid == 0) {
        if (shared != MAP_FAILED)
            shared[0] = 1;
        getrlimit(RLIMIT_FSIZE, &got);
        int f = open("f", O_WRONLY | O_APPEND);
        int err = write(f, buf, 1) == -1 ? errno : 0;
        _exit(got.rlim_cur == LIMIT && err == EFBIG && priv[12345] == 7 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK_EQ("the fork child keeps the limit", WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    CHECK_EQ("and shares the memory", shared != MAP_FAILED && shared[0] == 1, 1);
    unlink("f");
    return check_finish();
}
