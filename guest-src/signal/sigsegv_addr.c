/* SIGSEGV handlers see the faulting address and the right si_code, then escape with siglongjmp. */
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

static sigjmp_buf env;
static void *volatile fault_addr;
static volatile int fault_code, fault_signo;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_signo = sig;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(env, 1);
}

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", p != MAP_FAILED);
    munmap(p + pg, pg);
    volatile char *volatile hole = p + pg + 123;
    if (sigsetjmp(env, 1) == 0) {
        (void)*hole;
        check("read of an unmapped page faults", 0, "no fault");
    } else {
        CHECK_EQ("SIGSEGV delivered", fault_signo, SIGSEGV);
        check("si_addr is the unmapped address", fault_addr == (void *)hole, "off by %ld",
              (long)((char *)fault_addr - (char *)hole));
        CHECK_EQ("si_code is SEGV_MAPERR", fault_code, SEGV_MAPERR);
    }

    mprotect(p, pg, PROT_READ);
    volatile char *volatile ro = p + 77;
    if (sigsetjmp(env, 1) == 0) {
        *ro = 1;
        check("write to a read-only page faults", 0, "no fault");
    } else {
        check("si_addr is the read-only address", fault_addr == (void *)ro, "off by %ld",
              (long)((char *)fault_addr - (char *)ro));
        CHECK_EQ("si_code is SEGV_ACCERR", fault_code, SEGV_ACCERR);
    }

    volatile char *volatile null_ptr = (volatile char *)0x10;
    if (sigsetjmp(env, 1) == 0) {
        (void)*null_ptr;
        check("read near NULL faults", 0, "no fault");
    } else {
        check("si_addr near NULL", fault_addr == (void *)0x10, "other address");
    }
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK_EQ("siglongjmp restored the signal mask", sigismember(&cur, SIGSEGV), 0);
    return check_finish();
}
