/*
 * mmap_enomem — the address space exhausted: inaccessible anonymous mappings, from 64 GiB down
 * to one page, are made until each size fails with ENOMEM (none is ever another errno), so at
 * the end not one page is free; a fixed mapping over one of them still works, and after
 * everything is unmapped a 64 GiB mapping and the heap work again. How much fits differs
 * (elfvisor's guest space is 1 TiB, Linux's 256 TiB) and is not printed.
 */
#include "check.h"
#include <stdlib.h>
#include <sys/mman.h>

#define MAX_MAPS 32768

static struct {
    void *addr;
    size_t len;
} maps[MAX_MAPS];
static int nmaps;

int main(void)
{
    int other = 0, full = 0;
    for (size_t len = 64UL << 30; len >= 4096; len /= 2) {
        for (;;) {
            if (nmaps == MAX_MAPS) {
                full = 1;
                break;
            }
            void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                if (errno != ENOMEM)
                    other++;
                break;
            }
            maps[nmaps].addr = p;
            maps[nmaps].len = len;
            nmaps++;
        }
    }
    CHECK_EQ("the bookkeeping did not run out", full, 0);
    CHECK_EQ("every failure was ENOMEM", other, 0);
    CHECK_EQ("64 GiB mapped at least once", nmaps > 0 && maps[0].len == 64UL << 30, 1);
    CHECK_ERR("not one page is left", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
    char *last = maps[nmaps - 1].addr;
    CHECK_EQ("a fixed mapping over one of them",
             mmap(last, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                 last, 1);
    last[0] = 1;
    CHECK_EQ("usable", last[0], 1);

    int unmapped = 0;
    for (int i = 0; i < nmaps; i++)
        unmapped += munmap(maps[i].addr, maps[i].len) == 0;
    CHECK_EQ("everything unmapped", unmapped, nmaps);
    void *big = mmap(NULL, 64UL << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK_EQ("64 GiB again", big != MAP_FAILED, 1);
    char *heap = malloc(1 << 20);
    CHECK_EQ("the heap works", heap != NULL, 1);
    if (heap) {
        heap[(1 << 20) - 1] = 2;
        CHECK_EQ("its last byte", heap[(1 << 20) - 1], 2);
    }
    return check_finish();
}
