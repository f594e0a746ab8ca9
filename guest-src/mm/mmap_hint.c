/*
 * The address argument without MAP_FIXED is a hint: used as given when the range is free, rounded
 * down to its page when unaligned, and ignored (without touching the occupant) when the range is
 * taken. Addresses are compared, never printed.
 */
#include "mm.h"

static char *map_at(char *hint, long pages)
{
    return mmap(hint, (size_t)(pages * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(void)
{
    mm_init();
    char *win = mmap(NULL, (size_t)(16 * pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("reserve a window", win != MAP_FAILED);
    munmap(win, (size_t)(16 * pg));

    char *h = map_at(win + 4 * pg, 2);
    check("a free hint is used as given", h == win + 4 * pg, "another address");
    h[0] = 'h';
    char *o = map_at(win + 4 * pg, 1);
    check("an occupied hint gives another address", o != MAP_FAILED && o != win + 4 * pg, "same address");
    check("outside the occupant", o != MAP_FAILED && (o + pg <= h || o >= h + 2 * pg), "overlaps");
    CHECK_EQ("the occupant is untouched", h[0], 'h');
    munmap(o, (size_t)pg);
    char *part = map_at(win + 3 * pg, 2);
    check("a hint whose range is partly taken gives another address", part != MAP_FAILED && part != win + 3 * pg,
          "same address");
    check("outside the occupant", part != MAP_FAILED && (part + 2 * pg <= h || part >= h + 2 * pg), "overlaps");
    munmap(part, (size_t)(2 * pg));
    char *un = map_at(win + 8 * pg + 1, 1);
    /* round_hint_to_min() masks the hint down to its page before the search. */
    check("an unaligned free hint is rounded down to its page", un == win + 8 * pg,
          un == win + 9 * pg ? "rounded up" : "another address");
    munmap(un, (size_t)pg);
    munmap(h, (size_t)(2 * pg));
    char *again = map_at(win + 4 * pg, 2);
    check("a hint freed again is used again", again == win + 4 * pg, "another address");
    CHECK_EQ("as fresh memory", again[0], 0);
    munmap(again, (size_t)(2 * pg));
    return check_finish();
}
