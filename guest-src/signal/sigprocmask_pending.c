/*
 * sigprocmask: SIG_BLOCK, SIG_UNBLOCK and SIG_SETMASK with the old set each returns; SIGKILL and
 * SIGSTOP are silently left out of any mask; a blocked signal shows in sigpending() and is
 * delivered while the unblocking sigprocmask call returns; real-time signals queue (each one
 * sent is delivered, lowest number first, in sending order within a number) while a classic
 * signal sent three times is delivered once (once per queue: raise() pends on the thread, kill()
 * on the process); EINVAL for an unknown `how`.
 *
 * Only signals 1..31 and real-time signals named from SIGRTMIN are looked at: the libcs keep
 * 32..34 for themselves.
 */
#include "check.h"
#include <signal.h>

/* The members of a set among 1..31, as "10,12" (empty: ""). */
static const char *members(const sigset_t *set)
{
    static char bufs[2][128];
    static int which;
    char *buf = bufs[which ^= 1];
    buf[0] = '\0';
    for (int s = 1; s < 32; s++)
        if (sigismember(set, s) == 1)
            snprintf(buf + strlen(buf), 128 - strlen(buf), "%s%d", buf[0] ? "," : "", s);
    return buf;
}

static void check_set(const char *name, const sigset_t *set, const char *want)
{
    check(name, strcmp(members(set), want) == 0, "{%s}, want {%s}", members(set), want);
}

static sigset_t set_of(int a, int b, int c)
{
    sigset_t s;
    sigemptyset(&s);
    if (a)
        sigaddset(&s, a);
    if (b)
        sigaddset(&s, b);
    if (c)
        sigaddset(&s, c);
    return s;
}

static sigset_t current(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigprocmask(SIG_BLOCK, NULL, &s);
    return s;
}

static volatile int step, hits, seen_step;
static volatile int order[16], norder;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
    seen_step = step;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (norder < 16)
        order[norder++] = (sig - SIGRTMIN) * 100 + si->si_value.sival_int;
}

int main(void)
{
    sigset_t none, old, s;
    sigemptyset(&none);
    REQUIRE("start with an empty mask", sigprocmask(SIG_SETMASK, &none, NULL) == 0);

    s = set_of(SIGUSR1, 0, 0);
    CHECK_OK("SIG_BLOCK SIGUSR1", sigprocmask(SIG_BLOCK, &s, &old));
    check_set("the old set was empty", &old, "");
    s = set_of(SIGUSR2, 0, 0);
    CHECK_OK("SIG_BLOCK SIGUSR2", sigprocmask(SIG_BLOCK, &s, &old));
    check_set("the old set was {SIGUSR1}", &old, "10");
    s = set_of(SIGUSR1, SIGHUP, 0);
    CHECK_OK("SIG_UNBLOCK SIGUSR1 and SIGHUP (not blocked)", sigprocmask(SIG_UNBLOCK, &s, &old));
    check_set("the old set was {SIGUSR1, SIGUSR2}", &old, "10,12");
    s = current();
    check_set("now {SIGUSR2}", &s, "12");
    s = set_of(SIGTERM, SIGINT, 0);
    CHECK_OK("SIG_SETMASK {SIGINT, SIGTERM}", sigprocmask(SIG_SETMASK, &s, &old));
    check_set("the old set was {SIGUSR2}", &old, "12");
    s = current();
    check_set("now {SIGINT, SIGTERM}", &s, "2,15");
    CHECK_OK("a null set only reads", sigprocmask(SIG_UNBLOCK, NULL, &old));
    check_set("the mask read with a null set", &old, "2,15");
    s = current();
    check_set("and is unchanged", &s, "2,15");

    /* SIGKILL and SIGSTOP are dropped from any mask. */
    s = set_of(SIGKILL, SIGSTOP, SIGUSR1);
    CHECK_OK("SIG_SETMASK {SIGKILL, SIGSTOP, SIGUSR1}", sigprocmask(SIG_SETMASK, &s, NULL));
    s = current();
    check_set("only SIGUSR1 is blocked", &s, "10");
    sigfillset(&s);
    CHECK_OK("SIG_BLOCK of a full set", sigprocmask(SIG_BLOCK, &s, NULL));
    s = current();
    check_set("every classic signal but SIGKILL and SIGSTOP is blocked", &s,
              "1,2,3,4,5,6,7,8,10,11,12,13,14,15,16,17,18,20,21,22,23,24,25,26,27,28,29,30,31");
    CHECK_EQ("SIGRTMIN is blocked too", sigismember(&s, SIGRTMIN), 1);
    CHECK_EQ("SIGRTMIN+3 is blocked too", sigismember(&s, SIGRTMIN + 3), 1);
    CHECK_OK("SIG_SETMASK empty", sigprocmask(SIG_SETMASK, &none, &old));
    check_set("the old set had all but SIGKILL and SIGSTOP", &old,
              "1,2,3,4,5,6,7,8,10,11,12,13,14,15,16,17,18,20,21,22,23,24,25,26,27,28,29,30,31");

    s = set_of(SIGUSR1, 0, 0);
    CHECK_ERR("an unknown how: EINVAL", sigprocmask(99, &s, NULL), EINVAL);
    CHECK_ERR("how -1: EINVAL", sigprocmask(-1, &s, NULL), EINVAL);
    s = current();
    check_set("a failed call changes nothing", &s, "");

    /* A blocked signal is pending, and delivered during the call that unblocks it. */
    REQUIRE("SIGUSR1 handler", signal(SIGUSR1, on_usr1) != SIG_ERR);
    s = set_of(SIGUSR1, 0, 0);
    sigprocmask(SIG_BLOCK, &s, NULL);
    hits = 0;
    step = 0;
    CHECK_OK("raise a blocked SIGUSR1", raise(SIGUSR1));
    CHECK_EQ("the handler did not run", hits, 0);
    sigset_t pend;
    sigemptyset(&pend);
    CHECK_OK("sigpending", sigpending(&pend));
    check_set("sigpending shows SIGUSR1", &pend, "10");
    step = 1;
    CHECK_OK("unblock SIGUSR1", sigprocmask(SIG_UNBLOCK, &s, NULL));
    step = 2;
    CHECK_EQ("the handler ran once", hits, 1);
    CHECK_EQ("it ran before sigprocmask returned", seen_step, 1);
    sigpending(&pend);
    check_set("nothing is pending any more", &pend, "");

    /* A classic signal sent three times while blocked is delivered once. */
    sigprocmask(SIG_BLOCK, &s, NULL);
    hits = 0;
    raise(SIGUSR1);
    raise(SIGUSR1);
    raise(SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    CHECK_EQ("SIGUSR1 raised three times while blocked: delivered once", hits, 1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    hits = 0;
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    CHECK_EQ("SIGUSR1 sent with kill three times while blocked: delivered once", hits, 1);
    /* raise() pends on the thread, kill() on the process: one of each is two deliveries. */
    sigprocmask(SIG_BLOCK, &s, NULL);
    hits = 0;
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    CHECK_EQ("pending on the thread and on the process: delivered once from each", hits, 2);

    /* Real-time signals queue: every one is delivered, lowest number first, FIFO within one. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int k = 1; k <= 3; k++)
        sigaddset(&sa.sa_mask, SIGRTMIN + k); /* one handler at a time: runs in delivery order */
    for (int k = 1; k <= 3; k++)
        REQUIRE("real-time handler", sigaction(SIGRTMIN + k, &sa, NULL) == 0);
    sigset_t rt;
    sigemptyset(&rt);
    for (int k = 1; k <= 3; k++)
        sigaddset(&rt, SIGRTMIN + k);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    static const int sends[][2] = {{3, 1}, {1, 1}, {2, 1}, {1, 2}, {3, 2}, {1, 3}};
    int sent_ok = 1;
    for (unsigned i = 0; i < sizeof sends / sizeof sends[0]; i++)
        sent_ok &= sigqueue(getpid(), SIGRTMIN + sends[i][0],
                            (union sigval){.sival_int = sends[i][1]}) == 0;
    CHECK_EQ("six real-time signals queued", sent_ok, 1);
    sigpending(&pend);
    CHECK_EQ("SIGRTMIN+1 is pending", sigismember(&pend, SIGRTMIN + 1), 1);
    norder = 0;
    sigprocmask(SIG_UNBLOCK, &rt, NULL);
    char got[128] = "";
    for (int i = 0; i < norder; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", i ? " " : "", order[i]);
    CHECK_EQ("all six were delivered", norder, 6);
    check("in order: SIGRTMIN+1 x3, +2, +3 x2, each in sending order",
          strcmp(got, "101 102 103 201 301 302") == 0, "got \"%s\"", got);

    /* The same signal sent three times, no other: three deliveries. */
    sigprocmask(SIG_BLOCK, &rt, NULL);
    for (int v = 7; v <= 9; v++)
        sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = v});
    norder = 0;
    sigprocmask(SIG_UNBLOCK, &rt, NULL);
    got[0] = '\0';
    for (int i = 0; i < norder; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", i ? " " : "", order[i]);
    check("SIGRTMIN+2 sent three times: delivered three times in order",
          strcmp(got, "207 208 209") == 0, "got \"%s\"", got);
    s = current();
    check_set("the mask is empty at the end", &s, "");
    return check_finish();
}
