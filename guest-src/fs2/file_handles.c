/*
 * File handles on tmpfs (fs/fhandle.c; mm/shmem.c, shmem_encode_fh and shmem_fh_to_dentry):
 * name_to_handle_at checks its flags, then the path, then the size the caller offers
 * (EOVERFLOW writes back the size needed, EINVAL past MAX_HANDLE_SZ); tmpfs's handle is three
 * words of type 1; open_by_handle_at opens the same file again (by handle, through any
 * descriptor of the mount), checks the handle's size, refuses O_PATH-less writes to a
 * directory, and needs CAP_DAC_READ_SEARCH (EPERM as nobody). The cases run as root.
 */
#include "fs2.h"
#include <sys/stat.h>

#define MAX_HANDLE_SZ 128

static union {
    struct file_handle fh;
    char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
} h;

static void not_root(void)
{
    CHECK_ERRNO("open_by_handle_at as nobody", open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY), EPERM);
    /* name_to_handle_at needs no privilege. */
    int mnt;
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("name_to_handle_at as nobody", name_to_handle_at(AT_FDCWD, "f", &h.fh, &mnt, 0));
}

int main(void)
{
    enter_shm_dir();
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file on tmpfs", fd >= 0 && write(fd, "hello", 5) == 5);
    NEED("a link to it", symlink("f", "link") == 0);
    NEED("a directory", mkdir("d", 0755) == 0);
    int mnt = -1;

    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_ERRNO("unknown flags", name_to_handle_at(AT_FDCWD, "f", &h.fh, &mnt, 0x1), EINVAL);
    CHECK_ERRNO("a missing path", name_to_handle_at(AT_FDCWD, "missing", &h.fh, &mnt, 0), ENOENT);
    CHECK_ERRNO("an unreadable handle", name_to_handle_at(AT_FDCWD, "f", (void *)8, &mnt, 0), EFAULT);
    h.fh.handle_bytes = MAX_HANDLE_SZ + 1;
    CHECK_ERRNO("more than MAX_HANDLE_SZ", name_to_handle_at(AT_FDCWD, "f", &h.fh, &mnt, 0), EINVAL);
    h.fh.handle_bytes = 0;
    CHECK_ERRNO("no room", name_to_handle_at(AT_FDCWD, "f", &h.fh, &mnt, 0), EOVERFLOW);
    out("the size needed: %u\n", h.fh.handle_bytes);

    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("the file's handle", name_to_handle_at(AT_FDCWD, "f", &h.fh, &mnt, 0));
    out("handle_bytes %u, handle_type %d\n", h.fh.handle_bytes, h.fh.handle_type);
    struct stat want, got;
    NEED("stat the file", fstat(fd, &want) == 0);
    int again = open_by_handle_at(fd, &h.fh, O_RDONLY);
    CHECK_OK("open it by its handle", again);
    char buf[8] = { 0 };
    CHECK_EQ("reads its bytes", read(again, buf, sizeof buf), 5);
    CHECK_EQ("the same file", fstat(again, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev, 1);
    CHECK_EQ("close-on-exec as asked (not)", fcntl(again, F_GETFD), 0);
    close(again);
    again = open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY | O_CLOEXEC);
    CHECK_OK("through the working directory", again);
    CHECK_EQ("close-on-exec as asked", fcntl(again, F_GETFD), FD_CLOEXEC);
    close(again);

    struct file_handle saved = h.fh;
    h.fh.handle_bytes = 0;
    CHECK_ERRNO("a handle of no bytes", open_by_handle_at(fd, &h.fh, O_RDONLY), EINVAL);
    h.fh.handle_bytes = MAX_HANDLE_SZ + 1;
    CHECK_ERRNO("a handle too long", open_by_handle_at(fd, &h.fh, O_RDONLY), EINVAL);
    h.fh = saved;
    CHECK_ERRNO("an unreadable handle to open", open_by_handle_at(fd, (void *)8, O_RDONLY), EFAULT);

    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("the link's own handle", name_to_handle_at(AT_FDCWD, "link", &h.fh, &mnt, 0));
    again = open_by_handle_at(fd, &h.fh, O_PATH);
    CHECK_OK("opens the link itself with O_PATH", again);
    CHECK_EQ("a symlink", fstat(again, &got) == 0 && S_ISLNK(got.st_mode), 1);
    close(again);
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("AT_SYMLINK_FOLLOW: the file's", name_to_handle_at(AT_FDCWD, "link", &h.fh, &mnt, AT_SYMLINK_FOLLOW));
    again = open_by_handle_at(fd, &h.fh, O_RDONLY);
    CHECK_EQ("the same file", again >= 0 && fstat(again, &got) == 0 && got.st_ino == want.st_ino, 1);
    close(again);

    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("AT_EMPTY_PATH: the descriptor's", name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH));
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    CHECK_OK("the directory's handle", name_to_handle_at(AT_FDCWD, "d", &h.fh, &mnt, 0));
    CHECK_ERRNO("a directory opened for writing", open_by_handle_at(fd, &h.fh, O_RDWR), EISDIR);
    again = open_by_handle_at(fd, &h.fh, O_RDONLY | O_DIRECTORY);
    CHECK_OK("a directory opened to read", again);
    close(again);

    h.fh = saved;
    as_nobody("open_by_handle_at needs CAP_DAC_READ_SEARCH", not_root);
    close(fd);
    leave_shm_dir();
    return check_finish();
}
