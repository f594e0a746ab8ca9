/*
 * Handlers nest: a SIGUSR1 handler that raises SIGUSR2 runs the SIGUSR2 handler inside itself,
 * unless SIGUSR2 is in its sa_mask (then SIGUSR2 waits until the SIGUSR1 handler returns). A
 * handler's own signal is blocked while it runs — raised again it stays pending and runs once
 * after the handler returns — except with SA_NODEFER, where the handler is re-entered.
 *
 * Every handler entry appends "<n><" and every exit "><n>" to a trace, so "1<2<>2>1" reads:
 * enter 1, enter 2, leave 2, leave 1.
 */
#include "check.h"
#include <signal.h>

static char trace[64];
static volatile int trace_len;
static volatile int depth, max_depth, entries;
static volatile int pending_inside, blocked_inside;
static volatile int reraise; /* how many more times the handler raises its own signal */

static void put(char c)
{
    if (trace_len < (int)sizeof trace - 1)
        trace[trace_len++] = c;
}

static char digit(int sig)
{
    return sig == SIGUSR1 ? '1' : sig == SIGUSR2 ? '2' : '?';
}

static void enter(int sig)
{
    put(digit(sig));
    put('<');
    entries++;
    if (++depth > max_depth)
        max_depth = depth;
}

static void leave(int sig)
{
    depth--;
    put('>');
    put(digit(sig));
}

static void reset(void)
{
    memset(trace, 0, sizeof trace);
    trace_len = 0;
    depth = max_depth = entries = 0;
    pending_inside = blocked_inside = 0;
}

/* SIGUSR1: raises SIGUSR2 and notes whether it is pending and whether SIGUSR1 is blocked. */
static void on_usr1_raise_usr2(int sig)
{
    enter(sig);
    raise(SIGUSR2);
    sigset_t set;
    sigpending(&set);
    pending_inside = sigismember(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, NULL, &set);
    blocked_inside = sigismember(&set, SIGUSR1);
    leave(sig);
}

static void on_usr2(int sig)
{
    enter(sig);
    leave(sig);
}

/* SIGUSR1: raises SIGUSR1 itself while `reraise` says so. */
static void on_usr1_raise_self(int sig)
{
    enter(sig);
    if (reraise > 0) {
        reraise--;
        raise(SIGUSR1);
        sigset_t set;
        sigpending(&set);
        pending_inside = sigismember(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, NULL, &set);
        blocked_inside = sigismember(&set, SIGUSR1);
    }
    leave(sig);
}

static void install(int sig, void (*fn)(int), int flags, int masked)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (masked)
        sigaddset(&sa.sa_mask, masked);
    NEED("sigaction", sigaction(sig, &sa, NULL) == 0);
}

static void check_trace(const char *name, const char *want)
{
    check(name, strcmp(trace, want) == 0, "trace \"%s\", want \"%s\"", trace, want);
}

static void check_mask_empty(const char *name)
{
    sigset_t set;
    sigprocmask(SIG_BLOCK, NULL, &set);
    check(name, !sigismember(&set, SIGUSR1) && !sigismember(&set, SIGUSR2), "still blocked");
}

int main(void)
{
    sigset_t none;
    sigemptyset(&none);
    REQUIRE("empty signal mask", sigprocmask(SIG_SETMASK, &none, NULL) == 0);

    /* 1. SIGUSR2 raised inside the SIGUSR1 handler runs nested in it. */
    install(SIGUSR1, on_usr1_raise_usr2, 0, 0);
    install(SIGUSR2, on_usr2, 0, 0);
    reset();
    CHECK_OK("raise SIGUSR1", raise(SIGUSR1));
    check_trace("SIGUSR2 runs nested inside the SIGUSR1 handler", "1<2<>2>1");
    CHECK_EQ("nesting depth reached 2", max_depth, 2);
    CHECK_EQ("SIGUSR2 was not left pending", pending_inside, 0);
    CHECK_EQ("SIGUSR1 is blocked inside its own handler", blocked_inside, 1);
    check_mask_empty("the mask is empty again after both handlers");

    /* 2. With SIGUSR2 in the handler's sa_mask it waits for the SIGUSR1 handler to return. */
    install(SIGUSR1, on_usr1_raise_usr2, 0, SIGUSR2);
    reset();
    CHECK_OK("raise SIGUSR1 (SIGUSR2 in sa_mask)", raise(SIGUSR1));
    check_trace("SIGUSR2 runs after the SIGUSR1 handler returns", "1<>12<>2");
    CHECK_EQ("depth stayed 1", max_depth, 1);
    CHECK_EQ("SIGUSR2 was pending inside the SIGUSR1 handler", pending_inside, 1);
    check_mask_empty("the mask is empty again after sa_mask");

    /* 3. SA_NODEFER: the handler is re-entered by its own signal. */
    install(SIGUSR1, on_usr1_raise_self, SA_NODEFER, 0);
    reset();
    reraise = 1;
    CHECK_OK("raise SIGUSR1 (SA_NODEFER)", raise(SIGUSR1));
    check_trace("SA_NODEFER: the handler runs inside itself", "1<1<>1>1");
    CHECK_EQ("SA_NODEFER: depth reached 2", max_depth, 2);
    CHECK_EQ("SA_NODEFER: two entries", entries, 2);
    CHECK_EQ("SA_NODEFER: SIGUSR1 is not blocked inside the handler", blocked_inside, 0);
    CHECK_EQ("SA_NODEFER: nothing was left pending", pending_inside, 0);

    /* Three levels deep with SA_NODEFER. */
    reset();
    reraise = 2;
    CHECK_OK("raise SIGUSR1 (SA_NODEFER, three levels)", raise(SIGUSR1));
    check_trace("SA_NODEFER: three levels", "1<1<1<>1>1>1");
    CHECK_EQ("SA_NODEFER: depth reached 3", max_depth, 3);

    /* 4. Without SA_NODEFER the second raise stays pending and runs once, afterwards. */
    install(SIGUSR1, on_usr1_raise_self, 0, 0);
    reset();
    reraise = 1;
    CHECK_OK("raise SIGUSR1 (no SA_NODEFER)", raise(SIGUSR1));
    check_trace("without SA_NODEFER: the second run follows the first", "1<>11<>1");
    CHECK_EQ("without SA_NODEFER: depth stayed 1", max_depth, 1);
    CHECK_EQ("without SA_NODEFER: two entries", entries, 2);
    CHECK_EQ("without SA_NODEFER: SIGUSR1 is blocked inside the handler", blocked_inside, 1);
    CHECK_EQ("without SA_NODEFER: the raise was pending inside the handler", pending_inside, 1);

    /* Raised twice while the handler runs: still one more run (classic signals coalesce). */
    reset();
    reraise = 0;
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);
    raise(SIGUSR1);
    CHECK_OK("unblock two pending SIGUSR1", sigprocmask(SIG_UNBLOCK, &usr1, NULL));
    check_trace("two pending SIGUSR1 run the handler once", "1<>1");
    check_mask_empty("the mask is empty at the end");
    return check_finish();
}
