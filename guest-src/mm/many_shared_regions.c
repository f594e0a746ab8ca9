/*
 * 10,000 shared regions at once, side by side in one reserved window: 10,000 separate
 * MAP_SHARED|MAP_ANONYMOUS pages (each its own object holding its own bytes) and then 10,000
 * mappings of the pages of one memfd (each seen through a second mapping of the whole memfd), each
 * set removed by one munmap spanning all of them; then 1,000 map-write-read-unmap cycles.
 *
 * The gold lane's emulated VM pays a broadcast TLB flush for every munmap of a touched page
 * (about 0.3 ms there), so the 10,000 regions go in one munmap each and the cycles stop at 1,000.
 */
#include "mm.h"

#define N 10000
#define CYCLES 1000

static char tag0(int i)
{
    return (char)(i & 0xff);
}

static char tag1(int i)
{
    return (char)(0x80 | (i >> 8));
}

int main(void)
{
    mm_init();
    size_t span = (size_t)N * (size_t)pg;
    char *win = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE("reserve a window of 10000 pages", win != MAP_FAILED);

    int mapped = 0;
    for (int i = 0; i < N; i++) {
        char *want = win + (size_t)i * (size_t)pg;
        char *p = mmap(want, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p != want)
            break;
        mapped++;
        p[0] = tag0(i);
        p[pg - 1] = tag1(i);
    }
    CHECK_EQ("10000 MAP_SHARED|MAP_ANONYMOUS pages mapped side by side and written", mapped, N);
    int good = 0;
    for (int i = 0; i < mapped; i++) {
        char *p = win + (size_t)i * (size_t)pg;
        good += p[0] == tag0(i) && p[pg - 1] == tag1(i) && p[1] == 0;
    }
    CHECK_EQ("every page holds its own bytes (no two share an object)", good, N);
    CHECK_OK("one munmap removes all 10000", munmap(win, span));
    check_probe("the first page", win, "unmapped");
    check_probe("the last page", win + span - 1, "unmapped");

    int fd = memfd_create("many", MFD_CLOEXEC);
    REQUIRE("a memfd of 10000 pages", fd >= 0 && ftruncate(fd, (off_t)span) == 0);
    mapped = 0;
    /* The window is free again (nothing else maps memory meanwhile). Page i of the window maps
     * page N-1-i of the memfd, so neighbours never merge. */
    for (int i = 0; i < N; i++) {
        char *want = win + (size_t)i * (size_t)pg;
        char *p = mmap(want, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                       (off_t)(N - 1 - i) * pg);
        if (p != want)
            break;
        mapped++;
        p[7] = tag0(i);
        p[8] = tag1(i);
    }
    CHECK_EQ("10000 mappings of the memfd's pages mapped and written", mapped, N);
    char *whole = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE("a second mapping of the whole memfd", whole != MAP_FAILED);
    good = 0;
    for (int i = 0; i < N; i++) {
        const char *q = whole + (size_t)(N - 1 - i) * (size_t)pg;
        good += q[7] == tag0(i) && q[8] == tag1(i);
    }
    CHECK_EQ("the whole mapping sees every page's bytes", good, N);
    char buf[2];
    CHECK_EQ("pread of the memfd's first page", pread(fd, buf, 2, 7), 2);
    check("sees the bytes written through the last mapping", buf[0] == tag0(N - 1) && buf[1] == tag1(N - 1),
          "differ");
    CHECK_OK("one munmap removes all 10000", munmap(win, span));
    check_probe("the middle page", win + span / 2, "unmapped");
    munmap(whole, span);
    close(fd);

    good = 0;
    for (int i = 0; i < CYCLES; i++) {
        char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        int fresh = p[pg] == 0;
        p[pg] = tag0(i);
        good += fresh && p[pg] == tag0(i) && munmap(p, (size_t)(2 * pg)) == 0;
    }
    CHECK_EQ("1000 map-write-read-unmap cycles, each on fresh zeroed memory", good, CYCLES);
    return check_finish();
}
