/*
 * getrandom — counts, flags and faults: a request is served up to its size, 0 bytes is 0,
 * unknown flags are EINVAL, a buffer with no writable byte is EFAULT, and one whose end runs
 * into an unmapped page gets the bytes before it (get_random_bytes_user copies as it goes, in
 * 64-byte blocks: how much of a block that straddles the fault lands is the architecture's
 * copy routine's, so every request here ends its blocks on the page boundary).
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>

int main(void)
{
    char *p = mmap(NULL, 3 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", p != MAP_FAILED);
    CHECK_EQ("100 bytes", syscall(SYS_getrandom, p, 100, 0), 100);
    CHECK_EQ("0 bytes", syscall(SYS_getrandom, p, 0, 0), 0);
    CHECK_EQ("GRND_NONBLOCK", syscall(SYS_getrandom, p, 16, GRND_NONBLOCK), 16);
    CHECK_ERR("an unknown flag", syscall(SYS_getrandom, p, 16, 0x100), EINVAL);
    CHECK_ERR("a null buffer", syscall(SYS_getrandom, NULL, 16, 0), EFAULT);
    CHECK_OK("unmap the last 64 KiB", munmap(p + 2 * 65536, 65536));
    CHECK_ERR("only unmapped bytes", syscall(SYS_getrandom, p + 2 * 65536, 16, 0), EFAULT);
    CHECK_EQ("the bytes before an unmapped page", syscall(SYS_getrandom, p, 3 * 65536, 0), 2 * 65536);
    CHECK_OK("make the first page read-only", mprotect(p, 4096, PROT_READ));
    CHECK_ERR("a read-only buffer", syscall(SYS_getrandom, p, 16, 0), EFAULT);
    CHECK_EQ("the bytes up to an unmapped page, from 192 bytes into a page",
             syscall(SYS_getrandom, p + 4096 + 192, 2 * 65536, 0), 2 * 65536 - 4096 - 192);
    return check_finish();
}
