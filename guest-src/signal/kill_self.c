/* kill(getpid()) runs a handler; then a default-action SIGTERM ends the process by that signal. */
#include "check.h"
#include <signal.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
    got = sig;
}

int main(void)
{
    signal(SIGUSR1, on_usr1);
    CHECK_OK("kill self SIGUSR1", kill(getpid(), SIGUSR1));
    CHECK_EQ("handler saw SIGUSR1", got, SIGUSR1);
    CHECK_OK("kill with signal 0 probes", kill(getpid(), 0));
    CHECK_ERR("kill with an invalid signal", kill(getpid(), 65), EINVAL);
    out("about to die of SIGTERM\n");
    signal(SIGTERM, SIG_DFL);
    kill(getpid(), SIGTERM);
    out("FAIL still alive after SIGTERM\n");
    return 1;
}
