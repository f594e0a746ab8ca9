/*
 * The page-placement calls on a machine of one node (mm/mempolicy.c, mm/migrate.c):
 * migrate_pages from node 0 to node 0 moves nothing (0), an empty target set is EINVAL, node
 * masks too long or naming nodes past MAX_NUMNODES are EINVAL, no such process is ESRCH;
 * move_pages without nodes reports where each page is (node 0 for a page in memory, EFAULT for
 * an address with no mapping), with nodes moves them to node 0 (status 0), a node with no
 * memory is ENODEV, unknown flags EINVAL; set_mempolicy_home_node finds no range policy to
 * change in a range without one (ENOENT), takes an empty range (0) and refuses flags, offline
 * nodes and wrapped ranges (EINVAL).
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif
#define MPOL_MF_MOVE (1 << 1)
#define MPOL_MF_MOVE_ALL (1 << 2)

int main(void)
{
    unsigned long node0 = 1, none = 0, node1 = 2;
    CHECK_EQ("migrate_pages of ourselves from node 0 to node 0",
             syscall(SYS_migrate_pages, 0, 2, &node0, &node0), 0);
    CHECK_EQ("by our own pid", syscall(SYS_migrate_pages, getpid(), 2, &node0, &node0), 0);
    CHECK_EQ("from no node", syscall(SYS_migrate_pages, 0, 2, &none, &node0), 0);
    CHECK_ERR("to no node", syscall(SYS_migrate_pages, 0, 2, &node0, &none), EINVAL);
    CHECK_ERR("to node 1 only, which has no memory", syscall(SYS_migrate_pages, 0, 3, &node0,
                                                             &node1), EINVAL);
    CHECK_ERR("a mask longer than a page of bits", syscall(SYS_migrate_pages, 0, 4096 * 8 + 2,
                                                           &node0, &node0), EINVAL);
    CHECK_ERR("an unreadable mask", syscall(SYS_migrate_pages, 0, 2, (void *)8, &node0), EFAULT);
    CHECK_ERR("no such process", syscall(SYS_migrate_pages, 0x3fffffff, 2, &node0, &node0), ESRCH);

    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", map != MAP_FAILED);
    map[0] = 1;
    map[page] = 1;
    munmap(map + 2 * page, page);
    void *pages[3] = {map, map + page, map + 2 * page};
    int status[3] = {-99, -99, -99};
    CHECK_EQ("move_pages without nodes", syscall(SYS_move_pages, 0, 3, pages, NULL, status, 0), 0);
    check("pages in memory are on node 0, an unmapped address is EFAULT",
          status[0] == 0 && status[1] == 0 && status[2] == -EFAULT, "%d %d %d", status[0],
          status[1], status[2]);
    int nodes[3] = {0, 0, 0};
    status[0] = status[1] = status[2] = -99;
    CHECK_EQ("move_pages to node 0", syscall(SYS_move_pages, 0, 3, pages, nodes, status,
                                             MPOL_MF_MOVE), 0);
    check("the mapped pages are on node 0 now, the unmapped one EFAULT",
          status[0] == 0 && status[1] == 0 && status[2] == -EFAULT, "%d %d %d", status[0],
          status[1], status[2]);
    int far[1] = {1};
    CHECK_ERR("to node 1", syscall(SYS_move_pages, 0, 1, pages, far, status, MPOL_MF_MOVE),
              ENODEV);
    far[0] = -1;
    CHECK_ERR("to node -1", syscall(SYS_move_pages, 0, 1, pages, far, status, MPOL_MF_MOVE),
              ENODEV);
    CHECK_ERR("unknown flags", syscall(SYS_move_pages, 0, 1, pages, NULL, status, 1), EINVAL);
    CHECK_EQ("no pages", syscall(SYS_move_pages, 0, 0, pages, NULL, status, 0), 0);
    CHECK_ERR("an unreadable page list", syscall(SYS_move_pages, 0, 1, (void *)8, NULL, status, 0),
              EFAULT);
    CHECK_ERR("no such process", syscall(SYS_move_pages, 0x3fffffff, 1, pages, NULL, status, 0),
              ESRCH);

    /* Only a range's own mbind policy takes a home node: with none in the range, ENOENT. */
    CHECK_ERR("set_mempolicy_home_node over a range without a policy",
              syscall(SYS_set_mempolicy_home_node, (unsigned long)map, 2 * page, 0, 0), ENOENT);
    CHECK_ERR("over a range with a hole", syscall(SYS_set_mempolicy_home_node, (unsigned long)map,
                                                  3 * page, 0, 0), ENOENT);
    CHECK_ERR("with flags", syscall(SYS_set_mempolicy_home_node, (unsigned long)map, page, 0, 1),
              EINVAL);
    CHECK_ERR("node 1, offline", syscall(SYS_set_mempolicy_home_node, (unsigned long)map, page, 1,
                                         0), EINVAL);
    CHECK_ERR("node 4096", syscall(SYS_set_mempolicy_home_node, (unsigned long)map, page, 4096, 0),
              EINVAL);
    CHECK_ERR("a range that wraps", syscall(SYS_set_mempolicy_home_node, -(unsigned long)page,
                                            2 * page, 0, 0), EINVAL);
    CHECK_EQ("an empty range", syscall(SYS_set_mempolicy_home_node, (unsigned long)map, 0, 0, 0), 0);
    return check_finish();
}
