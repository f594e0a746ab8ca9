/*
 * pidfd_open, pidfd_send_signal (plain and with a siginfo), waitid(P_PIDFD) and poll on a
 * pidfd; kill(-1, 0); membarrier's query; and the prctl options the host keeps
 * (PR_SET/GET_NO_NEW_PRIVS, PR_SET/GET_KEEPCAPS) with PR_GET_TID_ADDRESS, each with its errors.
 */
#include "../fork/fork.h"
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PR_GET_TID_ADDRESS
#define PR_GET_TID_ADDRESS 40
#endif

int main(void)
{
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    sigaddset(&usr, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr, NULL);
    int ready[2];
    NEED("a pipe", pipe(ready) == 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        siginfo_t si;
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGUSR1);
        while (sigwaitinfo(&one, &si) < 0)
            ;
        int plain = si.si_code == SI_USER && si.si_pid == getppid();
        sigemptyset(&one);
        sigaddset(&one, SIGUSR2);
        while (sigwaitinfo(&one, &si) < 0)
            ;
        int queued = si.si_code == SI_QUEUE && si.si_value.sival_int == 7;
        _exit(plain && queued ? 0 : 1);
    }
    char c;
    NEED("the child is ready", read(ready[0], &c, 1) == 1);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    CHECK_OK("pidfd_open of the child", pfd);
    CHECK_EQ("it is close-on-exec", fcntl(pfd, F_GETFD), FD_CLOEXEC);
    CHECK_OK("pidfd_send_signal SIGUSR1", syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, NULL, 0));
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGUSR2;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = 7;
    CHECK_OK("pidfd_send_signal SIGUSR2 with a siginfo",
             syscall(SYS_pidfd_send_signal, pfd, SIGUSR2, &info, 0));
    struct pollfd p = {pfd, POLLIN, 0};
    CHECK_EQ("poll on the pidfd wakes when the child exits", poll(&p, 1, -1), 1);
    siginfo_t w;
    memset(&w, 0, sizeof w);
    CHECK_OK("waitid P_PIDFD", syscall(SYS_waitid, P_PIDFD, pfd, &w, WEXITED, NULL));
    CHECK_EQ("the child saw both signals as sent", w.si_code == CLD_EXITED && w.si_status == 0, 1);
    CHECK_EQ("waitid names the child", w.si_pid, pid);
    CHECK_ERR("pidfd_send_signal with a flag", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 1), EINVAL);
    info.si_signo = SIGUSR1;
    CHECK_ERR("pidfd_send_signal with a siginfo of another signal",
              syscall(SYS_pidfd_send_signal, pfd, SIGUSR2, &info, 0), EINVAL);
    CHECK_ERR("pidfd_send_signal to a reaped child", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0),
              ESRCH);
    CHECK_ERR("pidfd_send_signal of a bad descriptor", syscall(SYS_pidfd_send_signal, 99, 0, NULL, 0),
              EBADF);
    close(pfd);
    CHECK_ERR("pidfd_open with an unknown flag", syscall(SYS_pidfd_open, getpid(), 1), EINVAL);
    CHECK_ERR("pidfd_open of pid 0", syscall(SYS_pidfd_open, 0, 0), EINVAL);
    CHECK_ERR("pidfd_open of a process that does not exist", syscall(SYS_pidfd_open, 0x3ffffff0, 0),
              ESRCH);
    CHECK_OK("kill(-1, 0)", kill(-1, 0));
    long q = syscall(SYS_membarrier, 0, 0, 0);
    check("membarrier's query answers a command set", q >= 0, "returned %ld (errno %s)", q, errname(errno));

    CHECK_EQ("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
    CHECK_ERR("PR_SET_NO_NEW_PRIVS 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
    CHECK_ERR("PR_SET_NO_NEW_PRIVS with a stray argument", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL);
    CHECK_OK("PR_SET_NO_NEW_PRIVS 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    CHECK_EQ("PR_GET_NO_NEW_PRIVS now", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
    CHECK_EQ("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
    CHECK_OK("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    CHECK_EQ("PR_GET_KEEPCAPS now", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);
    CHECK_ERR("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
    static int tid_word;
    syscall(SYS_set_tid_address, &tid_word);
    unsigned long addr = 0;
    CHECK_OK("PR_GET_TID_ADDRESS", prctl(PR_GET_TID_ADDRESS, &addr, 0, 0, 0));
    CHECK_EQ("it is set_tid_address's", addr, (unsigned long)&tid_word);
    CHECK_ERR("PR_GET_TID_ADDRESS into unwritable memory", prctl(PR_GET_TID_ADDRESS, (void *)8, 0, 0, 0),
              EFAULT);
    return check_finish();
}
