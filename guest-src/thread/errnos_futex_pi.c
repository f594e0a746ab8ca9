/*
 * FUTEX_UNLOCK_PI and FUTEX_TRYLOCK_PI error order, as Linux's futex_unlock_pi and
 * get_futex_key give it: the word is read first (EFAULT), a lock the caller does not own is
 * EPERM even on an unaligned word, and only a word the caller owns gets as far as the key,
 * where an unaligned one is EINVAL. TRYLOCK_PI takes no timeout, so a bad one is not read.
 */
#include "check.h"

#include "futex.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define FUTEX_TRYLOCK_PI 8
#define FUTEX_UNLOCK_PI 7

static long fx(void *uaddr, int op, uint32_t val, const void *timeout)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

int main(void)
{
    static uint32_t words[4] __attribute__((aligned(16)));
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    char *bytes = (char *)words;

    words[0] = 0;
    CHECK_ERR("UNLOCK_PI of an unowned word: EPERM", fx(&words[0], FUTEX_UNLOCK_PI, 0, NULL),
              EPERM);
    memset(words, 0, sizeof words);
    CHECK_ERR("UNLOCK_PI of an unowned unaligned word: EPERM",
              fx(bytes + 1, FUTEX_UNLOCK_PI, 0, NULL), EPERM);
    CHECK_ERR("UNLOCK_PI (private) of an unowned unaligned word: EPERM",
              fx(bytes + 2, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL), EPERM);
    memcpy(bytes + 1, &tid, 4);
    CHECK_ERR("UNLOCK_PI of an owned unaligned word: EINVAL",
              fx(bytes + 1, FUTEX_UNLOCK_PI, 0, NULL), EINVAL);
    CHECK_ERR("UNLOCK_PI of an unmapped word: EFAULT", fx((void *)8, FUTEX_UNLOCK_PI, 0, NULL),
              EFAULT);
    CHECK_ERR("UNLOCK_PI of an unmapped unaligned word: EFAULT",
              fx((void *)9, FUTEX_UNLOCK_PI, 0, NULL), EFAULT);

    /* A read-only word that is not ours: read, not owned. */
    uint32_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a read-only page", ro != MAP_FAILED);
    CHECK_ERR("UNLOCK_PI of an unowned read-only word: EPERM", fx(ro, FUTEX_UNLOCK_PI, 0, NULL),
              EPERM);

    /* TRYLOCK_PI never reads its fourth argument. */
    words[0] = 0;
    CHECK_EQ("TRYLOCK_PI with an unreadable timeout pointer takes the lock",
             fx(&words[0], FUTEX_TRYLOCK_PI, 0, (void *)8), 0);
    check("the word holds the caller's tid", words[0] == tid, "it holds another value");
    CHECK_ERR("TRYLOCK_PI of an unaligned word: EINVAL",
              fx(bytes + 5, FUTEX_TRYLOCK_PI, 0, NULL), EINVAL);
    CHECK_EQ("UNLOCK_PI of the owned word", fx(&words[0], FUTEX_UNLOCK_PI, 0, NULL), 0);
    CHECK_EQ("the word is free", words[0], 0);
    return check_finish();
}
