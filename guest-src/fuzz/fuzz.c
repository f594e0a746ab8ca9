/*
 * fuzz — a seeded system call fuzzer that runs as a guest: `fuzz SEED ITERATIONS [BATCH [ONLY]]`.
 *
 * ONLY, `B` or `B:i,j,k`, replays batch B alone, and of its calls only those numbered i, j, k
 * (from 0; the others are still drawn, so the kept ones get the same arguments): the form a
 * minimised failure is saved in (`cargo xtask fuzz`).
 *
 * It makes ITERATIONS calls in batches of BATCH (default 200), each batch in a forked child
 * with a 5-second alarm, and prints one line per batch that did not end as a batch may: by
 * exiting 0 (its last act), by a signal a kernel sends for what the calls did (SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGPIPE, SIGXFSZ, SIGXCPU, the alarm's SIGALRM) or by the
 * parent's SIGKILL when a batch overstays its time. An emulator that panics, aborts or exits
 * on its own fails that test. The same seed makes the same calls with the same arguments.
 *
 * Safety first: the calls come from an allow-list of calls that act on the process itself and
 * on descriptors it made (no paths, no other processes, no SysV IPC, no sockets of other
 * families than AF_UNIX pairs made in advance), because the fuzzer also runs where system calls
 * reach a real host (qemu-user) with the rights of whoever runs it. Arguments are small ints,
 * -1, huge sizes, random flag words, descriptors (its own, closed, huge, negative) and
 * pointers: to valid memory, unmapped, read-only, PROT_NONE, one byte before the end of a
 * mapping, the last page below 1 TiB, above 1 TiB, kernel-half and tagged.
 */
#include "check.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static uint64_t state;

static uint64_t next(void)
{
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
    return n ? next() % n : 0;
}

/* The allow-list: calls on the process itself and on its own descriptors. */
static const long calls[] = {
    SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_preadv,
    SYS_pwritev, SYS_lseek, SYS_dup, SYS_dup3, SYS_close, SYS_pipe2, SYS_eventfd2,
    SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_ppoll, SYS_pselect6, SYS_mmap,
    SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_msync, SYS_mincore, SYS_mlock,
    SYS_munlock, SYS_brk, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_sigaltstack,
    SYS_rt_sigpending, SYS_rt_sigtimedwait, SYS_futex, SYS_getrandom, SYS_uname, SYS_sysinfo,
    SYS_getrusage, SYS_times, SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep,
    SYS_nanosleep, SYS_getpid, SYS_gettid, SYS_getppid, SYS_sched_yield, SYS_getcpu,
    SYS_memfd_create, SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime,
    SYS_signalfd4, SYS_sendmsg, SYS_recvmsg, SYS_sendto, SYS_recvfrom, SYS_splice, SYS_tee,
    SYS_vmsplice, SYS_sendfile, SYS_copy_file_range, SYS_getdents64, SYS_fstat, SYS_fstatfs,
    SYS_ftruncate, SYS_fallocate, SYS_fsync, SYS_fdatasync, SYS_getrlimit, SYS_setrlimit,
    SYS_timer_create, SYS_timer_settime, SYS_timer_gettime, SYS_timer_delete,
    SYS_set_robust_list, SYS_get_robust_list, SYS_set_tid_address, SYS_membarrier,
    SYS_wait4, SYS_waitid, SYS_capget, SYS_getitimer, SYS_setitimer, SYS_getgroups,
    SYS_getresuid, SYS_getresgid, SYS_sched_getaffinity, SYS_sched_getparam,
    SYS_sched_getscheduler, SYS_mbind, SYS_get_mempolicy, SYS_set_mempolicy, SYS_readahead,
    SYS_fadvise64, SYS_sync_file_range, SYS_flock, SYS_fchdir, SYS_getcwd, SYS_personality,
    SYS_umask, SYS_io_setup, SYS_io_uring_setup, SYS_epoll_pwait2, SYS_close_range,
    SYS_pkey_alloc, SYS_userfaultfd, SYS_rseq, SYS_restart_syscall,
};

static char *valid;      /* 64 KiB read-write */
static char *readonly;   /* one page read-only */
static char *noaccess;   /* one page PROT_NONE */
static int fds[16];
static int nfds;

static uint64_t pointer(void)
{
    const uint64_t tib = 1UL << 40;
    uint64_t tagged = (below(255) + 1) << 56;
    switch (below(11)) {
    case 0: return (uint64_t)(valid + below(65536 - 64));
    case 1: return (uint64_t)valid;
    case 2: return (uint64_t)readonly + below(4096);
    case 3: return (uint64_t)noaccess + below(4096);
    case 4: return (uint64_t)(valid + 65535);            /* one byte before the end */
    case 5: return tib - 4096 + below(4096);              /* the last page below 1 TiB */
    case 6: return tib + below(1UL << 30);                /* above 1 TiB */
    case 7: return 0xffff000000000000UL + below(1UL << 40); /* kernel half */
    case 8: return ((uint64_t)valid + below(4096)) | tagged;
    case 9: return below(0x10000);                        /* below mmap_min_addr */
    default: return 0;
    }
}

static uint64_t argument(void)
{
    switch (below(9)) {
    case 0: return below(8);                              /* small int */
    case 1: return (uint64_t)-1;
    case 2: return (uint64_t)1 << (40 + below(24));       /* huge size */
    case 3: return next() & next();                       /* a flag word with random bits */
    case 4: return nfds ? (uint64_t)fds[below(nfds)] : 0; /* a descriptor of its own */
    case 5: return 1000 + below(1 << 20);                 /* closed or huge descriptor */
    case 6: return (uint64_t)-(int64_t)(below(200) + 1);  /* negative */
    default: return pointer();
    }
}

static void setup(void)
{
    valid = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    readonly = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 65536; i++)
        valid[i] = (char)(next() % 0x2e); /* no '/' or '.': never a path outside */
    int p[2];
    if (pipe(p) == 0) {
        fds[nfds++] = p[0];
        fds[nfds++] = p[1];
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0) {
        fds[nfds++] = p[0];
        fds[nfds++] = p[1];
    }
    int m = (int)syscall(SYS_memfd_create, "fuzz", 0);
    if (m >= 0 && ftruncate(m, 8192) == 0)
        fds[nfds++] = m;
    int e = (int)syscall(SYS_eventfd2, 0, 0);
    if (e >= 0)
        fds[nfds++] = e;
    int ep = (int)syscall(SYS_epoll_create1, 0);
    if (ep >= 0)
        fds[nfds++] = ep;
}

/* The calls of the replayed batch that are made (NULL: all of them). */
static const char *keep;

static int kept(int i)
{
    if (!keep)
        return 1;
    for (const char *p = keep; *p;) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p)
            return 0;
        if (n == i)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* One batch, in a fresh child: BATCH calls, then exit 0. */
static void batch(int calls_in_batch)
{
    /* Standard streams go to a pipe nobody reads: no call can write into the transcript. */
    int sink[2];
    if (pipe(sink) == 0) {
        dup2(sink[1], 1);
        dup2(sink[1], 2);
        dup2(sink[0], 0);
    }
    alarm(5);
    setup();
    for (int i = 0; i < calls_in_batch; i++) {
        long nr = calls[below(sizeof calls / sizeof calls[0])];
        uint64_t a[6];
        for (int j = 0; j < 6; j++)
            a[j] = argument();
        /* Nothing may reach another process: wait only for own children, rlimits for self. */
        if (kept(i))
            syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    _exit(0);
}

/* The kernel's taint flags (an oops sets 'D', a warning 'W'); -1 if unreadable. */
static long tainted(void)
{
    FILE *f = fopen("/proc/sys/kernel/tainted", "r");
    long t = -1;
    if (f) {
        if (fscanf(f, "%ld", &t) != 1)
            t = -1;
        fclose(f);
    }
    return t;
}

static int allowed(int sig)
{
    switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP: case SIGSYS:
    case SIGPIPE: case SIGXFSZ: case SIGXCPU: case SIGALRM: case SIGKILL: case SIGVTALRM:
    case SIGPROF:
        return 1;
    default:
        return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        out("usage: fuzz SEED ITERATIONS [BATCH [B | B:i,j,k]]\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    long iterations = strtol(argv[2], NULL, 0);
    int per = argc > 3 ? atoi(argv[3]) : 200;
    if (per <= 0)
        per = 200;
    int batches = 0, bad = 0, ran = 0;
    /* On a real kernel (FUZZ_TAINT set): did the calls make it oops or warn? */
    int watch = getenv("FUZZ_TAINT") != NULL;
    long taint = watch ? tainted() : 0;
    if (taint < 0) {
        out("cannot read the kernel's taint flags\n");
        return 1;
    }
    long only = -1;
    if (argc > 4) {
        char *end;
        only = strtol(argv[4], &end, 10);
        keep = *end == ':' ? end + 1 : NULL;
    }
    for (long done = 0; done < iterations; done += per) {
        if (only >= 0 && batches != only) {
            batches++;
            continue;
        }
        ran++;
        state = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)batches + 1;
        int n = iterations - done < per ? (int)(iterations - done) : per;
        pid_t pid = fork();
        if (pid < 0) {
            out("batch %d: fork failed: %s\n", batches, errname(errno));
            return 1;
        }
        if (pid == 0)
            batch(n);
        /* The child's alarm ends most overstays; SIGKILL ends the rest after 10 s. */
        int st = 0;
        for (int waited = 0; waited < 100; waited++) {
            if (waitpid(pid, &st, WNOHANG) == pid)
                goto reaped;
            usleep(100000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    reaped:
        if (getenv("FUZZ_VERBOSE"))
            out("batch %d: %s %d\n", batches, WIFEXITED(st) ? "exit" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            out("batch %d (seed %llu): exit %d\n", batches, (unsigned long long)seed, WEXITSTATUS(st));
            bad++;
        } else if (WIFSIGNALED(st) && !allowed(WTERMSIG(st))) {
            out("batch %d (seed %llu): killed by signal %d\n", batches, (unsigned long long)seed,
                WTERMSIG(st));
            bad++;
        }
        batches++;
    }
    if (watch && tainted() != taint) {
        out("the kernel's taint flags changed: %ld -> %ld\n", taint, tainted());
        bad++;
    }
    out("%d batches, %s\n", ran, bad ? "some ended badly" : "every one ended as a batch may");
    return bad != 0;
}
