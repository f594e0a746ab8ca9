/*
 * futex(2) on a word in a MAP_PRIVATE file mapping, on a page inside the file and on one past
 * its end: a wait reads the word, so past the end it is EFAULT (the read faults in the kernel,
 * no SIGBUS), private or shared; a shared wake builds its key from the page, EFAULT as well.
 * The file then grows over the page (the wait reads it: EAGAIN) and shrinks again (EFAULT once
 * more), so a size remembered from an earlier call never decides.
 */
#include "check.h"
#include "futex.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    int fd = open("futex_eof.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a file", fd >= 0);
    REQUIRE("of 100 bytes", ftruncate(fd, 100) == 0);
    char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("a 2-page MAP_PRIVATE mapping of it", p != MAP_FAILED);
    uint32_t *in = (uint32_t *)p, *past = (uint32_t *)(p + pg);

    CHECK_ERR("FUTEX_WAIT_PRIVATE inside the file, another value: EAGAIN",
              futex(in, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0), EAGAIN);
    CHECK_ERR("FUTEX_WAIT inside the file, another value: EAGAIN",
              futex(in, FUTEX_WAIT, 1, 0, NULL, 0), EAGAIN);
    CHECK_EQ("FUTEX_WAKE inside the file: nobody woken", futex(in, FUTEX_WAKE, 1, 0, NULL, 0), 0);
    CHECK_ERR("FUTEX_WAIT_PRIVATE on the page past the end: EFAULT",
              futex(past, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAIT on the page past the end: EFAULT",
              futex(past, FUTEX_WAIT, 0, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAKE on the page past the end: EFAULT",
              futex(past, FUTEX_WAKE, 1, 0, NULL, 0), EFAULT);

    CHECK_OK("grow the file over the second page", ftruncate(fd, pg + 4));
    CHECK_ERR("FUTEX_WAIT_PRIVATE on the second page, another value: EAGAIN",
              futex(past, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0), EAGAIN);
    CHECK_EQ("FUTEX_WAKE on the second page: nobody woken",
             futex(past, FUTEX_WAKE, 1, 0, NULL, 0), 0);
    CHECK_EQ("the second page reads the grown file's zeroes", *past, 0);
    *past = 7;
    CHECK_ERR("FUTEX_WAIT_PRIVATE on the written private copy, another value: EAGAIN",
              futex(past, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0), EAGAIN);

    CHECK_OK("shrink the file back to 100 bytes", ftruncate(fd, 100));
    CHECK_ERR("FUTEX_WAIT_PRIVATE on the page past the end again: EFAULT",
              futex(past, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAIT on it: EFAULT", futex(past, FUTEX_WAIT, 0, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAKE on it: EFAULT", futex(past, FUTEX_WAKE, 1, 0, NULL, 0), EFAULT);
    CHECK_ERR("FUTEX_WAIT_PRIVATE inside the file still: EAGAIN",
              futex(in, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0), EAGAIN);

    munmap(p, (size_t)(2 * pg));
    close(fd);
    unlink("futex_eof.bin");
    return check_finish();
}
