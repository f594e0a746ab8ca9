/*
 * statfs and fstatfs name each file system's kind (f_type) as Linux's magic numbers: procfs,
 * tmpfs (/dev/shm), and the kernel's internal pipefs, sockfs and anonymous inodes behind
 * descriptors; statfs and fstatfs agree for the working directory whatever it is on; tmpfs's
 * block size, name length and ST_VALID; the errors.
 */
#include "fs2.h"
#include <sys/eventfd.h>
#include <sys/socket.h>

struct kstatfs {
    long f_type, f_bsize;
    unsigned long f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int f_fsid[2];
    long f_namelen, f_frsize, f_flags, f_spare[4];
};

#define PROC_SUPER_MAGIC 0x9fa0
#define TMPFS_MAGIC 0x01021994
#define PIPEFS_MAGIC 0x50495045
#define SOCKFS_MAGIC 0x534F434B
#define ANON_INODE_FS_MAGIC 0x09041934
#define ST_VALID 0x20

static long type_of(const char *path)
{
    struct kstatfs s;
    memset(&s, 0, sizeof s);
    if (syscall(SYS_statfs, path, &s) != 0)
        return -errno;
    return s.f_type;
}

static long ftype_of(int fd)
{
    struct kstatfs s;
    memset(&s, 0, sizeof s);
    if (syscall(SYS_fstatfs, fd, &s) != 0)
        return -errno;
    return s.f_type;
}

int main(void)
{
    CHECK_EQ("/proc is procfs", type_of("/proc"), PROC_SUPER_MAGIC);
    CHECK_EQ("/proc/self/status is on procfs", type_of("/proc/self/status"), PROC_SUPER_MAGIC);
    CHECK_EQ("/dev/shm is tmpfs", type_of("/dev/shm"), TMPFS_MAGIC);
    struct kstatfs s;
    memset(&s, 0, sizeof s);
    CHECK_OK("statfs of /dev/shm", syscall(SYS_statfs, "/dev/shm", &s));
    CHECK_EQ("tmpfs's block size is the page size", s.f_bsize, 4096);
    CHECK_EQ("tmpfs's fragment size too", s.f_frsize, 4096);
    CHECK_EQ("tmpfs's longest name", s.f_namelen, 255);
    CHECK_EQ("tmpfs sets ST_VALID", s.f_flags & ST_VALID, ST_VALID);
    check("tmpfs has free blocks", s.f_bfree > 0 && s.f_bavail <= s.f_bfree, "none");
    memset(&s, 0, sizeof s);
    CHECK_OK("statfs of /proc", syscall(SYS_statfs, "/proc", &s));
    CHECK_EQ("procfs's longest name", s.f_namelen, 255);
    CHECK_EQ("procfs has no blocks", s.f_blocks, 0);

    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_EQ("a pipe is on pipefs", ftype_of(p[0]), PIPEFS_MAGIC);
    int sv[2];
    NEED("a socket pair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_EQ("a socket is on sockfs", ftype_of(sv[0]), SOCKFS_MAGIC);
    int ev = eventfd(0, 0);
    NEED("an eventfd", ev >= 0);
    CHECK_EQ("an eventfd is an anonymous inode", ftype_of(ev), ANON_INODE_FS_MAGIC);
    int shm = open("/dev/shm", O_RDONLY | O_DIRECTORY);
    CHECK_EQ("fstatfs of a directory on tmpfs", ftype_of(shm), TMPFS_MAGIC);
    int opath = open("/proc/self", O_PATH);
    CHECK_EQ("fstatfs of an O_PATH descriptor", ftype_of(opath), PROC_SUPER_MAGIC);

    int here = open(".", O_RDONLY | O_DIRECTORY);
    struct kstatfs a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    CHECK_OK("statfs of the working directory", syscall(SYS_statfs, ".", &a));
    CHECK_OK("fstatfs of the working directory", syscall(SYS_fstatfs, here, &b));
    check("they name the same file system",
          a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_namelen == b.f_namelen &&
              a.f_fsid[0] == b.f_fsid[0] && a.f_fsid[1] == b.f_fsid[1],
          "types %lx and %lx", a.f_type, b.f_type);

    CHECK_ERR("statfs of a missing path", syscall(SYS_statfs, "/dev/shm/missing/x", &s), ENOENT);
    CHECK_ERR("statfs through a file", syscall(SYS_statfs, "/proc/self/status/x", &s), ENOTDIR);
    CHECK_ERR("statfs into an unwritable buffer", syscall(SYS_statfs, "/proc", (void *)8), EFAULT);
    CHECK_ERR("statfs of an unreadable path", syscall(SYS_statfs, (void *)8, &s), EFAULT);
    CHECK_ERR("fstatfs of a bad descriptor", syscall(SYS_fstatfs, 99, &s), EBADF);
    CHECK_ERR("fstatfs into an unwritable buffer", syscall(SYS_fstatfs, p[0], (void *)8), EFAULT);
    return check_finish();
}
