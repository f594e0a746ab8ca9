/*
 * Three generations: a grandchild's writes to MAP_SHARED|MAP_ANONYMOUS memory mapped by its
 * grandparent reach the grandparent; each generation reaps its own child and sees its status;
 * the grandparent cannot wait for its grandchild.
 */
#include "fork.h"
#include <sys/mman.h>

struct shared {
    char from_parent[8];
    char from_child[8];
    char from_grandchild[8];
    pid_t child_pid;       /* getpid() in the child */
    pid_t grandchild_ppid; /* getppid() in the grandchild */
    pid_t grandchild_pid;
};

int main(void)
{
    volatile struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap MAP_SHARED|MAP_ANONYMOUS", sh != MAP_FAILED);
    memcpy((char *)sh->from_parent, "gen1", 5);
    pid_t self = getpid();

    pid_t child = fork_child();
    if (child == 0) {
        /* Generation 2 holds the turn until it exits: the grandparent is in waitpid. */
        check("child sees the parent's write", strcmp((const char *)sh->from_parent, "gen1") == 0,
              "got %.8s", (const char *)sh->from_parent);
        CHECK_PID("child: getppid is the parent", getppid(), self);
        sh->child_pid = getpid();
        pid_t grandchild = fork_child();
        if (grandchild == 0) {
            /* Generation 3 holds the turn until it exits: the child is in waitpid. */
            check("grandchild sees the grandparent's write",
                  strcmp((const char *)sh->from_parent, "gen1") == 0, "got %.8s",
                  (const char *)sh->from_parent);
            sh->grandchild_ppid = getppid();
            sh->grandchild_pid = getpid();
            memcpy((char *)sh->from_grandchild, "gen3", 5);
            _exit(check_failures == 0 ? 33 : 1);
        }
        check_status("child reaps the grandchild: exit 33", grandchild, "exit 33");
        check("child sees the grandchild's write",
              strcmp((const char *)sh->from_grandchild, "gen3") == 0, "got %.8s",
              (const char *)sh->from_grandchild);
        CHECK_PID_ERR("child: no children are left", waitpid(-1, NULL, WNOHANG), ECHILD);
        memcpy((char *)sh->from_child, "gen2", 5);
        _exit(check_failures == 0 ? 22 : 1);
    }
    check_status("parent reaps the child: exit 22", child, "exit 22");
    check("parent sees the child's write", strcmp((const char *)sh->from_child, "gen2") == 0,
          "got %.8s", (const char *)sh->from_child);
    check("parent sees the grandchild's write",
          strcmp((const char *)sh->from_grandchild, "gen3") == 0, "got %.8s",
          (const char *)sh->from_grandchild);
    check("fork returned the child's own pid", sh->child_pid == child, "another pid");
    check("the grandchild's parent was the child", sh->grandchild_ppid == sh->child_pid,
          "getppid in the grandchild is another process");
    check("the grandchild is another process", sh->grandchild_pid != self &&
          sh->grandchild_pid != child && sh->grandchild_pid > 0, "same pid");
    int st;
    CHECK_PID_ERR("the grandparent cannot wait for its grandchild",
                  waitpid(sh->grandchild_pid, &st, 0), ECHILD);
    CHECK_PID_ERR("no children are left", waitpid(-1, &st, WNOHANG), ECHILD);
    return check_finish();
}
