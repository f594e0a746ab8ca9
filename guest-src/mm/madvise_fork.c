/*
 * Advice that acts at fork: MADV_DONTFORK leaves the range out of the child (unmapped there),
 * MADV_WIPEONFORK gives the child zero-filled private anonymous memory (and is refused for shared
 * memory); MADV_DOFORK and MADV_KEEPONFORK undo them. The parent keeps everything.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    char *dontfork = map_anon(2);
    char *wipe = map_anon(2);
    char *undone = map_anon(2);
    memset(dontfork, 'd', (size_t)(2 * pg));
    memset(wipe, 'w', (size_t)(2 * pg));
    memset(undone, 'u', (size_t)(2 * pg));
    CHECK_OK("MADV_DONTFORK", madvise(dontfork, (size_t)(2 * pg), MADV_DONTFORK));
    CHECK_OK("MADV_WIPEONFORK", madvise(wipe, (size_t)(2 * pg), MADV_WIPEONFORK));
    CHECK_OK("MADV_DONTFORK on another range", madvise(undone, (size_t)(2 * pg), MADV_DONTFORK));
    CHECK_OK("MADV_DOFORK undoes it", madvise(undone, (size_t)(2 * pg), MADV_DOFORK));
    CHECK_OK("MADV_WIPEONFORK on its second page", madvise(undone + pg, (size_t)pg, MADV_WIPEONFORK));
    CHECK_OK("MADV_KEEPONFORK undoes that", madvise(undone + pg, (size_t)pg, MADV_KEEPONFORK));
    char *sa = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a shared anonymous mapping", sa != MAP_FAILED);
    CHECK_ERR("MADV_WIPEONFORK on shared memory", madvise(sa, (size_t)pg, MADV_WIPEONFORK), EINVAL);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        check_probe("(1) child: the MADV_DONTFORK range", dontfork, "unmapped");
        check_probe("(1) child: its second page", dontfork + pg, "unmapped");
        check("(1) child: the MADV_WIPEONFORK range is zero", wipe[0] == 0 && wipe[2 * pg - 1] == 0, "old contents");
        check_probe("(1) child: and writable", wipe, "rw");
        check("(1) child: the range whose advice was undone is inherited", undone[0] == 'u' && undone[pg] == 'u',
              "contents differ");
        wipe[0] = 'c';
        pass_to_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    check_child("child exited 0", pid);
    check("(2) parent: the MADV_DONTFORK range is intact", dontfork[0] == 'd' && dontfork[2 * pg - 1] == 'd',
          "changed");
    check("(2) parent: the MADV_WIPEONFORK range is intact", wipe[0] == 'w' && wipe[2 * pg - 1] == 'w', "changed");
    return check_finish();
}
