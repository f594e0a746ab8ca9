/* Private anonymous mmap/munmap/mprotect, and the errors for bad arguments. */
#include "check.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap 4 pages", p != MAP_FAILED);
    check("mmap result is page aligned", ((uintptr_t)p & (uintptr_t)(pg - 1)) == 0, "unaligned");
    int zero = 1;
    for (long i = 0; i < 4 * pg; i++)
        zero &= p[i] == 0;
    check("fresh anonymous memory is zero", zero, "non-zero byte");
    for (long i = 0; i < 4 * pg; i++)
        p[i] = (unsigned char)(i * 7);
    int same = 1;
    for (long i = 0; i < 4 * pg; i++)
        same &= p[i] == (unsigned char)(i * 7);
    check("written pattern reads back", same, "pattern differs");

    CHECK_OK("munmap the second page", munmap(p + pg, pg));
    check("pages around the hole are intact",
          p[pg - 1] == (unsigned char)((pg - 1) * 7) && p[2 * pg] == (unsigned char)(2 * pg * 7),
          "neighbouring page changed");
    CHECK_OK("mprotect the first page read-only", mprotect(p, pg, PROT_READ));
    CHECK_EQ("read-only page still reads", p[3], (unsigned char)21);
    CHECK_OK("mprotect it back to read-write", mprotect(p, pg, PROT_READ | PROT_WRITE));
    p[3] = 1;
    CHECK_EQ("writable again", p[3], 1);
    CHECK_ERR("mprotect over the hole", mprotect(p, 3 * pg, PROT_READ), ENOMEM);
    /* Raw syscall: musl's mprotect() rounds the address down before the kernel can refuse it. */
    CHECK_ERR("mprotect of an unaligned address", syscall(SYS_mprotect, p + 1, pg, PROT_READ), EINVAL);

    unsigned char *fixed = mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED fills the hole at the given address", fixed == p + pg, "other address");
    CHECK_EQ("MAP_FIXED page is zero", fixed[0], 0);
    unsigned char *over = mmap(p, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED over a mapped page replaces it", over == p && over[3] == 0, "old contents kept");
    CHECK_OK("munmap all", munmap(p, 4 * pg));
    CHECK_OK("munmap of an unmapped range succeeds", munmap(p, 4 * pg));

    errno = 0;
    check("mmap without SHARED or PRIVATE", mmap(NULL, pg, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("mmap of length 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("file mmap of a bad fd", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 77, 0) == MAP_FAILED && errno == EBADF,
          "errno %s", errname(errno));
    CHECK_ERR("munmap of an unaligned address", munmap(p + 1, pg), EINVAL);
    CHECK_ERR("munmap of length 0", munmap(p, 0), EINVAL);
    return check_finish();
}
