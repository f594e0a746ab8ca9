/* RLIMIT_NOFILE: a lowered soft limit bounds dup, dup2/dup3, F_DUPFD, open and pipe; fds above it
 * stay usable; mmap, fork and wait do not count against it; the limit survives fork. */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define LIMIT 16

int main(void)
{
    int file = open("f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644), fd = file;
    REQUIRE("create", fd >= 0);
    REQUIRE("write", write(fd, "0123456789abcdef", 16) == 16);
    CHECK_EQ("dup2 to a high fd before lowering", dup2(fd, 40), 40);

    struct rlimit rl;
    REQUIRE("getrlimit", getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t hard = rl.rlim_max;
    check("the hard limit is at least the soft", rl.rlim_cur <= rl.rlim_max, "soft above hard");
    struct rlimit bad = { hard, hard };
    if (hard != RLIM_INFINITY)
        bad.rlim_cur = hard + 1;
    CHECK_ERR("a soft limit above the hard is EINVAL", setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
    struct rlimit huge = { LIMIT, (rlim_t)1 << 40 };
    CHECK_ERR("a hard limit above nr_open is EPERM", setrlimit(RLIMIT_NOFILE, &huge), EPERM);

    struct rlimit low = { LIMIT, hard };
    REQUIRE("lower the soft limit", setrlimit(RLIMIT_NOFILE, &low) == 0);
    REQUIRE("getrlimit after lowering", getrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK_EQ("getrlimit reads the soft limit back", rl.rlim_cur, LIMIT);
    CHECK_EQ("the hard limit is unchanged", rl.rlim_max == hard, 1);
    CHECK_EQ("sysconf(_SC_OPEN_MAX) follows", sysconf(_SC_OPEN_MAX), LIMIT);

    char c = 0;
    CHECK_EQ("an fd above the limit still reads", pread(40, &c, 1, 3), 1);
    CHECK_EQ("it reads the right byte", c, '3');
    CHECK_ERR("dup2 onto the limit is EBADF", dup2(fd, LIMIT), EBADF);
    CHECK_ERR("dup3 above the limit is EBADF", dup3(fd, 40, 0), EBADF);
    CHECK_ERR("F_DUPFD at the limit is EINVAL", fcntl(fd, F_DUPFD, LIMIT), EINVAL);
    CHECK_EQ("dup2 just below the limit", dup2(fd, LIMIT - 1), LIMIT - 1);
    CHECK_OK("close the fd above the limit", close(40));

    /* Fill every number below the limit. */
    while ((fd = dup(file)) >= 0)
        ;
    CHECK_EQ("dup stops with EMFILE", errno, EMFILE);
    int all_open = 1;
    for (int i = 0; i < LIMIT; i++)
        all_open &= fcntl(i, F_GETFD) >= 0;
    CHECK_EQ("every fd below the limit is open", all_open, 1);
    CHECK_ERR("open with a full table is EMFILE", open("f.txt", O_RDONLY), EMFILE);
    int p[2];
    CHECK_ERR("pipe with a full table is EMFILE", pipe(p), EMFILE);
    CHECK_ERR("F_DUPFD with a full table is EMFILE", fcntl(file, F_DUPFD, 0), EMFILE);

    char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
    CHECK_EQ("a shared file mapping needs no fd", shared != MAP_FAILED, 1);
    if (shared != MAP_FAILED)
        CHECK_EQ("it maps the file", shared[5], '5');
    char *anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("a shared anonymous mapping needs no fd", anon != MAP_FAILED, 1);
    if (anon != MAP_FAILED)
        anon[0] = 'x';

    pid_t pid = fork();
    if (pid < 0)
        check("fork with a full table", 0, "errno %s", errname(errno));
    if (pid == 0) {
        struct rlimit crl;
        int ok = getrlimit(RLIMIT_NOFILE, &crl) == 0 && crl.rlim_cur == LIMIT;
        ok &= dup(0) == -1 && errno == EMFILE;
        ok &= fcntl(LIMIT - 1, F_GETFD) >= 0;
        if (anon != MAP_FAILED)
            anon[1] = 'y';
        _exit(ok ? 0 : 1);
    }
    if (pid > 0) {
        check("fork with a full table", 1, "-");
        int status = 0;
        CHECK_EQ("wait", waitpid(pid, &status, 0), pid);
        CHECK_EQ("the child kept the limit and the full table", status, 0);
        if (anon != MAP_FAILED)
            CHECK_EQ("the child's write reached the shared page", anon[1], 'y');
    }

    CHECK_OK("close one", close(LIMIT - 1));
    CHECK_EQ("dup takes the freed number", dup(0), LIMIT - 1);
    struct rlimit back = { hard < 64 ? hard : 64, hard };
    CHECK_OK("raise the soft limit again", setrlimit(RLIMIT_NOFILE, &back));
    CHECK_EQ("dup above the old limit", dup(0), LIMIT);
    unlink("f.txt");
    return check_finish();
}
