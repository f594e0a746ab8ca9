/*
 * mount_setattr (fs/namespace.c) checks its flags and the size of struct mount_attr before it
 * asks whether the caller may change mounts at all: unknown flags are EINVAL, a size past a
 * page E2BIG, one below the first version (32 bytes) EINVAL. What comes after depends on the
 * caller's privilege, so it is not asked here.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/syscall.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

int main(void)
{
    char attr[64];
    memset(attr, 0, sizeof attr);
    CHECK_ERR("an unknown flag", syscall(SYS_mount_setattr, AT_FDCWD, ".", 0x1, attr, 32), EINVAL);
    CHECK_ERR("AT_REMOVEDIR, unknown here", syscall(SYS_mount_setattr, AT_FDCWD, ".", AT_REMOVEDIR,
                                                    attr, 32), EINVAL);
    CHECK_ERR("a size past a page", syscall(SYS_mount_setattr, AT_FDCWD, ".", 0, attr, 4097), E2BIG);
    CHECK_ERR("a size below the first version", syscall(SYS_mount_setattr, AT_FDCWD, ".", 0, attr,
                                                         31), EINVAL);
    CHECK_ERR("a size of 0", syscall(SYS_mount_setattr, AT_FDCWD, ".", 0, attr, 0), EINVAL);
    return check_finish();
}
