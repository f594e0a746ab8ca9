/*
 * Which pages a fork child finds resident (mincore), as Linux's dup_mmap/copy_page_range gives
 * them: a private anonymous mapping the parent wrote keeps exactly the parent's present pages in
 * the child, zero pages only read included; one never written (read-only, populated with zero
 * pages) has none; shared and file pages report their object's page cache. The contents come
 * along, and the locks do not: MADV_DONTNEED, refused on a locked range in the parent, works on
 * it in the child. A second fork after the parent zeroed a page it wrote before the first
 * checks the same again, in child and parent.
 */
#include "mm.h"

static char bits[64];

/* mincore of n pages as a string of 0 and 1, or "ENOMEM"-style errno names. */
static const char *residency(void *p, long n)
{
    unsigned char v[64];
    if (mincore(p, (size_t)(n * pg), v) != 0)
        return errname(errno);
    for (long i = 0; i < n; i++)
        bits[i] = (char)('0' + (v[i] & 1));
    bits[n] = 0;
    return bits;
}

static void check_resident(const char *name, void *p, long n, const char *want)
{
    const char *got = residency(p, n);
    check(name, strcmp(got, want) == 0, "got %s, want %s", got, want);
}

int main(void)
{
    mm_init();
    /* Locked mappings are populated: for writing where writable, with zero pages otherwise. */
    char *locked = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    REQUIRE("a locked private mapping", locked != MAP_FAILED);
    char *ro = mmap(NULL, (size_t)(4 * pg), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    REQUIRE("a locked read-only private mapping", ro != MAP_FAILED);
    char *pop = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    REQUIRE("a MAP_POPULATE private mapping", pop != MAP_FAILED);
    char *shared = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    REQUIRE("a locked shared anonymous mapping", shared != MAP_FAILED);
    /* Pages 0 and 3 written, page 5 only read (the zero page). */
    char *part = map_anon(8);
    part[0] = 'p';
    part[3 * pg] = 'q';
    (void)*(volatile char *)(part + 5 * pg);
    /* Only a zero written, to page 1. */
    char *zeroed = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a mapping that only gets a zero", zeroed != MAP_FAILED);
    memset(zeroed + pg, 0, (size_t)pg);
    /* Page 0 written, pages 1 and 2 locked with mlock. */
    char *ml = map_anon(4);
    ml[0] = 'm';
    CHECK_OK("mlock of pages 1 and 2", mlock(ml + pg, (size_t)(2 * pg)));
    /* A private file mapping: the file's pages are in the page cache, page 1 is written. */
    int fd = open("fork_residency.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    char buf[4096];
    memset(buf, 'f', sizeof buf);
    for (int i = 0; i < 4; i++)
        NEED("write the file", fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf);
    char *file = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("a private file mapping", file != MAP_FAILED);
    file[pg] = 'F';
    locked[0] = 'l';
    pop[2 * pg] = 'o';
    shared[2 * pg] = 's';

    check_resident("parent: the locked mapping", locked, 4, "1111");
    check_resident("parent: the read-only one", ro, 4, "1111");
    check_resident("parent: the partly written one", part, 8, "10010100");
    CHECK_ERR("parent: MADV_DONTNEED of the locked mapping", madvise(locked, (size_t)(4 * pg), MADV_DONTNEED),
              EINVAL);
    CHECK_ERR("parent: MADV_DONTNEED of the mlock'd pages", madvise(ml + pg, (size_t)pg, MADV_DONTNEED), EINVAL);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        check_resident("(1) child: the locked mapping", locked, 4, "1111");
        check_resident("(1) child: the read-only one, never written, has no pages", ro, 4, "0000");
        check_resident("(1) child: the MAP_POPULATE one", pop, 4, "1111");
        check_resident("(1) child: the shared one", shared, 4, "1111");
        check_resident("(1) child: the partly written one, its zero page included", part, 8, "10010100");
        check_resident("(1) child: the one that only got a zero", zeroed, 4, "0100");
        check_resident("(1) child: the mlock'd one", ml, 4, "1110");
        check_resident("(1) child: the private file mapping", file, 4, "1111");
        check("(1) child: the contents came along",
              locked[0] == 'l' && pop[2 * pg] == 'o' && shared[2 * pg] == 's' && part[0] == 'p' &&
                  part[3 * pg] == 'q' && ml[0] == 'm' && file[0] == 'f' && file[pg] == 'F' && ro[0] == 0 &&
                  part[5 * pg] == 0 && zeroed[pg] == 0,
              "contents differ");
        CHECK_OK("(1) child: MADV_DONTNEED of the mapping locked in the parent",
                 madvise(locked, (size_t)(4 * pg), MADV_DONTNEED));
        check_resident("(1) child: its pages are gone", locked, 4, "0000");
        CHECK_EQ("(1) child: and read as zero", locked[0], 0);
        CHECK_OK("(1) child: MADV_DONTNEED of the pages mlock'd in the parent",
                 madvise(ml + pg, (size_t)pg, MADV_DONTNEED));
        check_resident("(1) child: that page is gone", ml, 4, "1010");
        pass_to_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    check_child("(2) parent: the child exited 0", pid);
    check_resident("(2) parent: the locked mapping is as it was", locked, 4, "1111");
    check_resident("(2) parent: the read-only one too", ro, 4, "1111");
    check_resident("(2) parent: the partly written one too", part, 8, "10010100");
    check("(2) parent: the locked mapping kept its contents", locked[0] == 'l', "changed");

    /* Page 0 becomes zero again after a fork took its contents. */
    part[0] = 0;
    pid = fork_or_die();
    if (pid == 0) {
        check_resident("(3) second child: the partly written one", part, 8, "10010100");
        check("(3) second child: its contents", part[0] == 0 && part[3 * pg] == 'q', "contents differ");
        pass_to_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    check_child("(4) parent: the second child exited 0", pid);
    check_resident("(4) parent: the partly written one is as it was", part, 8, "10010100");
    close(fd);
    unlink("fork_residency.bin");
    return check_finish();
}
