/*
 * futex(2) wakes that read no word: a private FUTEX_WAKE (and FUTEX_WAKE_BITSET) keys on the
 * address alone, so on an unmapped page, a PROT_NONE page or a user address nothing is mapped
 * at it wakes nobody and returns 0; a shared wake must find the page (EFAULT), and a wait reads
 * the word (EFAULT). Misaligned is EINVAL and a bitset of 0 EINVAL before the address is
 * looked at; a non-user (tagged) address is EFAULT either way.
 */
#include "check.h"
#include "futex.h"
#include <stdint.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    REQUIRE("two pages", p != MAP_FAILED);
    uint32_t *gone = (uint32_t *)p, *none = (uint32_t *)(p + pg);
    REQUIRE("unmap the first", munmap(p, (size_t)pg) == 0);
    REQUIRE("the second PROT_NONE", mprotect(none, (size_t)pg, PROT_NONE) == 0);

    CHECK_EQ("FUTEX_WAKE_PRIVATE on an unmapped page: nobody woken",
             futex(gone, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0), 0);
    CHECK_EQ("FUTEX_WAKE_BITSET_PRIVATE on it: nobody woken",
             futex(gone, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, ~0u), 0);
    CHECK_ERR("FUTEX_WAKE (shared) on it: EFAULT", futex(gone, FUTEX_WAKE, 1, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAIT_PRIVATE on it: EFAULT",
              futex(gone, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0), EFAULT);

    CHECK_EQ("FUTEX_WAKE_PRIVATE on a PROT_NONE page: nobody woken",
             futex(none, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0), 0);
    CHECK_ERR("FUTEX_WAKE (shared) on it: EFAULT", futex(none, FUTEX_WAKE, 1, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAIT_PRIVATE on it: EFAULT",
              futex(none, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0), EFAULT);

    CHECK_ERR("FUTEX_WAKE_PRIVATE misaligned: EINVAL",
              futex((uint32_t *)(p + 1), FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0), EINVAL);
    CHECK_ERR("FUTEX_WAKE_BITSET_PRIVATE with bitset 0: EINVAL",
              futex(gone, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 0), EINVAL);

    /* The user half of the address space, far above anything mapped: a key, no word. */
    uint32_t *high = (uint32_t *)(uintptr_t)0xfff000000000ull;
    CHECK_EQ("FUTEX_WAKE_PRIVATE high in the user half: nobody woken",
             futex(high, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0), 0);
    CHECK_ERR("FUTEX_WAKE (shared) there: EFAULT", futex(high, FUTEX_WAKE, 1, 0, NULL, 0), EFAULT);
    uint32_t *tagged = (uint32_t *)((uintptr_t)none | (0x5aull << 56));
    CHECK_ERR("FUTEX_WAKE_PRIVATE through a tagged pointer: EFAULT",
              futex(tagged, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0), EFAULT);

    /* Mapped again: a wait reads the word once more. */
    REQUIRE("readable again", mprotect(none, (size_t)pg, PROT_READ | PROT_WRITE) == 0);
    CHECK_ERR("FUTEX_WAIT_PRIVATE on the readable page, another value: EAGAIN",
              futex(none, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0), EAGAIN);
    CHECK_EQ("FUTEX_WAKE on it: nobody woken", futex(none, FUTEX_WAKE, 1, 0, NULL, 0), 0);
    return check_finish();
}
