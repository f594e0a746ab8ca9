/*
 * mincore: one byte per page, bit 0 set for resident pages and no other bit set; only what is
 * deterministic is checked (a touched page is resident, an untouched private anonymous page of a
 * small mapping is not, MAP_POPULATE and MADV_DONTNEED do what they say, file pages just written
 * are in the page cache); ENOMEM for unmapped ranges, EINVAL for an unaligned start, EFAULT for a
 * bad vector.
 */
#include "mm.h"

static unsigned char vec[64];

/* mincore into vec, after filling it with a marker so stale bytes cannot pass for answers. */
static int core(void *addr, size_t len)
{
    memset(vec, 0xee, sizeof vec);
    return mincore(addr, len, vec);
}

static int resident(unsigned char v)
{
    return v & 1;
}

int main(void)
{
    mm_init();
    char *a = map_anon(3);
    a[pg] = 1;
    CHECK_OK("mincore of 3 private anonymous pages", core(a, (size_t)(3 * pg)));
    CHECK_EQ("the touched middle page is resident", resident(vec[1]), 1);
    CHECK_EQ("the untouched first page is not", resident(vec[0]), 0);
    CHECK_EQ("the untouched last page is not", resident(vec[2]), 0);
    check("only bit 0 is ever set", (vec[0] | vec[1] | vec[2]) == 1, "bits %#x %#x %#x", vec[0], vec[1], vec[2]);
    CHECK_EQ("the vector ends after 3 bytes", vec[3], 0xee);
    CHECK_OK("MADV_DONTNEED of the middle page", madvise(a + pg, (size_t)pg, MADV_DONTNEED));
    core(a, (size_t)(3 * pg));
    CHECK_EQ("it is no longer resident", resident(vec[1]), 0);
    (void)*(volatile char *)(a + 2 * pg);
    core(a, (size_t)(3 * pg));
    CHECK_EQ("a page only read once is resident (the shared zero page)", resident(vec[2]), 1);

    char *pop = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    REQUIRE("MAP_POPULATE of 4 pages", pop != MAP_FAILED);
    core(pop, (size_t)(4 * pg));
    check("every page is resident before any touch", vec[0] & vec[1] & vec[2] & vec[3] & 1, "bits %#x %#x %#x %#x",
          vec[0], vec[1], vec[2], vec[3]);
    CHECK_OK("mincore of one byte", core(pop, 1));
    CHECK_OK("mincore with a length that is not a page multiple", core(pop, (size_t)pg + 1));

    int fd = open("mincore.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    char buf[8192];
    memset(buf, 'm', sizeof buf);
    REQUIRE("write a 2-page file", fd >= 0 && write(fd, buf, (size_t)(2 * pg)) == 2 * pg);
    char *f = mmap(NULL, (size_t)(2 * pg), PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE("map it", f != MAP_FAILED);
    core(f, (size_t)(2 * pg));
    check("pages just written are resident without any touch", vec[0] & vec[1] & 1, "bits %#x %#x", vec[0], vec[1]);
    char *sa = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared anonymous mapping", sa != MAP_FAILED);
    sa[0] = 1;
    core(sa, (size_t)(2 * pg));
    check("shared anonymous: touched resident, untouched not", vec[0] == 1 && vec[1] == 0, "bits %#x %#x", vec[0],
          vec[1]);
    CHECK_OK("mprotect PROT_NONE", mprotect(sa, (size_t)(2 * pg), PROT_NONE));
    CHECK_OK("mincore does not care about protection", core(sa, (size_t)(2 * pg)));
    CHECK_EQ("the touched page is still resident", resident(vec[0]), 1);

    CHECK_OK("mincore of length 0", core(a, 0));
    CHECK_ERR("an unaligned start", core(a + 1, (size_t)pg), EINVAL);
    munmap(a + pg, (size_t)pg);
    CHECK_ERR("a range with a hole", core(a, (size_t)(3 * pg)), ENOMEM);
    CHECK_ERR("an unmapped page", core(a + pg, (size_t)pg), ENOMEM);
    CHECK_ERR("a bad vector pointer", mincore(a, (size_t)pg, (unsigned char *)8), EFAULT);
    close(fd);
    unlink("mincore.bin");
    return check_finish();
}
