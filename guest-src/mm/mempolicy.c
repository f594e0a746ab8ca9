/*
 * NUMA memory policy on a machine of one node: set_mempolicy and get_mempolicy (modes, flags,
 * node masks, MPOL_F_MEMS_ALLOWED, MPOL_F_ADDR, MPOL_F_NODE), the policy inherited by a
 * thread and a fork child, and mbind's checks (alignment, holes, flags), each with its errors.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4

static long set_pol(int mode, unsigned long *mask, unsigned long maxnode)
{
    return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}

static long get_pol(int *mode, unsigned long *mask, unsigned long maxnode, void *addr,
                    unsigned long flags)
{
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static int thread_mode = -1;
static unsigned long thread_mask;

static void *in_thread(void *arg)
{
    (void)arg;
    get_pol(&thread_mode, &thread_mask, 64, NULL, 0);
    return NULL;
}

int main(void)
{
    int mode = -1;
    unsigned long mask = ~0ul;
    CHECK_OK("get_mempolicy", get_pol(&mode, &mask, 64, NULL, 0));
    CHECK_EQ("the default policy", mode, MPOL_DEFAULT);
    CHECK_EQ("with no nodes", mask, 0);
    mask = 0;
    CHECK_OK("MPOL_F_MEMS_ALLOWED", get_pol(&mode, &mask, 64, NULL, MPOL_F_MEMS_ALLOWED));
    CHECK_EQ("node 0 is allowed", mask, 1);
    CHECK_ERR("MPOL_F_MEMS_ALLOWED|MPOL_F_NODE",
              get_pol(&mode, &mask, 64, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL);
    CHECK_ERR("an unknown flag", get_pol(&mode, &mask, 64, NULL, 8), EINVAL);
    CHECK_ERR("an address without MPOL_F_ADDR", get_pol(&mode, &mask, 64, &mode, 0), EINVAL);
    CHECK_ERR("a mask of 0 nodes", get_pol(&mode, &mask, 0, NULL, 0), EINVAL);
    CHECK_ERR("MPOL_F_NODE of a non-interleave policy", get_pol(&mode, NULL, 0, NULL, MPOL_F_NODE),
              EINVAL);
    CHECK_OK("MPOL_F_NODE|MPOL_F_ADDR of a mapped page",
             get_pol(&mode, NULL, 0, &mode, MPOL_F_NODE | MPOL_F_ADDR));
    CHECK_EQ("it is on node 0", mode, 0);
    char *hole = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    NEED("a mapping", hole != MAP_FAILED);
    NEED("a hole in it", munmap(hole + 4096, 4096) == 0);
    CHECK_ERR("MPOL_F_ADDR of an unmapped address",
              get_pol(&mode, NULL, 0, hole + 4096, MPOL_F_ADDR), EFAULT);
    CHECK_ERR("get_mempolicy into a bad pointer", get_pol((int *)16, NULL, 0, NULL, 0), EFAULT);

    mask = 1;
    CHECK_OK("MPOL_PREFERRED on node 0", set_pol(MPOL_PREFERRED, &mask, 64));
    mask = 0;
    CHECK_OK("get_mempolicy", get_pol(&mode, &mask, 64, NULL, 0));
    CHECK_EQ("MPOL_PREFERRED", mode, MPOL_PREFERRED);
    CHECK_EQ("on node 0", mask, 1);
    CHECK_OK("MPOL_PREFERRED with no nodes", set_pol(MPOL_PREFERRED, NULL, 0));
    CHECK_OK("get_mempolicy", get_pol(&mode, NULL, 0, NULL, 0));
    CHECK_EQ("is MPOL_LOCAL", mode, MPOL_LOCAL);
    mask = 3;
    CHECK_OK("MPOL_BIND on nodes 0 and 1", set_pol(MPOL_BIND, &mask, 64));
    mask = 0;
    CHECK_OK("get_mempolicy", get_pol(&mode, &mask, 64, NULL, 0));
    CHECK_EQ("MPOL_BIND", mode, MPOL_BIND);
    CHECK_EQ("on the online node only", mask, 1);
    mask = 3;
    CHECK_OK("MPOL_INTERLEAVE with static nodes 0 and 1",
             set_pol(MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &mask, 64));
    mask = 0;
    CHECK_OK("get_mempolicy", get_pol(&mode, &mask, 64, NULL, 0));
    CHECK_EQ("MPOL_INTERLEAVE with its flag", mode, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES);
    CHECK_EQ("the nodes as given", mask, 3);
    CHECK_OK("MPOL_F_NODE of an interleave policy", get_pol(&mode, NULL, 0, NULL, MPOL_F_NODE));
    CHECK_EQ("the next node is 0", mode, 0);

    pthread_t t;
    NEED("a thread", pthread_create(&t, NULL, in_thread, NULL) == 0 && pthread_join(t, NULL) == 0);
    CHECK_EQ("a new thread has the policy", thread_mode, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES);
    CHECK_EQ("and its nodes", thread_mask, 3);
    pid_t pid = fork_child();
    if (pid == 0) {
        int m = -1;
        unsigned long k = 0;
        CHECK_OK("get_mempolicy in a fork child", get_pol(&m, &k, 64, NULL, 0));
        CHECK_EQ("the child has the policy", m, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES);
        CHECK_EQ("and its nodes", k, 3);
        child_exit();
    }
    check_status("the child agreed", pid, "exit 0");

    mask = 2;
    CHECK_ERR("MPOL_BIND on node 1 alone", set_pol(MPOL_BIND, &mask, 64), EINVAL);
    CHECK_ERR("MPOL_BIND on no nodes", set_pol(MPOL_BIND, NULL, 0), EINVAL);
    mask = 1;
    CHECK_ERR("MPOL_DEFAULT with a node", set_pol(MPOL_DEFAULT, &mask, 64), EINVAL);
    CHECK_ERR("MPOL_LOCAL with a node", set_pol(MPOL_LOCAL, &mask, 64), EINVAL);
    CHECK_ERR("mode 7", set_pol(7, &mask, 64), EINVAL);
    CHECK_ERR("static and relative nodes",
              set_pol(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &mask, 64), EINVAL);
    CHECK_ERR("a mask from a bad pointer", set_pol(MPOL_BIND, (unsigned long *)16, 64), EFAULT);
    mask = 2;
    CHECK_OK("relative node 1 folds onto node 0",
             set_pol(MPOL_PREFERRED | MPOL_F_RELATIVE_NODES, &mask, 64));
    CHECK_OK("MPOL_DEFAULT", set_pol(MPOL_DEFAULT, NULL, 0));
    CHECK_OK("get_mempolicy", get_pol(&mode, NULL, 0, NULL, 0));
    CHECK_EQ("back to the default", mode, MPOL_DEFAULT);

    mask = 1;
    CHECK_OK("mbind of a mapped page", syscall(SYS_mbind, hole, 4096, MPOL_BIND, &mask, 64, 0));
    CHECK_ERR("mbind across a hole", syscall(SYS_mbind, hole, 3 * 4096, MPOL_BIND, &mask, 64, 0),
              EFAULT);
    CHECK_ERR("mbind of an unaligned start",
              syscall(SYS_mbind, hole + 1, 4096, MPOL_BIND, &mask, 64, 0), EINVAL);
    CHECK_OK("mbind of length 0", syscall(SYS_mbind, hole + 4096, 0, MPOL_BIND, &mask, 64, 0));
    CHECK_ERR("mbind with flag 8", syscall(SYS_mbind, hole, 4096, MPOL_BIND, &mask, 64, 8), EINVAL);
    CHECK_ERR("mbind MPOL_BIND with no nodes", syscall(SYS_mbind, hole, 4096, MPOL_BIND, NULL, 0, 0),
              EINVAL);
    CHECK_OK("mbind MPOL_DEFAULT", syscall(SYS_mbind, hole, 4096, MPOL_DEFAULT, NULL, 0, 0));
    return check_finish();
}
