/*
 * process_mrelease and process_madvise (mm/oom_kill.c, mm/madvise.c) through pidfds:
 * process_mrelease of a process that is not dying is EINVAL, of one that has exited ESRCH, with
 * flags EINVAL; process_madvise on our own process with the advice it takes (MADV_COLD,
 * MADV_PAGEOUT, MADV_WILLNEED) returns the bytes advised and leaves the memory as it was,
 * other advice is EINVAL, flags EINVAL, a range not mapped ENOMEM, a descriptor no pidfd EBADF.
 */
#include "../fork/fork.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif

#ifndef MADV_COLD
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif

int main(void)
{
    struct turns t;
    turns_open(&t);
    pid_t child = fork_child();
    if (child == 0) {
        pass_to_parent(&t);
        wait_for_parent(&t);
        _exit(0);
    }
    wait_for_child(&t);
    int pfd = (int)syscall(SYS_pidfd_open, child, 0);
    REQUIRE("pidfd_open of the child", pfd >= 0);
    CHECK_ERR("process_mrelease of a live process", syscall(SYS_process_mrelease, pfd, 0), EINVAL);
    CHECK_ERR("with flags", syscall(SYS_process_mrelease, pfd, 1), EINVAL);
    CHECK_ERR("of a closed descriptor", syscall(SYS_process_mrelease, 999, 0), EBADF);
    pass_to_child(&t);
    int st;
    NEED("waitid WEXITED|WNOWAIT", waitid(P_PID, child, NULL, WEXITED | WNOWAIT) == 0);
    CHECK_ERR("process_mrelease of a process that has exited", syscall(SYS_process_mrelease, pfd, 0),
              ESRCH);
    NEED("reap", wait_for(child, &st, 0) == child);

    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    REQUIRE("pidfd_open of ourselves", self >= 0);
    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", map != MAP_FAILED);
    memset(map, 'm', 4 * page);
    struct iovec v[2] = {{map, page}, {map + 2 * page, 2 * page}};
    CHECK_EQ("process_madvise MADV_COLD of 3 pages", syscall(SYS_process_madvise, self, v, 2,
                                                             MADV_COLD, 0), 3 * page);
    CHECK_EQ("MADV_PAGEOUT", syscall(SYS_process_madvise, self, v, 2, MADV_PAGEOUT, 0), 3 * page);
    CHECK_EQ("MADV_WILLNEED", syscall(SYS_process_madvise, self, v, 1, MADV_WILLNEED, 0), page);
    CHECK_EQ("the memory is unchanged", map[0] == 'm' && map[3 * page + 7] == 'm', 1);
    CHECK_ERR("MADV_DONTNEED is not taken", syscall(SYS_process_madvise, self, v, 1, MADV_DONTNEED,
                                                    0), EINVAL);
    CHECK_ERR("flags", syscall(SYS_process_madvise, self, v, 1, MADV_COLD, 1), EINVAL);
    munmap(map + 2 * page, 2 * page);
    CHECK_ERR("a range no longer mapped", syscall(SYS_process_madvise, self, &v[1], 1, MADV_COLD, 0),
              ENOMEM);
    CHECK_ERR("a descriptor that is no pidfd", syscall(SYS_process_madvise, 0, v, 1, MADV_COLD, 0),
              EBADF);
    CHECK_ERR("an unreadable vector array", syscall(SYS_process_madvise, self, (void *)8, 1,
                                                    MADV_COLD, 0), EFAULT);
    return check_finish();
}
