/*
 * emfile — descriptors until EMFILE while 6,000 shared mappings exist whose descriptors were
 * closed (Linux's mappings hold files, not descriptors): with RLIMIT_NOFILE at 512 the process
 * fills exactly its 512 descriptors whatever the mappings hold; every mapping stays coherent; a fork
 * child starts with the same full table and the same mappings.
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>

#define MAPS 3000

static volatile int *files[MAPS], *anons[MAPS];

/* Opens /dev/null until it fails; returns how many opened, leaving errno. */
static int fill(void)
{
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        n++;
    return n;
}

int main(void)
{
    struct rlimit lim;
    REQUIRE("getrlimit", getrlimit(RLIMIT_NOFILE, &lim) == 0);
    lim.rlim_cur = 512;
    CHECK_OK("RLIMIT_NOFILE 512", setrlimit(RLIMIT_NOFILE, &lim));

    int made = 0;
    for (int i = 0; i < MAPS; i++) {
        int fd = (int)syscall(SYS_memfd_create, "m", 0);
        if (fd < 0 || ftruncate(fd, 4096) != 0)
            break;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        void *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || q == MAP_FAILED)
            break;
        files[i] = p;
        anons[i] = q;
        *files[i] = i;
        *anons[i] = -i;
        made++;
    }
    CHECK_EQ("3000 memfd mappings and 3000 shared anonymous ones", made, MAPS);

    /* What the lane left open (stdio, and whatever else) counts as it would on Linux. */
    int open_before = 0;
    for (int fd = 0; fd < 512; fd++)
        open_before += fcntl(fd, F_GETFD) >= 0;
    int n = fill();
    CHECK_EQ("EMFILE at the limit", errno, EMFILE);
    CHECK_EQ("every descriptor below 512 in use, none above", n + open_before, 512);
    CHECK_ERR("nothing at 512", fcntl(512, F_GETFD), EBADF);
    CHECK_ERR("a memfd too", syscall(SYS_memfd_create, "x", 0), EMFILE);
    CHECK_ERR("a pipe too", pipe((int[2]){0}), EMFILE);
    CHECK_OK("close 100", close(100));
    CHECK_EQ("100 is free again", open("/dev/null", O_RDONLY), 100);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        int bad = 0;
        if (open("/dev/null", O_RDONLY) != -1 || errno != EMFILE)
            bad |= 1;
        for (int i = 0; i < MAPS; i++) {
            if (*files[i] != i || *anons[i] != -i)
                bad |= 2;
            *files[i] = i + 1;
            *anons[i] = -i - 1;
        }
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_EQ("the child: a full table, every mapping", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    int good = 0;
    for (int i = 0; i < MAPS; i++)
        good += *files[i] == i + 1 && *anons[i] == -i - 1;
    CHECK_EQ("the child's writes through all 6000 mappings", good, MAPS);
    return check_finish();
}
