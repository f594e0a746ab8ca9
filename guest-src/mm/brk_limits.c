/*
 * The program break at its edges: brk keeps an unaligned break exactly and maps up to the end of
 * its page, shrinking unmaps whole pages above the new break, and growth stops one page short of
 * the next mapping (a failed brk returns the old break). States are probed through system calls.
 */
#include "mm.h"

static char *brk_to(char *want)
{
    return (char *)syscall(SYS_brk, want);
}

static char *page_up(char *p)
{
    return (char *)(((uintptr_t)p + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1));
}

/* One check that brk(want) returns `expect`; names the result, never an address. */
static void check_brk(const char *name, char *want, char *expect, char *old)
{
    char *got = brk_to(want);
    check(name, got == expect, "%s", got == old ? "returned the old break" : got == want ? "returned the request" : "returned another value");
}

int main(void)
{
    mm_init();
    char *cur = brk_to(0);
    char *base = page_up(cur);
    check_brk("grow to an unaligned break", base + 100, base + 100, cur);
    check_brk("brk(0) reports it exactly", NULL, base + 100, cur);
    check_probe("the page holding the break is mapped to its end", base + pg - 1, "rw");
    check_probe("the page after it is not", base + pg, "unmapped");
    base[pg - 1] = 'e';
    check_brk("grow by 3 pages and 1 byte", base + 3 * pg + 1, base + 3 * pg + 1, base + 100);
    check_probe("the page holding the new break", base + 4 * pg - 1, "rw");
    check_probe("the page after it", base + 4 * pg, "unmapped");
    CHECK_EQ("a byte stored above the old break, in its page, is kept", base[pg - 1], 'e');
    CHECK_EQ("the grown pages are zero", base[2 * pg], 0);
    base[3 * pg] = 'x';

    check_brk("shrink into the middle of a page", base + pg + 10, base + pg + 10, base + 3 * pg + 1);
    check_probe("the page holding the break stays", base + 2 * pg - 1, "rw");
    check_probe("the pages above are unmapped", base + 2 * pg, "unmapped");
    check_probe("up to the old end", base + 3 * pg, "unmapped");
    check_brk("grow again", base + 4 * pg, base + 4 * pg, base + pg + 10);
    CHECK_EQ("the released page comes back zero", base[3 * pg], 0);

    char *next = base + 32 * pg;
    char *m = mmap(next, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    REQUIRE("map a page 32 pages above the heap", m == next);
    char *old = base + 4 * pg;
    check_brk("growing over that mapping fails and returns the old break", next + pg, old, old);
    check_brk("growing to its first byte fails too", next, old, old);
    check_brk("growing to one byte into the page below it fails", next - pg + 1, old, old);
    check_brk("growing to the start of the page below it succeeds", next - pg, next - pg, old);
    check_probe("the heap's last page", next - 2 * pg, "rw");
    check_probe("the gap page", next - pg, "unmapped");
    check_probe("the mapping is untouched", next, "r-");
    check_brk("shrink back", cur, cur, next - pg);
    munmap(m, (size_t)pg);
    return check_finish();
}
