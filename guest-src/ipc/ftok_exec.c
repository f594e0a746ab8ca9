/*
 * SysV objects between separately exec'd programs that share nothing but a file: each finds
 * the message queue and the semaphore set through ftok of the same path, gets the same
 * identifiers, and they talk both ways (a message each way, and a semaphore). ftok: the same
 * path and project give the same key, another project another key, a missing file ENOENT;
 * IPC_CREAT|IPC_EXCL on a key in use is EEXIST.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

struct msg {
    long type;
    char text[16];
};

static int peer(void)
{
    key_t key = ftok("keyfile", 'q');
    NEED("peer: ftok", key != -1);
    int q = msgget(key, 0);
    int s = semget(key, 0, 0);
    NEED("peer: msgget and semget by key", q >= 0 && s >= 0);
    struct msg m;
    ssize_t n = msgrcv(q, &m, sizeof m.text, 1, 0);
    CHECK_EQ("peer: received the parent's message", n == 6 && strcmp(m.text, "hello") == 0, 1);
    struct msg reply = {2, "world"};
    CHECK_OK("peer: replied", msgsnd(q, &reply, 6, 0));
    struct sembuf up = {0, 1, 0};
    CHECK_OK("peer: raised the semaphore", semop(s, &up, 1));
    return check_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return peer();

    int fd = open("keyfile", O_CREAT | O_WRONLY, 0600);
    REQUIRE("create keyfile", fd >= 0);
    close(fd);
    key_t key = ftok("keyfile", 'q');
    REQUIRE("ftok", key != -1);
    CHECK_EQ("ftok again gives the same key", ftok("keyfile", 'q'), key);
    CHECK_EQ("another project gives another key", ftok("keyfile", 'r') != key, 1);
    CHECK_ERR("ftok of a missing file", ftok("missing", 'q'), ENOENT);

    /* The key comes from the file's inode, which a run that died may have had before us: what
     * it left under the key is gone with its file, so it is removed first (silently). */
    int stale = msgget(key, 0);
    if (stale >= 0)
        msgctl(stale, IPC_RMID, NULL);
    stale = semget(key, 0, 0);
    if (stale >= 0)
        semctl(stale, 0, IPC_RMID);

    int q = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    int s = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    REQUIRE("msgget and semget of the key", q >= 0 && s >= 0);
    CHECK_ERR("msgget IPC_CREAT|IPC_EXCL again", msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    CHECK_EQ("msgget without flags finds the queue", msgget(key, 0), q);
    CHECK_ERR("semget asking for more semaphores than the set has", semget(key, 2, 0), EINVAL);

    struct msg m = {1, "hello"};
    CHECK_OK("send a message for the other program", msgsnd(q, &m, 6, 0));
    pid_t child = fork_child();
    if (child == 0) {
        for (int i = 3; i < 64; i++)
            close(i);
        char *args[] = {argv[0], CHILD_MODE, NULL};
        execv(self_exe(), args);
        _exit(99);
    }
    check_status("the other program", child, "exit 0");
    struct sembuf down = {0, -1, IPC_NOWAIT};
    CHECK_OK("it raised the semaphore", semop(s, &down, 1));
    struct msg r;
    ssize_t n = msgrcv(q, &r, sizeof r.text, 2, IPC_NOWAIT);
    CHECK_EQ("received its reply", n == 6 && strcmp(r.text, "world") == 0, 1);
    CHECK_OK("IPC_RMID of the queue", msgctl(q, IPC_RMID, NULL));
    CHECK_OK("IPC_RMID of the set", semctl(s, 0, IPC_RMID));
    CHECK_ERR("the key finds nothing now", msgget(key, 0), ENOENT);
    return check_finish();
}
