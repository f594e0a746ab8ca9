/*
 * flock locks belong to the open file description (fs/locks.c, flock_lock_inode): a dup and a
 * fork child share the parent's lock and can release it; a second open() is another owner;
 * a conversion first drops the old lock, so an upgrade refused under LOCK_NB leaves none; a
 * downgrade admits readers; the last close releases.
 */
#include "fs2.h"
#include <sys/file.h>

static struct turns t;

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    int other = open("f", O_RDWR);
    int third = open("f", O_RDWR);
    NEED("three opens of one file", fd >= 0 && other >= 0 && third >= 0);

    CHECK_OK("a shared lock", flock(fd, LOCK_SH));
    CHECK_OK("another description shares it", flock(other, LOCK_SH | LOCK_NB));
    CHECK_ERR("an exclusive lock elsewhere is refused", flock(third, LOCK_EX | LOCK_NB), EAGAIN);
    CHECK_ERR("an upgrade while another reader holds on", flock(fd, LOCK_EX | LOCK_NB), EAGAIN);
    CHECK_OK("the other reader lets go", flock(other, LOCK_UN));
    CHECK_OK("the refused upgrade had dropped the first lock", flock(third, LOCK_EX | LOCK_NB));
    CHECK_OK("unlock it", flock(third, LOCK_UN));

    CHECK_OK("an exclusive lock", flock(fd, LOCK_EX | LOCK_NB));
    CHECK_OK("taking it again is a no-op", flock(fd, LOCK_EX | LOCK_NB));
    CHECK_ERR("it keeps out readers", flock(other, LOCK_SH | LOCK_NB), EAGAIN);
    CHECK_OK("a downgrade to shared", flock(fd, LOCK_SH | LOCK_NB));
    CHECK_OK("admits a reader", flock(other, LOCK_SH | LOCK_NB));
    CHECK_OK("the reader goes", flock(other, LOCK_UN));
    CHECK_OK("upgrade again", flock(fd, LOCK_EX | LOCK_NB));

    int copy = dup(fd);
    NEED("a dup", copy >= 0);
    CHECK_OK("the dup holds the same lock", flock(copy, LOCK_EX | LOCK_NB));
    CHECK_OK("close the original", close(fd));
    CHECK_ERR("the lock outlives one of two descriptors", flock(other, LOCK_SH | LOCK_NB), EAGAIN);
    CHECK_OK("unlock through the dup", flock(copy, LOCK_UN));
    CHECK_OK("it is gone", flock(other, LOCK_EX | LOCK_NB));
    CHECK_OK("and taken elsewhere", flock(other, LOCK_UN));

    CHECK_OK("an exclusive lock before fork", flock(copy, LOCK_EX | LOCK_NB));
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        wait_for_parent(&t);
        CHECK_OK("the child holds its parent's lock", flock(copy, LOCK_EX | LOCK_NB));
        int mine = open("f", O_RDWR);
        CHECK_ERR("the child's own open is kept out", flock(mine, LOCK_SH | LOCK_NB), EAGAIN);
        CHECK_OK("the child releases the shared lock", flock(copy, LOCK_UN));
        CHECK_OK("then takes it through its own open", flock(mine, LOCK_EX | LOCK_NB));
        pass_to_parent(&t);
        wait_for_parent(&t);
        close(mine);
        close(copy);
        pass_to_parent(&t);
        child_exit();
    }
    pass_to_child(&t);
    wait_for_child(&t);
    CHECK_ERR("the parent sees the child's lock", flock(copy, LOCK_SH | LOCK_NB), EAGAIN);
    pass_to_child(&t);
    wait_for_child(&t);
    CHECK_OK("the child's closes released it", flock(copy, LOCK_EX | LOCK_NB));
    check_status("the child", pid, "exit 0");
    CHECK_ERR("the lock is still ours after the child is gone", flock(other, LOCK_SH | LOCK_NB), EAGAIN);

    CHECK_ERR("flock with no operation", flock(copy, 0), EINVAL);
    CHECK_ERR("flock with two operations", flock(copy, LOCK_SH | LOCK_EX), EINVAL);
    CHECK_ERR("flock of a bad descriptor", flock(99, LOCK_SH), EBADF);
    int opath = open("f", O_PATH);
    CHECK_ERR("flock of an O_PATH descriptor", flock(opath, LOCK_SH), EBADF);
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_OK("flock of a pipe", flock(p[0], LOCK_EX | LOCK_NB));
    return check_finish();
}
