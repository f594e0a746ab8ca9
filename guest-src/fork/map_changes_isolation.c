/*
 * munmap and mprotect after fork change only the caller's address space: the child unmaps and
 * protects pages of a private mapping and unmaps a shared one, the parent's mappings stay intact;
 * then the parent does the same and the child's stay intact. A shared mapping the child makes
 * read-only stays writable in the parent, and still shared.
 */
#include "fork.h"
#include "probe.h"
#include <stdint.h>
#include <sys/mman.h>

static long pg;

int main(void)
{
    pg = sysconf(_SC_PAGESIZE);
    REQUIRE("probe pipe", pipe2(probe_pipe, O_NONBLOCK) == 0);
    char *pa = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
    char *sa = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile char *sb = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mappings", pa != MAP_FAILED && sa != MAP_FAILED && sb != MAP_FAILED);
    for (int i = 0; i < 4; i++)
        pa[i * pg] = (char)('0' + i);
    sa[0] = 'S';

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_OK("child: munmap private page 1", munmap(pa + pg, (size_t)pg));
        CHECK_OK("child: mprotect private page 2 PROT_READ",
                 mprotect(pa + 2 * pg, (size_t)pg, PROT_READ));
        CHECK_OK("child: mprotect private page 3 PROT_NONE",
                 mprotect(pa + 3 * pg, (size_t)pg, PROT_NONE));
        CHECK_OK("child: munmap the shared mapping", munmap(sa, (size_t)pg));
        CHECK_OK("child: mprotect the second shared mapping PROT_READ",
                 mprotect((void *)sb, (size_t)pg, PROT_READ));
        check_probe("child: private page 1", pa + pg, "unmapped");
        check_probe("child: private page 2", pa + 2 * pg, "r-");
        check_probe("child: private page 3", pa + 3 * pg, "--");
        check_probe("child: the shared mapping", sa, "unmapped");
        check_probe("child: the second shared mapping", sb, "r-");
        pass_to_parent(&t);
        wait_for_parent(&t);
        check_probe("child: private page 0 after the parent's munmap", pa, "rw");
        CHECK_EQ("child: private page 0 keeps its contents", pa[0], '0');
        check_probe("child: private page 1 is still unmapped", pa + pg, "unmapped");
        check_probe("child: private page 2 is still read-only", pa + 2 * pg, "r-");
        CHECK_EQ("child: private page 2 keeps its contents", pa[2 * pg], '2');
        CHECK_EQ("child: the read-only shared mapping shows the parent's write", sb[0], 'W');
        child_exit();
    }
    wait_for_child(&t);
    for (int i = 1; i < 4; i++) {
        char name[80];
        snprintf(name, sizeof name, "parent: private page %d", i);
        check_probe(name, pa + i * pg, "rw");
        snprintf(name, sizeof name, "parent: private page %d keeps its contents", i);
        CHECK_EQ(name, pa[i * pg], '0' + i);
    }
    check_probe("parent: the shared mapping", sa, "rw");
    CHECK_EQ("parent: the shared mapping keeps its contents", sa[0], 'S');
    check_probe("parent: the second shared mapping", sb, "rw");
    sb[0] = 'W';
    CHECK_OK("parent: munmap private page 0", munmap(pa, (size_t)pg));
    CHECK_OK("parent: mprotect private page 2 PROT_NONE",
             mprotect(pa + 2 * pg, (size_t)pg, PROT_NONE));
    check_probe("parent: private page 0", pa, "unmapped");
    check_probe("parent: private page 2", pa + 2 * pg, "--");
    pass_to_child(&t);
    check_status("child exited 0", pid, "exit 0");
    return check_finish();
}
