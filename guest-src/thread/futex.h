/*
 * futex.h — the futex(2) constants and a raw call, for the thread cases. The musl toolchain ships
 * no kernel headers (no <linux/futex.h>), so the values from the kernel's uapi are spelled here.
 */
#ifndef ELFVISOR_THREAD_FUTEX_H
#define ELFVISOR_THREAD_FUTEX_H

#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256

#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE (FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)

#define FUTEX_BITSET_MATCH_ANY 0xffffffffu

#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_ANDN 3
#define FUTEX_OP_XOR 4
#define FUTEX_OP_OPARG_SHIFT 8

#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_NE 1
#define FUTEX_OP_CMP_LT 2
#define FUTEX_OP_CMP_LE 3
#define FUTEX_OP_CMP_GT 4
#define FUTEX_OP_CMP_GE 5

#define FUTEX_OP(op, oparg, cmp, cmparg)                                                       \
    (((uint32_t)((op)&0xf) << 28) | ((uint32_t)((cmp)&0xf) << 24) |                           \
     ((uint32_t)((oparg)&0xfff) << 12) | (uint32_t)((cmparg)&0xfff))

/* futex(uaddr, op, val, timeout or val2, uaddr2, val3); -1 and errno on failure. */
__attribute__((unused)) static long futex(void *uaddr, int op, uint32_t val, long timeout_or_val2,
                                          void *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout_or_val2, uaddr2, val3);
}

__attribute__((unused)) static void pause_briefly(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

/*
 * Retries FUTEX_WAKE (`op`, with its flags) on `word` until it has woken `want` waiters in total
 * (a waiter may not be asleep yet); returns how many, or -1 and errno.
 */
__attribute__((unused)) static long wake_until(uint32_t *word, int op, long want)
{
    long total = 0;
    for (int i = 0; i < 20000 && total < want; i++) {
        long r = futex(word, op, (uint32_t)(want - total), 0, NULL, 0);
        if (r < 0)
            return r;
        total += r;
        if (total < want)
            pause_briefly();
    }
    return total;
}

/* The same for FUTEX_REQUEUE (`op`) from `from` to `to`: until `want` waiters have moved. */
__attribute__((unused)) static long requeue_until(uint32_t *from, uint32_t *to, int op, long want)
{
    long total = 0;
    for (int i = 0; i < 20000 && total < want; i++) {
        long r = futex(from, op, 0, want - total, to, 0);
        if (r < 0)
            return r;
        total += r;
        if (total < want)
            pause_briefly();
    }
    return total;
}

#endif
