/*
 * MAP_GROWSDOWN: a fault just below such a mapping grows it down to the faulting page (seen
 * afterwards as mapped, zero-filled memory), as far as the stack guard gap above the next
 * accessible mapping below allows; a fault inside the gap is SIGSEGV/SEGV_MAPERR.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    fault_install();
    /* A 1024-page window; its lowest page stays mapped (readable) as the neighbour below. */
    char *win = mmap(NULL, (size_t)(1024 * pg), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve a window", win != MAP_FAILED);
    munmap(win + pg, (size_t)(1023 * pg));
    char *top = win + 1023 * pg;
    char *g = mmap(top, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
    REQUIRE("MAP_GROWSDOWN at the top of the window", g == top);
    g[0] = 'g';
    check_probe("the page below it before any fault", top - pg, "unmapped");
    check_writes("the page just below the mapping", top - pg + 5, 'x');
    check_probe("the page below it now", top - pg, "rw");
    CHECK_EQ("the grown page holds the write", top[-pg + 5], 'x');
    check_reads("64 pages below the mapping", top - 64 * pg, 0);
    check_probe("a page in between, never touched", top - 32 * pg, "rw");
    CHECK_EQ("the original page is intact", g[0], 'g');
    /* The neighbour ends at win + pg; the stack guard gap (256 pages by default) starts there. */
    check_fault("16 pages above the neighbour", win + 17 * pg, ACC_READ, SIGSEGV, SEGV_MAPERR);
    check_probe("the faulting page stays unmapped", win + 17 * pg, "unmapped");
    CHECK_OK("munmap the grown mapping", munmap(top - 64 * pg, (size_t)(65 * pg)));
    munmap(win, (size_t)pg);
    return check_finish();
}
