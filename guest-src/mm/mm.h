/*
 * mm.h — helpers shared by the mm cases: the page size, catching SIGSEGV/SIGBUS around one
 * access, probing a page through system calls, turn-taking across fork, SysV keys and cleanup.
 *
 * Fault checks print what was expected (signal, si_code) and whether si_addr was exact, never the
 * address itself.
 */
#ifndef ELFVISOR_MM_H
#define ELFVISOR_MM_H

#include "check.h"
#include "probe.h"
#include "turns.h"
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>

CHECK_UNUSED static long pg;


/* Sets pg; call first. */
CHECK_UNUSED static void mm_init(void)
{
    pg = sysconf(_SC_PAGESIZE);
}

/* A private anonymous read-write mapping of n pages, or the test ends. */
CHECK_UNUSED static char *map_anon(long pages)
{
    char *p = mmap(NULL, (size_t)(pages * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    NEED("mmap scratch pages", p != MAP_FAILED);
    return p;
}

/* An mmap call that must fail with the given errno. */
#define MMAP_ERR(name, call, want)                                                             \
    do {                                                                                       \
        errno = 0;                                                                             \
        void *r_ = (call);                                                                     \
        check(name, r_ == MAP_FAILED && errno == (want), "errno %s, want %s", errname(errno),   \
              errname(want));                                                                  \
    } while (0)

/* ---- faults ---- */

CHECK_UNUSED static sigjmp_buf fault_env;
CHECK_UNUSED static volatile int fault_sig, fault_code;
CHECK_UNUSED static void *volatile fault_addr;

CHECK_UNUSED static void fault_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    siglongjmp(fault_env, 1);
}

/* Catches SIGSEGV and SIGBUS from now on. */
CHECK_UNUSED static void fault_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

/*
 * Performs one access at p: a byte load, a byte store of `v`, or a call (p must hold code or
 * fault). Returns 1 when it faulted (fault_sig/code/addr say how); the load result goes to *got.
 */
CHECK_UNUSED static int try_access(volatile char *p, enum access kind, char v, char *got)
{
    fault_sig = 0;
    fault_code = 0;
    fault_addr = NULL;
    if (sigsetjmp(fault_env, 1) != 0)
        return 1;
    switch (kind) {
    case ACC_READ: {
        char c = *p;
        if (got)
            *got = c;
        break;
    }
    case ACC_WRITE:
        *p = v;
        break;
    case ACC_EXEC:
        ((void (*)(void))(uintptr_t)p)();
        break;
    }
    return 0;
}

CHECK_UNUSED static const char *sig_name(int sig)
{
    switch (sig) {
    case 0: return "no signal";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    default: return "another signal";
    }
}

CHECK_UNUSED static const char *code_name(int sig, int code)
{
    if (sig == SIGSEGV && code == SEGV_MAPERR)
        return "SEGV_MAPERR";
    if (sig == SIGSEGV && code == SEGV_ACCERR)
        return "SEGV_ACCERR";
    if (sig == SIGBUS && code == BUS_ADRALN)
        return "BUS_ADRALN";
    if (sig == SIGBUS && code == BUS_ADRERR)
        return "BUS_ADRERR";
    if (sig == SIGBUS && code == BUS_OBJERR)
        return "BUS_OBJERR";
    return "another code";
}

CHECK_UNUSED static const char *access_name(enum access kind)
{
    return kind == ACC_READ ? "read" : kind == ACC_WRITE ? "write" : "exec";
}

/* One check: the access at p raises `sig` with `code`, and si_addr is exactly p. */
CHECK_UNUSED static void check_fault(const char *what, volatile char *p, enum access kind, int sig,
                                     int code)
{
    char name[256];
    snprintf(name, sizeof name, "%s %s: %s %s at the address", access_name(kind), what,
             sig_name(sig), code_name(sig, code));
    if (!try_access(p, kind, 1, NULL)) {
        check(name, 0, "no fault");
        return;
    }
    check(name, fault_sig == sig && fault_code == code && fault_addr == (void *)p,
          "%s %s, si_addr %s", sig_name(fault_sig), code_name(fault_sig, fault_code),
          fault_addr == (void *)p ? "exact" : "differs");
}

/* One check: reading p does not fault and yields `want`. */
CHECK_UNUSED static void check_reads(const char *what, volatile char *p, char want)
{
    char got = 0;
    char name[256];
    snprintf(name, sizeof name, "read %s: 0x%02x", what, (unsigned char)want);
    if (try_access(p, ACC_READ, 0, &got))
        check(name, 0, "%s %s", sig_name(fault_sig), code_name(fault_sig, fault_code));
    else
        check(name, got == want, "got 0x%02x", (unsigned char)got);
}

/* One check: writing `v` at p does not fault. */
CHECK_UNUSED static void check_writes(const char *what, volatile char *p, char v)
{
    char name[256];
    snprintf(name, sizeof name, "write %s: no fault", what);
    if (try_access(p, ACC_WRITE, v, NULL))
        check(name, 0, "%s %s", sig_name(fault_sig), code_name(fault_sig, fault_code));
    else
        check(name, 1, "%s", "");
}


/* The child's exit: its own verdict as the status. */
CHECK_UNUSED static void child_exit(void)
{
    _exit(check_failures == 0 ? 0 : 1);
}

/* Waits for the child and checks that it exited 0. */
CHECK_UNUSED static void check_child(const char *name, pid_t pid)
{
    int st = 0;
    pid_t w = waitpid(pid, &st, 0);
    check(name, w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

/* ---- SysV segments: cleanup and keys ---- */

/* Segments removed at exit(), so a failing run leaves none behind. */
CHECK_UNUSED static int shm_owned[16];
CHECK_UNUSED static int shm_nowned;

CHECK_UNUSED static void shm_remove_owned(void)
{
    for (int i = 0; i < shm_nowned; i++)
        shmctl(shm_owned[i], IPC_RMID, NULL);
}

/* Returns id after arranging its IPC_RMID at exit (when id >= 0). */
CHECK_UNUSED static int shm_owned_id(int id)
{
    if (id < 0 || shm_nowned == (int)(sizeof shm_owned / sizeof shm_owned[0]))
        return id;
    if (shm_nowned == 0)
        atexit(shm_remove_owned);
    shm_owned[shm_nowned++] = id;
    return id;
}

/* A key no other live process uses: derived from the pid, tagged per use. */
CHECK_UNUSED static int mm_key(int tag)
{
    return (int)(0x40000000u | ((unsigned)tag << 23) | ((unsigned)getpid() & 0x7fffffu));
}

#endif
