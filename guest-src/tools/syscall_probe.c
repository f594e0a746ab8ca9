/*
 * Which system call numbers a runtime answers with something other than ENOSYS. Every number
 * Linux defines for aarch64 is called with all-zero arguments, each in a child of its own
 * with an alarm, so a call that blocks, exits or crashes ends only that child. A few calls
 * that could change the machine itself with zero arguments are not made (the probe runs as
 * root on the host under qemu-user): vhangup, kexec_load, reboot, sethostname, setdomainname,
 * finit_module, kexec_file_load. The one call that creates a host object outliving the child
 * with zero arguments, msgget(IPC_PRIVATE, 0), has its queue removed again. Prints
 * "ENOSYS <nr>" for each refusal and a summary line.
 * `cargo xtask coverage` runs it under elfvisor and qemu-user.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const int skipped_calls[] = { 58, 104, 142, 161, 162, 273, 294 };

/* aarch64's asm-generic numbers: 0..243, 260..294 and 424..450. */
static int defined(int nr)
{
    return (nr >= 0 && nr <= 243) || (nr >= 260 && nr <= 294) || (nr >= 424 && nr <= 450);
}

int main(void)
{
    int answered = 0, enosys = 0, skipped = 0;
    for (int nr = 0; nr <= 450; nr++) {
        if (!defined(nr))
            continue;
        int skip = 0;
        for (unsigned i = 0; i < sizeof skipped_calls / sizeof skipped_calls[0]; i++)
            skip |= skipped_calls[i] == nr;
        if (skip) {
            skipped++;
            continue;
        }
        int p[2];
        if (pipe(p))
            return 1;
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            close(p[0]);
            alarm(2);
            int fd = p[1];
            errno = 0;
            long r = syscall(nr, 0, 0, 0, 0, 0, 0);
            int e = r == -1 ? errno : 0;
            if (nr == SYS_msgget && r >= 0)
                syscall(SYS_msgctl, r, 0 /* IPC_RMID */, 0);
            (void)!write(fd, &e, sizeof e);
            _exit(0);
        }
        close(p[1]);
        int e = -1;
        ssize_t n = read(p[0], &e, sizeof e);
        close(p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (n == (ssize_t)sizeof e && e == ENOSYS) {
            enosys++;
            printf("ENOSYS %d\n", nr);
        } else {
            answered++;
        }
    }
    printf("answered %d, ENOSYS %d, skipped %d\n", answered, enosys, skipped);
    return 0;
}
