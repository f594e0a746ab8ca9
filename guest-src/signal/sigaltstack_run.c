/*
 * sigaltstack: setting and reading the alternate signal stack; an SA_ONSTACK handler runs on it
 * and sigaltstack() inside reports SS_ONSTACK; a handler without SA_ONSTACK, or after
 * SS_DISABLE, runs on the ordinary stack; SIGSEGV from a stack overflow (infinite recursion) is
 * handled on the alternate stack and left with siglongjmp. Errors: ENOMEM for a stack below
 * MINSIGSTKSZ, EINVAL for unknown flags, EPERM for changing the stack while running on it.
 */
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define ALT_SIZE (256 * 1024)

static char *alt_base;
static sigjmp_buf env;

static volatile int ran, on_alt, query_ok, query_flags, query_same, eperm_errno, segv_signo;

static int inside_alt(const void *p)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)alt_base;
    return a >= lo && a < lo + ALT_SIZE;
}

static void on_usr1(int sig)
{
    (void)sig;
    volatile char here = 0;
    ran++;
    on_alt = inside_alt((const void *)&here);
    stack_t cur;
    query_ok = sigaltstack(NULL, &cur) == 0;
    query_flags = cur.ss_flags;
    query_same = cur.ss_sp == alt_base && cur.ss_size == ALT_SIZE;
    /* Changing the stack while running on it is refused. */
    stack_t other = {.ss_sp = alt_base, .ss_size = ALT_SIZE / 2, .ss_flags = 0};
    errno = 0;
    int r = sigaltstack(&other, NULL);
    eperm_errno = r == -1 ? errno : 0;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    volatile char here = 0;
    segv_signo = sig;
    on_alt = inside_alt((const void *)&here);
    stack_t cur;
    query_ok = sigaltstack(NULL, &cur) == 0;
    query_flags = cur.ss_flags;
    siglongjmp(env, 1);
}

static volatile long depth_limit; /* 0: recurse until the stack runs out */

static long recurse(long n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    frame[sizeof frame - 1] = (char)n;
    if (depth_limit && n >= depth_limit)
        return frame[0];
    return recurse(n + 1) + frame[sizeof frame - 1];
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (flags & SA_SIGINFO)
        sa.sa_sigaction = on_segv;
    else
        sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    NEED("sigaction", sigaction(sig, &sa, NULL) == 0);
}

static void clear(void)
{
    ran = on_alt = query_ok = query_same = eperm_errno = segv_signo = 0;
    query_flags = -1;
}

int main(void)
{
    alt_base = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap the alternate stack", alt_base != MAP_FAILED);

    stack_t ss, old;
    memset(&old, 0, sizeof old);
    CHECK_OK("sigaltstack query", sigaltstack(NULL, &old));
    CHECK_EQ("no alternate stack at start: SS_DISABLE", old.ss_flags, SS_DISABLE);

    ss.ss_sp = alt_base;
    ss.ss_size = 1024;
    ss.ss_flags = 0;
    CHECK_ERR("a stack below MINSIGSTKSZ: ENOMEM", sigaltstack(&ss, NULL), ENOMEM);
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0x10;
    CHECK_ERR("unknown ss_flags: EINVAL", sigaltstack(&ss, NULL), EINVAL);
    ss.ss_flags = 0;
    CHECK_OK("sigaltstack set", sigaltstack(&ss, &old));
    CHECK_EQ("the old stack was disabled", old.ss_flags, SS_DISABLE);
    memset(&old, 0, sizeof old);
    CHECK_OK("sigaltstack read back", sigaltstack(NULL, &old));
    check("the stack reads back with its base and size",
          old.ss_sp == alt_base && old.ss_size == ALT_SIZE, "differs");
    CHECK_EQ("not on it outside a handler: flags 0", old.ss_flags, 0);

    /* An SA_ONSTACK handler runs on the alternate stack. */
    install(SIGUSR1, SA_ONSTACK);
    clear();
    CHECK_OK("raise SIGUSR1 (SA_ONSTACK)", raise(SIGUSR1));
    CHECK_EQ("the handler ran", ran, 1);
    CHECK_EQ("SA_ONSTACK: a local is inside the alternate stack", on_alt, 1);
    CHECK_EQ("sigaltstack works inside the handler", query_ok, 1);
    CHECK_EQ("inside the handler ss_flags is SS_ONSTACK", query_flags, SS_ONSTACK);
    CHECK_EQ("inside the handler the stack is the one set", query_same, 1);
    CHECK_EQ("changing the stack while on it: EPERM", eperm_errno, EPERM);
    memset(&old, 0, sizeof old);
    sigaltstack(NULL, &old);
    check("after the handler: flags 0 and the stack unchanged",
          old.ss_flags == 0 && old.ss_sp == alt_base && old.ss_size == ALT_SIZE, "flags %d",
          old.ss_flags);

    /* Without SA_ONSTACK the handler stays on the ordinary stack. */
    install(SIGUSR1, 0);
    clear();
    raise(SIGUSR1);
    CHECK_EQ("without SA_ONSTACK: the handler ran", ran, 1);
    CHECK_EQ("without SA_ONSTACK: not on the alternate stack", on_alt, 0);
    CHECK_EQ("without SA_ONSTACK: ss_flags is 0 inside", query_flags, 0);
    CHECK_EQ("without SA_ONSTACK: changing the stack is allowed", eperm_errno, 0);
    /* That handler shrank the stack to half; sigreturn put back the one saved in uc_stack. */
    memset(&old, 0, sizeof old);
    sigaltstack(NULL, &old);
    check("sigreturn restores the alternate stack saved in uc_stack",
          old.ss_flags == 0 && old.ss_sp == alt_base && old.ss_size == ALT_SIZE,
          "flags %d, %s size", old.ss_flags, old.ss_size == ALT_SIZE / 2 ? "the handler's" : "another");

    /* A stack overflow's SIGSEGV is handled on the alternate stack. */
    struct rlimit rl = {2 * 1024 * 1024, 2 * 1024 * 1024};
    struct rlimit cur_rl;
    if (getrlimit(RLIMIT_STACK, &cur_rl) == 0 && cur_rl.rlim_max != RLIM_INFINITY &&
        cur_rl.rlim_max < rl.rlim_max)
        rl.rlim_cur = rl.rlim_max = cur_rl.rlim_max;
    setrlimit(RLIMIT_STACK, &rl); /* bounds the recursion on every lane; its result is not part
                                     of the transcript */
    install(SIGSEGV, SA_SIGINFO | SA_ONSTACK);
    clear();
    volatile long result = 0;
    if (sigsetjmp(env, 1) == 0) {
        result = recurse(0);
        check("infinite recursion overflows the stack", 0, "returned %ld", (long)result);
    } else {
        CHECK_EQ("the overflow raised SIGSEGV", segv_signo, SIGSEGV);
        CHECK_EQ("the SIGSEGV handler ran on the alternate stack", on_alt, 1);
        CHECK_EQ("inside the SIGSEGV handler ss_flags is SS_ONSTACK", query_flags, SS_ONSTACK);
    }
    memset(&old, 0, sizeof old);
    sigaltstack(NULL, &old);
    CHECK_EQ("after siglongjmp out of the handler: flags 0", old.ss_flags, 0);
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    CHECK_EQ("siglongjmp restored the mask: SIGSEGV unblocked", sigismember(&mask, SIGSEGV), 0);
    depth_limit = 100;
    CHECK_EQ("the stack is usable again after the overflow", recurse(0) >= 0, 1);

    /* SS_DISABLE: SA_ONSTACK handlers run on the ordinary stack. */
    ss.ss_flags = SS_DISABLE;
    CHECK_OK("SS_DISABLE", sigaltstack(&ss, &old));
    CHECK_EQ("the replaced stack was active", old.ss_flags, 0);
    memset(&old, 0, sizeof old);
    sigaltstack(NULL, &old);
    CHECK_EQ("read back: SS_DISABLE", old.ss_flags, SS_DISABLE);
    install(SIGUSR1, SA_ONSTACK);
    clear();
    raise(SIGUSR1);
    CHECK_EQ("after SS_DISABLE: the SA_ONSTACK handler ran", ran, 1);
    CHECK_EQ("after SS_DISABLE: not on the alternate stack", on_alt, 0);
    CHECK_EQ("after SS_DISABLE: ss_flags inside is SS_DISABLE", query_flags, SS_DISABLE);
    return check_finish();
}
