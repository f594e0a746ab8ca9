/* mremap of private anonymous memory: grow with MAYMOVE, shrink, move to a fixed address. */
#include "check.h"
#include <sys/mman.h>

static int pattern_ok(const unsigned char *p, long len)
{
    for (long i = 0; i < len; i++)
        if (p[i] != (unsigned char)(i % 251))
            return 0;
    return 1;
}

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", p != MAP_FAILED);
    for (long i = 0; i < 2 * pg; i++)
        p[i] = (unsigned char)(i % 251);

    unsigned char *g = mremap(p, 2 * pg, 16 * pg, MREMAP_MAYMOVE);
    REQUIRE("grow to 16 pages with MREMAP_MAYMOVE", g != MAP_FAILED);
    check("contents move with the mapping", pattern_ok(g, 2 * pg), "pattern lost");
    check("grown part is zero", g[2 * pg] == 0 && g[16 * pg - 1] == 0, "non-zero");
    g[16 * pg - 1] = 9;

    unsigned char *s = mremap(g, 16 * pg, 4 * pg, 0);
    check("shrink in place", s == g, "moved");
    check("shrunk mapping keeps its data", pattern_ok(s, 2 * pg), "pattern lost");

    unsigned char *target = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *f = mremap(s, 4 * pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, target + 2 * pg);
    check("MREMAP_FIXED moves to the given address", f == target + 2 * pg, "other address");
    check("moved data intact", pattern_ok(f, 2 * pg), "pattern lost");

    errno = 0;
    check("MREMAP_FIXED without MAYMOVE", mremap(f, pg, pg, MREMAP_FIXED, target) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("mremap of an unaligned address", mremap(f + 1, pg, 2 * pg, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("mremap with an unknown flag", mremap(f, pg, 2 * pg, 0x80) == MAP_FAILED && errno == EINVAL,
          "errno %s", errname(errno));
    errno = 0;
    check("mremap of an unmapped range", mremap(p + 64 * pg * 1024, pg, 2 * pg, 0) == MAP_FAILED && errno == EFAULT,
          "errno %s", errname(errno));
    CHECK_OK("munmap", munmap(target, 8 * pg));
    return check_finish();
}
