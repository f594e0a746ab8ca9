/*
 * The floating-point and SIMD registers of interrupted code survive a handler that clobbers them
 * all: values held in v0..v31 around a kill() system call and in a spin loop interrupted by
 * setitimer, d8..d15 of a computation that calls raise() inside its loop, the same computation
 * interrupted by an interval timer, and FPCR (rounding mode) changed by the handler. The
 * handler's ucontext holds a struct fpsimd_context (magic 0x46508001 in uc_mcontext.__reserved)
 * with the interrupted v registers and FPCR.
 */
#include "check.h"
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <ucontext.h>

#define FPSIMD_MAGIC_VALUE 0x46508001u
#define NREGS 32

/* The records of uc_mcontext.__reserved (arm64 asm/sigcontext.h), declared here. */
struct ctx_head {
    uint32_t magic;
    uint32_t size;
};
struct fpsimd_record {
    struct ctx_head head;
    uint32_t fpsr;
    uint32_t fpcr;
    unsigned char vregs[NREGS][16];
};

/*
 * fp_kill(in, out, pid, sig): loads v0..v31 from in, makes the kill system call, stores v0..v31
 * to out; returns kill's result. d8..d15 are saved and restored, as the ABI requires.
 */
long fp_kill(const void *in, void *out, long pid, long sig);
/*
 * fp_spin(in, out, flag, count): loads v0..v31 from in, spins until *flag is non-zero or count
 * runs out, stores v0..v31 to out; returns what is left of count (0: the flag never came).
 */
long fp_spin(const void *in, void *out, volatile int *flag, long count);
/* The spin loop's instructions: [fp_spin_loop, fp_spin_done). */
extern const char fp_spin_loop[], fp_spin_done[];
/* Overwrites every v register (and so d8..d15, against the ABI: only a handler calls it). */
void trash_fp(void);

#define SAVE_D8_D15                                                                            \
    "    stp d8, d9, [sp, #-64]!\n"                                                            \
    "    stp d10, d11, [sp, #16]\n"                                                            \
    "    stp d12, d13, [sp, #32]\n"                                                            \
    "    stp d14, d15, [sp, #48]\n"
#define RESTORE_D8_D15                                                                         \
    "    ldp d10, d11, [sp, #16]\n"                                                            \
    "    ldp d12, d13, [sp, #32]\n"                                                            \
    "    ldp d14, d15, [sp, #48]\n"                                                            \
    "    ldp d8, d9, [sp], #64\n"
#define PAIRS(op, base)                                                                        \
    "    " op " q0, q1, [" base ", #0]\n"                                                      \
    "    " op " q2, q3, [" base ", #32]\n"                                                     \
    "    " op " q4, q5, [" base ", #64]\n"                                                     \
    "    " op " q6, q7, [" base ", #96]\n"                                                     \
    "    " op " q8, q9, [" base ", #128]\n"                                                    \
    "    " op " q10, q11, [" base ", #160]\n"                                                  \
    "    " op " q12, q13, [" base ", #192]\n"                                                  \
    "    " op " q14, q15, [" base ", #224]\n"                                                  \
    "    " op " q16, q17, [" base ", #256]\n"                                                  \
    "    " op " q18, q19, [" base ", #288]\n"                                                  \
    "    " op " q20, q21, [" base ", #320]\n"                                                  \
    "    " op " q22, q23, [" base ", #352]\n"                                                  \
    "    " op " q24, q25, [" base ", #384]\n"                                                  \
    "    " op " q26, q27, [" base ", #416]\n"                                                  \
    "    " op " q28, q29, [" base ", #448]\n"                                                  \
    "    " op " q30, q31, [" base ", #480]\n"
#define MOVI4(a, b, c, d)                                                                      \
    "    movi v" #a ".16b, #0xa5\n"                                                            \
    "    movi v" #b ".16b, #0x5a\n"                                                            \
    "    movi v" #c ".16b, #0xc3\n"                                                            \
    "    movi v" #d ".16b, #0x3c\n"

__asm__(".text\n"
        ".global fp_kill\n"
        ".type fp_kill, %function\n"
        "fp_kill:\n" SAVE_D8_D15 "    mov x9, x0\n"
        "    mov x10, x1\n" PAIRS("ldp", "x9") "    mov x0, x2\n"
        "    mov x1, x3\n"
        "    mov x8, #129\n" /* __NR_kill */
        "    svc #0\n" PAIRS("stp", "x10") RESTORE_D8_D15 "    ret\n"
        ".size fp_kill, . - fp_kill\n"

        ".global fp_spin\n"
        ".type fp_spin, %function\n"
        "fp_spin:\n" SAVE_D8_D15 "    mov x9, x0\n"
        "    mov x10, x1\n" PAIRS("ldp", "x9") ".global fp_spin_loop\n"
        "fp_spin_loop:\n"
        "1:  ldr w11, [x2]\n"
        "    cbnz w11, 2f\n"
        "    subs x3, x3, #1\n"
        "    b.ne 1b\n"
        ".global fp_spin_done\n"
        "fp_spin_done:\n"
        "2:\n" PAIRS("stp", "x10") "    mov x0, x3\n" RESTORE_D8_D15 "    ret\n"
        ".size fp_spin, . - fp_spin\n"

        ".global trash_fp\n"
        ".type trash_fp, %function\n"
        "trash_fp:\n" MOVI4(0, 1, 2, 3) MOVI4(4, 5, 6, 7) MOVI4(8, 9, 10, 11)
            MOVI4(12, 13, 14, 15) MOVI4(16, 17, 18, 19) MOVI4(20, 21, 22, 23)
                MOVI4(24, 25, 26, 27) MOVI4(28, 29, 30, 31) "    ret\n"
        ".size trash_fp, . - trash_fp\n");

static unsigned long get_fpcr(void)
{
    unsigned long v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void set_fpcr(unsigned long v)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

#define FPCR_RMODE_RZ (3ul << 22)
#define FPCR_RMODE_RP (1ul << 22)

/* ---- the handler ---- */

static volatile int hits, spin_flag, set_fpcr_in_handler, waiting_for_spin;
static volatile int seen_magic, seen_count;
static unsigned char seen_vregs[NREGS][16];
static volatile uint32_t seen_fpcr;
static volatile double handler_result;

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    if (waiting_for_spin) {
        /* The interval timer may fire before the loop has loaded its registers: only a
           signal that interrupted the loop itself counts. */
        uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
        if (pc < (uintptr_t)fp_spin_loop || pc >= (uintptr_t)fp_spin_done || spin_flag) {
            trash_fp();
            return;
        }
    }
    hits++;
    /* Walk the records of __reserved for the FPSIMD one. */
    const unsigned char *base = (const unsigned char *)&uc->uc_mcontext.__reserved;
    size_t limit = sizeof uc->uc_mcontext.__reserved, off = 0;
    seen_magic = 0;
    while (off + sizeof(struct ctx_head) <= limit) {
        struct ctx_head head;
        memcpy(&head, base + off, sizeof head);
        if (head.magic == 0 || head.size < sizeof head || head.size > limit - off)
            break;
        if (head.magic == FPSIMD_MAGIC_VALUE && head.size >= sizeof(struct fpsimd_record)) {
            const struct fpsimd_record *rec = (const struct fpsimd_record *)(base + off);
            seen_magic = 1;
            seen_fpcr = rec->fpcr;
            memcpy(seen_vregs, rec->vregs, sizeof seen_vregs);
            break;
        }
        off += head.size;
    }
    /* Floating-point work of its own, then every v register overwritten. */
    volatile double x = 1.0;
    for (int i = 0; i < 40; i++)
        x = x * 1.25 + 0.5 / (i + 1);
    handler_result = x;
    if (set_fpcr_in_handler)
        set_fpcr(FPCR_RMODE_RP);
    spin_flag = 1;
    seen_count++;
    trash_fp();
}

/* ---- a computation whose eight accumulators live across raise() calls ---- */

static volatile int raising;

__attribute__((noinline)) static double compute(long n)
{
    double a = 1.0, b = 0.5, c = 0.25, d = 2.0, e = 3.0, f = 0.125, g = 1.5, h = 0.75;
    for (long i = 0; i < n; i++) {
        a = a * 0.9999993 + b * 1.1e-6;
        b = b * 1.0000007 - c * 0.9e-6;
        c = c * 0.9999991 + d * 1.3e-6;
        d = d * 1.0000003 - e * 0.7e-6;
        e = e * 0.9999997 + f * 1.7e-6;
        f = f * 1.0000011 - g * 0.3e-6;
        g = g * 0.9999989 + h * 1.9e-6;
        h = h * 1.0000005 - a * 0.5e-6;
        if (raising && (i & 127) == 0)
            raise(SIGUSR1);
    }
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

static int same_double(double x, double y)
{
    return memcmp(&x, &y, sizeof x) == 0;
}

/* The number of v registers (of 32) whose bytes differ between two dumps. */
static int differing(const unsigned char a[NREGS][16], const unsigned char b[NREGS][16])
{
    int n = 0;
    for (int i = 0; i < NREGS; i++)
        n += memcmp(a[i], b[i], 16) != 0;
    return n;
}

static void fill(unsigned char in[NREGS][16], int seed)
{
    for (int i = 0; i < NREGS; i++)
        for (int j = 0; j < 16; j++)
            in[i][j] = (unsigned char)(seed + i * 29 + j * 7 + ((i * j) >> 2));
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    REQUIRE("sigaction SIGUSR1", sigaction(SIGUSR1, &sa, NULL) == 0);
    REQUIRE("sigaction SIGALRM", sigaction(SIGALRM, &sa, NULL) == 0);

    /* 1. v0..v31 loaded, kill() to self, stored: the handler trashed them in between. */
    static unsigned char regs_in[NREGS][16], regs_out[NREGS][16];
    fill(regs_in, 11);
    memset(regs_out, 0, sizeof regs_out);
    hits = 0;
    long r = fp_kill(regs_in, regs_out, getpid(), SIGUSR1);
    CHECK_EQ("kill from the register-loaded code", r, 0);
    CHECK_EQ("the handler ran", hits, 1);
    CHECK_EQ("the handler's ucontext has an FPSIMD record (magic 0x46508001)", seen_magic, 1);
    CHECK_EQ("the ucontext holds the v registers set before kill", differing(seen_vregs, regs_in), 0);
    CHECK_EQ("v0..v31 are intact after the handler returned", differing(regs_out, regs_in), 0);
    check("the handler's own floating-point result", handler_result > 1.0, "%g",
          (double)handler_result);

    /* 2. The same with the signal landing in a spin loop, from an interval timer. */
    fill(regs_in, 97);
    memset(regs_out, 0, sizeof regs_out);
    hits = 0;
    spin_flag = 0;
    waiting_for_spin = 1;
    struct itimerval it = {{0, 5 * 1000}, {0, 5 * 1000}};
    REQUIRE("setitimer 5 ms interval", setitimer(ITIMER_REAL, &it, NULL) == 0);
    long left = fp_spin(regs_in, regs_out, &spin_flag, 2000L * 1000 * 1000);
    struct itimerval stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &stop, NULL);
    waiting_for_spin = 0;
    check("SIGALRM interrupted the spin loop", left > 0 && hits == 1, "left %ld, hits %d", left,
          (int)hits);
    CHECK_EQ("spin: the ucontext has the FPSIMD record", seen_magic, 1);
    CHECK_EQ("spin: the ucontext holds the spinning code's v registers",
             differing(seen_vregs, regs_in), 0);
    CHECK_EQ("spin: v0..v31 are intact after the handler returned", differing(regs_out, regs_in), 0);

    /* 3. FPCR: the handler changes the rounding mode; sigreturn puts the interrupted one back. */
    set_fpcr_in_handler = 1;
    hits = 0;
    set_fpcr(FPCR_RMODE_RZ);
    unsigned long before = get_fpcr();
    raise(SIGUSR1);
    unsigned long after = get_fpcr();
    set_fpcr(0);
    set_fpcr_in_handler = 0;
    CHECK_EQ("FPCR: the handler ran", hits, 1);
    CHECK_EQ("FPCR round-toward-zero was set", before & (3ul << 22), FPCR_RMODE_RZ);
    CHECK_EQ("FPCR is the interrupted code's after the handler", after, before);
    CHECK_EQ("the ucontext's fpcr is the interrupted code's", seen_fpcr, before);

    /* 4. d8..d15 across raise() inside a computation loop. */
    raising = 0;
    double want = compute(20000);
    raising = 1;
    hits = 0;
    double got = compute(20000);
    raising = 0;
    CHECK_EQ("raise() inside the loop ran the handler 157 times", hits, 157);
    check("the computation's result is exactly as without signals", same_double(got, want),
          "got %a, want %a", got, want);

    /* 5. The same computation interrupted by an interval timer, until three signals landed. */
    it.it_value.tv_usec = 1000;
    it.it_interval.tv_usec = 1000;
    hits = 0;
    int rounds = 0, wrong = 0;
    REQUIRE("setitimer 1 ms interval", setitimer(ITIMER_REAL, &it, NULL) == 0);
    while (hits < 3 && rounds < 2000) {
        double g2 = compute(20000);
        wrong += !same_double(g2, want);
        rounds++;
    }
    setitimer(ITIMER_REAL, &stop, NULL);
    check("the interval timer interrupted the computation", hits >= 3, "hits %d in %d rounds",
          (int)hits, rounds);
    CHECK_EQ("every interrupted computation gave the exact result", wrong, 0);
    return check_finish();
}
