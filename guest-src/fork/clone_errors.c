/*
 * clone and clone3 that fail: every combination Linux refuses (copy_clone_args_from_user,
 * clone3_args_valid, clone3_stack_valid, kernel_clone, copy_process) returns its errno, creates
 * nothing, and leaves every register but x0 as it was, the stack pointer first: each call is
 * made with a valid child stack, fifty times in a row, from one assembly block that loads known
 * values into x1-x9 and stores what it finds there after the svc.
 */
#include "check.h"

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif
#define CLONE_CLEAR_SIGHAND_ 0x100000000ULL
#define CLONE_INTO_CGROUP_ 0x200000000ULL

#define NR_CLONE 220
#define NR_CLONE3 435
#define ROUNDS 50

struct clone_args_ {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

static char child_stack[1 << 16] __attribute__((aligned(16)));
static uint64_t word;

/* What one call left behind: x0, then x1-x9 and sp after the svc. */
struct after {
    long ret;
    uint64_t x[10]; /* x1..x9, sp */
};

#define PAT(n) (0x5a5a000000000000ULL | (n))

/*
 * Makes system call `nr` with x0-x4 from `in` and x5-x7, x9 set to known patterns; returns
 * what x0-x9 and sp hold afterwards. The stack pointer is put back before the compiler's code
 * runs again, so a call that moved it is reported instead of crashing.
 */
static __attribute__((noinline)) void raw_call(long nr, const uint64_t in[5], struct after *out)
{
    uint64_t sp0;
    __asm__ volatile("mov %0, sp" : "=r"(sp0));
    uint64_t pats[4] = {PAT(5), PAT(6), PAT(7), PAT(9)};
    __asm__ volatile("ldp x0, x1, [%[in]]\n"
                     "ldp x2, x3, [%[in], #16]\n"
                     "ldr x4, [%[in], #32]\n"
                     "ldp x5, x6, [%[p]]\n"
                     "ldp x7, x9, [%[p], #16]\n"
                     "mov x8, %[nr]\n"
                     "svc #0\n"
                     "mov x10, sp\n"
                     "mov sp, %[sp0]\n"
                     "str x0, [%[o]]\n"
                     "stp x1, x2, [%[o], #8]\n"
                     "stp x3, x4, [%[o], #24]\n"
                     "stp x5, x6, [%[o], #40]\n"
                     "stp x7, x8, [%[o], #56]\n"
                     "stp x9, x10, [%[o], #72]\n"
                     :
                     : [in] "r"(in), [p] "r"(pats), [nr] "r"(nr), [sp0] "r"(sp0), [o] "r"(out)
                     : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
                       "memory", "cc");
    out->x[9] ^= sp0; /* 0 when sp is unchanged */
}

/* The first register that changed, or 0. */
static int changed_register(long nr, const uint64_t in[5], const struct after *a)
{
    uint64_t want[10] = {in[1], in[2], in[3], in[4], PAT(5), PAT(6), PAT(7), (uint64_t)nr,
                         PAT(9), 0};
    for (int i = 0; i < 10; i++)
        if (a->x[i] != want[i])
            return i + 1; /* 1..9: x1..x9, 10: sp */
    return 0;
}

/* A call that should never create anything: a child that appears leaves at once. */
static void leave_if_child(const struct after *a, uint64_t flags)
{
    if (a->ret == 0) {
        if (flags & CLONE_THREAD)
            syscall(SYS_exit, 0);
        _exit(0);
    }
}

/* Runs the call ROUNDS times and reports one check for all of them. */
static void expect_fail(const char *name, long nr, const uint64_t in[5], uint64_t flags,
                        int want_errno)
{
    for (int i = 0; i < ROUNDS; i++) {
        struct after a;
        raw_call(nr, in, &a);
        leave_if_child(&a, flags);
        if (a.ret != -want_errno) {
            check(name, 0, "round %d: returned %s, want %s", i,
                  a.ret < 0 && a.ret > -4096 ? errname((int)-a.ret) : "a child", errname(want_errno));
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            return;
        }
        int r = changed_register(nr, in, &a);
        if (r) {
            check(name, 0, "round %d: %s%d changed", i, r == 10 ? "sp" : "x", r == 10 ? 0 : r);
            return;
        }
    }
    check(name, 1, "%s", "");
}

static struct clone_args_ args;

static void clone3_fail(const char *name, size_t size, int want_errno)
{
    uint64_t in[5] = {(uint64_t)&args, size, PAT(2), PAT(3), PAT(4)};
    expect_fail(name, NR_CLONE3, in, args.flags, want_errno);
}

/* args reset to a valid fork with a valid child stack. */
static void base(void)
{
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)child_stack;
    args.stack_size = sizeof child_stack;
}

static void clone_fail(const char *name, uint64_t flags, int want_errno)
{
    uint64_t in[5] = {flags, (uint64_t)child_stack + sizeof child_stack, (uint64_t)&word, 0,
                      (uint64_t)&word};
    expect_fail(name, NR_CLONE, in, flags, want_errno);
}

int main(void)
{
    /* The size and the copy (copy_clone_args_from_user). */
    base();
    clone3_fail("clone3 size past a page: E2BIG", 4097, E2BIG);
    clone3_fail("clone3 size below the first version: EINVAL", 63, EINVAL);
    clone3_fail("clone3 size zero: EINVAL", 0, EINVAL);
    {
        static unsigned char big[128] __attribute__((aligned(8)));
        memcpy(big, &args, sizeof args);
        big[100] = 1;
        uint64_t in[5] = {(uint64_t)big, sizeof big, PAT(2), PAT(3), PAT(4)};
        expect_fail("clone3 non-zero bytes past the last field: E2BIG", NR_CLONE3, in, 0, E2BIG);
        uint64_t bad[5] = {0, sizeof args, PAT(2), PAT(3), PAT(4)};
        expect_fail("clone3 args at NULL: EFAULT", NR_CLONE3, bad, 0, EFAULT);
    }
    base();
    args.set_tid_size = 1;
    clone3_fail("clone3 set_tid_size without set_tid: EINVAL", sizeof args, EINVAL);
    base();
    args.set_tid = (uint64_t)&word;
    clone3_fail("clone3 set_tid without a size: EINVAL", sizeof args, EINVAL);
    args.set_tid_size = 33;
    clone3_fail("clone3 set_tid_size past the namespace levels: EINVAL", sizeof args, EINVAL);
    args.set_tid = 8;
    args.set_tid_size = 1;
    clone3_fail("clone3 set_tid unreadable: EFAULT", sizeof args, EFAULT);
    base();
    args.exit_signal = 65;
    clone3_fail("clone3 exit_signal past _NSIG: EINVAL", sizeof args, EINVAL);
    args.exit_signal = 0x100 | SIGCHLD;
    clone3_fail("clone3 exit_signal past CSIGNAL: EINVAL", sizeof args, EINVAL);
    base();
    args.flags = CLONE_INTO_CGROUP_;
    clone3_fail("clone3 CLONE_INTO_CGROUP with the first version: EINVAL", 64, EINVAL);

    /* clone3_args_valid and clone3_stack_valid. */
    base();
    args.flags = 1ULL << 40;
    clone3_fail("clone3 unknown flag: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_DETACHED;
    clone3_fail("clone3 CLONE_DETACHED: EINVAL", sizeof args, EINVAL);
    args.flags = SIGCHLD;
    clone3_fail("clone3 a signal in the flags: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_VM | CLONE_SIGHAND | CLONE_CLEAR_SIGHAND_;
    clone3_fail("clone3 CLONE_SIGHAND with CLONE_CLEAR_SIGHAND: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    clone3_fail("clone3 a thread with an exit signal: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_PARENT;
    clone3_fail("clone3 CLONE_PARENT with an exit signal: EINVAL", sizeof args, EINVAL);
    base();
    args.stack_size = 0;
    clone3_fail("clone3 a stack without a size: EINVAL", sizeof args, EINVAL);
    base();
    args.stack = 0;
    clone3_fail("clone3 a size without a stack: EINVAL", sizeof args, EINVAL);
    base();
    args.stack_size = ~0ULL - 4096;
    clone3_fail("clone3 a stack past the address space: EINVAL", sizeof args, EINVAL);

    /* kernel_clone and copy_process. */
    base();
    args.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
    args.pidfd = args.parent_tid = (uint64_t)&word;
    clone3_fail("clone3 pidfd and parent tid in one word: EINVAL", sizeof args, EINVAL);
    base();
    args.flags = CLONE_FS | CLONE_NEWNS;
    clone3_fail("clone3 CLONE_FS with CLONE_NEWNS: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_FS | CLONE_NEWUSER;
    clone3_fail("clone3 CLONE_FS with CLONE_NEWUSER: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_SIGHAND;
    clone3_fail("clone3 CLONE_SIGHAND without CLONE_VM: EINVAL", sizeof args, EINVAL);
    args.exit_signal = 0;
    args.flags = CLONE_VM | CLONE_THREAD;
    clone3_fail("clone3 CLONE_THREAD without CLONE_SIGHAND: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWPID;
    clone3_fail("clone3 a thread in a new pid namespace: EINVAL", sizeof args, EINVAL);
    args.flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_PIDFD;
    args.pidfd = (uint64_t)&word;
    clone3_fail("clone3 a pidfd for a thread: EINVAL", sizeof args, EINVAL);

    /* clone: the same checks on its 32-bit flags; the vfork form. */
    clone_fail("clone CLONE_THREAD without CLONE_SIGHAND: EINVAL", CLONE_VM | CLONE_THREAD,
               EINVAL);
    clone_fail("clone CLONE_SIGHAND without CLONE_VM: EINVAL", CLONE_SIGHAND | SIGCHLD, EINVAL);
    clone_fail("clone CLONE_FS with CLONE_NEWNS: EINVAL", CLONE_FS | CLONE_NEWNS | SIGCHLD,
               EINVAL);
    clone_fail("clone pidfd and parent tid in one word: EINVAL",
               CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, EINVAL);
    clone_fail("clone CLONE_PIDFD with CLONE_DETACHED: EINVAL",
               CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, EINVAL);
    clone_fail("vfork form with CLONE_THREAD but no CLONE_SIGHAND: EINVAL",
               CLONE_VM | CLONE_VFORK | CLONE_THREAD | SIGCHLD, EINVAL);
    clone_fail("vfork form, a thread in a new user namespace: EINVAL",
               CLONE_VM | CLONE_VFORK | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWUSER, EINVAL);

    /* A clone3 that succeeds leaves the parent's registers too; the child gets 0. */
    base();
    args.stack = args.stack_size = 0;
    {
        uint64_t in[5] = {(uint64_t)&args, sizeof args, PAT(2), PAT(3), PAT(4)};
        struct after a;
        raw_call(NR_CLONE3, in, &a);
        if (a.ret == 0)
            _exit(changed_register(NR_CLONE3, in, &a) ? 1 : 5);
        check("clone3 fork: a child", a.ret > 0, "returned %ld", a.ret);
        CHECK_EQ("clone3 fork: the parent's registers", changed_register(NR_CLONE3, in, &a), 0);
        int status = 0;
        CHECK_EQ("clone3 fork: reaped", waitpid((pid_t)a.ret, &status, 0), a.ret);
        check("clone3 fork: the child's registers", WIFEXITED(status) && WEXITSTATUS(status) == 5,
              "status %#x", status);
    }
    CHECK_ERR("no other child was created", waitpid(-1, NULL, WNOHANG), ECHILD);
    return check_finish();
}
