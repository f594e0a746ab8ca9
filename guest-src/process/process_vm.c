/*
 * process_vm_readv and process_vm_writev (mm/process_vm_access.c) on the caller's own process:
 * scattered remote ranges into and from scattered local buffers, the byte count; a transfer
 * that runs into an unmapped remote page stops there and returns what it moved, one that
 * starts there is EFAULT; a read-only remote page cannot be written (EFAULT). Checks in Linux's
 * order: flags, too many local vectors, an unreadable local vector array, nothing to move
 * (0 without looking at the process), the remote vector array, then the process (ESRCH).
 * Another process is not asked for: whether a process may reach another's memory depends on
 * the machine's ptrace policy.
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static long vm_read(pid_t pid, struct iovec *l, unsigned long nl, struct iovec *r, unsigned long nr,
                    unsigned long flags)
{
    return syscall(SYS_process_vm_readv, pid, l, nl, r, nr, flags);
}

static long vm_write(pid_t pid, struct iovec *l, unsigned long nl, struct iovec *r,
                     unsigned long nr, unsigned long flags)
{
    return syscall(SYS_process_vm_writev, pid, l, nl, r, nr, flags);
}

int main(void)
{
    pid_t me = getpid();
    char src[] = "hello, remote world";
    char a[6] = {0}, b[20] = {0};
    struct iovec local[2] = {{a, 5}, {b, 6}};
    struct iovec remote[2] = {{src + 7, 6}, {src, 5}};
    CHECK_EQ("process_vm_readv of 11 bytes from two ranges into two buffers",
             vm_read(me, local, 2, remote, 2, 0), 11);
    CHECK_MEM("the first buffer", a, "remot", 5);
    CHECK_MEM("the second buffer", b, "e" "hello", 6);

    char dst[16];
    memset(dst, '.', sizeof dst);
    char w1[] = "AB", w2[] = "CDE";
    struct iovec wl[2] = {{w1, 2}, {w2, 3}};
    struct iovec wr[2] = {{dst + 10, 1}, {dst, 4}};
    CHECK_EQ("process_vm_writev of 5 bytes", vm_write(me, wl, 2, wr, 2, 0), 5);
    CHECK_MEM("written in order across the remote ranges", dst, "BCDE......A.....", 16);

    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap", map != MAP_FAILED);
    memset(map, 'x', 2 * page);
    munmap(map + 2 * page, page);
    char big[64];
    struct iovec bl = {big, sizeof big};
    struct iovec across = {map + 2 * page - 16, 64};
    CHECK_EQ("a remote range running into an unmapped page moves what it can",
             vm_read(me, &bl, 1, &across, 1, 0), 16);
    struct iovec gone = {map + 2 * page, 16};
    CHECK_ERR("a remote range starting in an unmapped page", vm_read(me, &bl, 1, &gone, 1, 0),
              EFAULT);
    struct iovec two[2] = {{map, 8}, {map + 2 * page, 8}};
    CHECK_EQ("a second remote range that faults ends the transfer after the first",
             vm_read(me, &bl, 1, two, 2, 0), 8);
    mprotect(map, page, PROT_READ);
    struct iovec ro = {map, 8};
    CHECK_ERR("writing a read-only remote page", vm_write(me, &bl, 1, &ro, 1, 0), EFAULT);
    struct iovec bad_local = {(void *)8, 8};
    struct iovec ok_remote = {src, 8};
    CHECK_ERR("an unwritable local buffer", vm_read(me, &bad_local, 1, &ok_remote, 1, 0), EFAULT);

    CHECK_ERR("flags 1", vm_read(me, local, 2, remote, 2, 1), EINVAL);
    CHECK_ERR("1025 local vectors", vm_read(me, local, 1025, remote, 2, 0), EINVAL);
    CHECK_ERR("an unreadable local vector array", vm_read(me, (void *)8, 1, remote, 2, 0), EFAULT);
    struct iovec empty = {a, 0};
    CHECK_EQ("nothing to move: 0, even for no process", vm_read(0x3fffffff, &empty, 1, remote, 2, 0),
             0);
    CHECK_ERR("an unreadable remote vector array", vm_read(me, local, 2, (void *)8, 2, 0), EFAULT);
    CHECK_ERR("1025 remote vectors", vm_read(me, local, 2, remote, 1025, 0), EINVAL);
    CHECK_ERR("no such process", vm_read(0x3fffffff, local, 2, remote, 2, 0), ESRCH);
    CHECK_ERR("no such process (writev)", vm_write(0x3fffffff, local, 2, remote, 2, 0), ESRCH);
    struct iovec zero_remote = {src, 0};
    CHECK_EQ("remote vectors of no length: 0", vm_read(0x3fffffff, local, 2, &zero_remote, 1, 0),
             0);
    return check_finish();
}
