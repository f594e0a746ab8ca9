/*
 * MAP_SHARED|MAP_ANONYMOUS: every mmap call creates its own object (two mappings never see each
 * other), while one mapping stays shared with a forked child in both directions; a private
 * anonymous mapping next to it is copied at fork instead.
 */
#include "mm.h"

int main(void)
{
    mm_init();
    volatile char *a = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile char *b = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("two MAP_SHARED|MAP_ANONYMOUS mappings", a != MAP_FAILED && b != MAP_FAILED && a != b);
    check("fresh shared anonymous memory is zero", a[0] == 0 && a[pg - 1] == 0 && b[0] == 0, "non-zero");
    a[0] = 'A';
    b[1] = 'B';
    CHECK_EQ("the second mapping does not see the first's write", b[0], 0);
    CHECK_EQ("the first mapping does not see the second's write", a[1], 0);

    volatile char *priv = map_anon(1);
    priv[0] = 'p';
    struct turns t;
    turns_open(&t);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        CHECK_EQ("(1) child sees the parent's pre-fork shared write", a[0], 'A');
        CHECK_EQ("(1) child sees the parent's pre-fork private write", priv[0], 'p');
        a[100] = 'c';
        b[100] = 'd';
        priv[0] = 'c';
        CHECK_OK("(1) child makes its view of the first mapping read-only",
                 mprotect((void *)a, (size_t)pg, PROT_READ));
        pass_to_parent(&t);
        wait_for_parent(&t);
        CHECK_EQ("(3) child sees the parent's post-fork shared write", a[200], 'P');
        CHECK_EQ("(3) child does not see the parent's private write", priv[1], 0);
        CHECK_EQ("(3) child still sees the shared object the parent unmapped", b[300], 'Q');
        b[400] = 'R';
        child_exit();
    }
    wait_for_child(&t);
    CHECK_EQ("(2) parent sees the child's write to the first mapping", a[100], 'c');
    CHECK_EQ("(2) parent sees the child's write to the second mapping", b[100], 'd');
    CHECK_EQ("(2) parent does not see the child's private write", priv[0], 'p');
    a[200] = 'P';
    check("(2) the child's mprotect left the parent's mapping writable", a[200] == 'P', "lost");
    priv[1] = 'x';
    b[300] = 'Q';
    CHECK_OK("(2) parent unmaps the second mapping", munmap((void *)b, (size_t)pg));
    pass_to_child(&t);
    check_child("child exited 0", pid);
    CHECK_EQ("the child's writes outlive the child", a[100], 'c');
    CHECK_OK("munmap", munmap((void *)a, (size_t)pg));
    return check_finish();
}
