/*
 * fs2.h — helpers shared by the fs2 cases: a scratch directory on a file system chosen on
 * purpose (/dev/shm is tmpfs on every lane, where the working directory may be tmpfs or a
 * disk), errno names beyond check.h's, and a child that gives up root.
 */
#ifndef ELFVISOR_FS2_H
#define ELFVISOR_FS2_H

#include "../fork/fork.h"
#include <dirent.h>
#include <grp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* The user and group a child becomes to meet the permission rules. */
#define NOBODY 65534

/* errname() with the errnos the fs2 cases meet besides check.h's. */
CHECK_UNUSED static const char *fs2_errname(int e)
{
    switch (e) {
    case ENODATA: return "ENODATA";
    case ENOTSOCK: return "ENOTSOCK";
    case EDEADLK: return "EDEADLK";
    case ENOLCK: return "ENOLCK";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ESTALE: return "ESTALE";
    default: return errname(e);
    }
}

/* CHECK_ERR with fs2_errname's names. */
#define CHECK_ERRNO(name, ret, want_errno)                                                     \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long ret_ = (long long)(ret);                                                     \
        int errno_ = errno;                                                                    \
        check((name), ret_ == -1 && errno_ == (want_errno), "returned %lld, errno %s, want %s",  \
              ret_, fs2_errname(errno_), fs2_errname(want_errno));                             \
    } while (0)

static char fs2_dir[64];

/* Makes a fresh world-writable directory under /dev/shm and enters it. */
CHECK_UNUSED static void enter_shm_dir(void)
{
    strcpy(fs2_dir, "/dev/shm/fs2.XXXXXX");
    NEED("a directory under /dev/shm", mkdtemp(fs2_dir) != NULL);
    NEED("open it to everyone", chmod(fs2_dir, 0777) == 0);
    NEED("enter it", chdir(fs2_dir) == 0);
}

/* Removes the directory of enter_shm_dir and the entries directly in it. */
CHECK_UNUSED static void leave_shm_dir(void)
{
    DIR *d = opendir(fs2_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) != 0)
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
    }
    NEED("leave the directory", chdir("/") == 0);
    rmdir(fs2_dir);
}

/* In a child: become nobody for good (groups, then gid, then uid). */
CHECK_UNUSED static void become_nobody(void)
{
    gid_t none[1] = { NOBODY };
    NEED("give up root", setgroups(1, none) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
                             setresuid(NOBODY, NOBODY, NOBODY) == 0);
}

/* Runs fn in a child that has given up root; one check on its exit status. */
CHECK_UNUSED static void as_nobody(const char *name, void (*fn)(void))
{
    pid_t pid = fork_child();
    if (pid == 0) {
        become_nobody();
        fn();
        child_exit();
    }
    check_status(name, pid, "exit 0");
}

#endif
