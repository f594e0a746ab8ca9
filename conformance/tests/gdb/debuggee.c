/* The program tests/gdb.rs debugs: a function to break in, a global to print, a handler for
 * a signal the debugger gives, a fault at a known address; with the argument "spin", a loop
 * that only an interrupt ends; with "fork", a child that calls the function too; with "kill",
 * a signal it sends itself, then one it waits for in sigsuspend; with "exec", itself again
 * through execve, which then calls the function with 100. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile int counter = 41;

static void on_usr1(int sig)
{
    (void)sig;
    write(1, "usr1\n", 5);
}

__attribute__((noinline)) int bump(int by)
{
    counter += by;
    return counter;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        for (;;)
            counter++;
    }
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            bump(5);
            write(1, "child\n", 6);
            _exit(3);
        }
        int status;
        waitpid(pid, &status, 0);
        bump(1);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
            write(1, "parent\n", 7);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        execl(argv[0], argv[0], "execed", (char *)0);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "execed") == 0) {
        bump(100);
        write(1, "execed\n", 7);
        return 0;
    }
    signal(SIGUSR1, on_usr1);
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        kill(getpid(), SIGUSR1);
        sigset_t block, none;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigemptyset(&none);
        sigprocmask(SIG_BLOCK, &block, NULL);
        kill(getpid(), SIGUSR1);
        sigsuspend(&none);
        write(1, "done\n", 5);
        return 0;
    }
    int got = bump(1);
    write(1, "bumped\n", 7);
    volatile int *bad = (volatile int *)0xdead0000;
    *bad = got;
    return 0;
}
