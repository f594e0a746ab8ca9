/*
 * stop_cont — the whole process stopped and continued from outside (SIGSTOP, then SIGCONT, from
 * another process): it is seen stopped ('T' in /proc/PID/stat) while another of its threads was
 * busy, its blocked read finishes after it is continued (SA_RESTART), its SIGCONT handler runs
 * once, and its busy thread goes on counting.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t continued;
static volatile unsigned long spins;
static volatile int stop_spinning;

static void on_cont(int sig)
{
    (void)sig;
    continued++;
}

static void *spinner(void *arg)
{
    (void)arg;
    while (!stop_spinning)
        spins++;
    return NULL;
}

/* The state letter of process `pid`, from /proc. */
static char state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

int main(void)
{
    struct sigaction sa = {.sa_handler = on_cont, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCONT, &sa, NULL);
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    pthread_t t;
    REQUIRE("a busy thread", pthread_create(&t, NULL, spinner, NULL) == 0);

    pid_t parent = getpid();
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(p[0]);
        int bad = 0;
        if (kill(parent, SIGSTOP) != 0)
            bad |= 1;
        /* Until the parent is seen stopped (10 s at most). */
        int seen = 0;
        for (int i = 0; i < 10000 && !seen; i++) {
            seen = state_of(parent) == 'T';
            if (!seen)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        if (!seen)
            bad |= 2;
        if (write(p[1], "x", 1) != 1)
            bad |= 4;
        if (kill(parent, SIGCONT) != 0)
            bad |= 8;
        _exit(bad);
    }
    close(p[1]);
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    CHECK_EQ("the read finished after the stop", n == 1 && c == 'x', 1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_EQ("the other process stopped us and saw it", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    CHECK_EQ("the SIGCONT handler ran once", continued, 1);
    unsigned long before = spins;
    while (spins == before)
        sched_yield();
    CHECK_EQ("the busy thread goes on", spins > before, 1);
    stop_spinning = 1;
    pthread_join(t, NULL);
    return check_finish();
}
