/*
 * Cross-thread code modification, the architectural way: thread B calls a function in an RWX
 * page many times (so its translation is cached), then waits; thread A rewrites the function's
 * immediate with a store, cleans the line to the point of unification (DC CVAU), DSB ISH,
 * invalidates it (IC IVAU), DSB ISH, then sets a flag. B, once it sees the flag, executes ISB
 * and calls the function again: it must run the new code. Twenty rounds.
 *
 * B does not call the function while A writes it: the outcome of running code while another
 * CPU rewrites it is allowed to vary, and qemu-system's multi-threaded TCG (the gold lane's
 * machine) gives stale code there now and then, so only the ordered case is pinned.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#define ROUNDS 20
#define CALLS_BEFORE_PATCH 200

static volatile uint32_t *code;
static atomic_int patched;        /* the last round A has patched and published */
static atomic_int acked;          /* the last round B has checked */
static atomic_int ready;          /* the last round B has called the old code for, then stopped */
static int stray, stale;

/* movz w0, #imm; ret */
static uint32_t movz_w0(unsigned imm)
{
    return 0x52800000u | (imm << 5);
}

static int call_code(void)
{
    return ((int (*)(void))(uintptr_t)code)();
}

/* The sequence of the Arm ARM's "concurrent modification and execution" for one word. */
static void sync_icache(volatile uint32_t *p)
{
    __asm__ volatile("dc cvau, %0\n"
                     "dsb ish\n"
                     "ic ivau, %0\n"
                     "dsb ish\n"
                     "isb\n"
                     :
                     : "r"(p)
                     : "memory");
}

static void *runner(void *arg)
{
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        for (int i = 0; i < CALLS_BEFORE_PATCH; i++)
            if (call_code() != r)
                stray++;
        atomic_store_explicit(&ready, r, memory_order_release);
        while (atomic_load_explicit(&patched, memory_order_acquire) < r)
            ;
        __asm__ volatile("isb" ::: "memory");
        if (call_code() != r + 1)
            stale++;
        atomic_store_explicit(&acked, r, memory_order_release);
    }
    return NULL;
}

int main(void)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    REQUIRE("an RWX page", page != MAP_FAILED);
    code = page;
    code[0] = movz_w0(1);
    code[1] = 0xd65f03c0u; /* ret */
    sync_icache(code);
    sync_icache(code + 1);
    CHECK_EQ("the function returns 1", call_code(), 1);

    pthread_t t;
    REQUIRE("start the calling thread", pthread_create(&t, NULL, runner, NULL) == 0);
    int own_stale = 0;
    for (int r = 1; r <= ROUNDS; r++) {
        /* B has run the current code many times (its translation is cached) and waits. */
        while (atomic_load_explicit(&ready, memory_order_acquire) < r)
            ;
        code[0] = movz_w0((unsigned)r + 1);
        sync_icache(code);
        atomic_store_explicit(&patched, r, memory_order_release);
        if (call_code() != r + 1)
            own_stale++;
        while (atomic_load_explicit(&acked, memory_order_acquire) < r)
            ;
    }
    REQUIRE("join the calling thread", pthread_join(t, NULL) == 0);
    CHECK_EQ("the patching thread ran its own new code in every round", own_stale, 0);
    CHECK_EQ("the other thread ran the new code after the flag and an ISB in every round", stale, 0);
    CHECK_EQ("before each patch the other thread ran the code of its round", stray, 0);
    CHECK_EQ("the function returns the last value", call_code(), ROUNDS + 1);
    munmap(page, 4096);
    return check_finish();
}
