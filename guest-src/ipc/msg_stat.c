/*
 * SysV message queues seen through msgctl: IPC_STAT's counters and pids after sends and a
 * receive in another process, IPC_SET lowering msg_qbytes so that a full queue refuses a send
 * (EAGAIN with IPC_NOWAIT), IPC_INFO's limits, MSG_INFO's usage (the highest index as the
 * result), MSG_STAT and MSG_STAT_ANY by index, and an index in no use.
 */
#include "../fork/fork.h"
#include <sys/ipc.h>
#include <sys/msg.h>

struct msg {
    long type;
    char text[100];
};

int main(void)
{
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0620);
    REQUIRE("msgget", q >= 0);
    struct msqid_ds ds;
    CHECK_OK("IPC_STAT of a new queue", msgctl(q, IPC_STAT, &ds));
    CHECK_EQ("no messages", ds.msg_qnum, 0);
    CHECK_EQ("msg_qbytes is MSGMNB, 16384", ds.msg_qbytes, 16384);
    CHECK_EQ("its mode", ds.msg_perm.mode & 0777, 0620);
    CHECK_EQ("no send yet: msg_stime 0", ds.msg_stime, 0);

    struct msg m = {1, "x"};
    CHECK_OK("send 100 bytes", msgsnd(q, &m, 100, 0));
    CHECK_OK("send 40 bytes", msgsnd(q, &m, 40, 0));
    CHECK_OK("IPC_STAT", msgctl(q, IPC_STAT, &ds));
    CHECK_EQ("two messages", ds.msg_qnum, 2);
    CHECK_EQ("140 bytes (__msg_cbytes)", ds.__msg_cbytes, 140);
    CHECK_EQ("msg_lspid is ours", ds.msg_lspid == getpid(), 1);
    CHECK_EQ("msg_stime is set", ds.msg_stime > 0, 1);

    pid_t reader = fork_child();
    if (reader == 0) {
        struct msg r;
        _exit(msgrcv(q, &r, sizeof r.text, 0, 0) == 100 ? 0 : 1);
    }
    check_status("another process received 100 bytes", reader, "exit 0");
    CHECK_OK("IPC_STAT", msgctl(q, IPC_STAT, &ds));
    CHECK_EQ("msg_lrpid is the reader's", ds.msg_lrpid == reader, 1);
    CHECK_EQ("one message of 40 bytes left", ds.msg_qnum == 1 && ds.__msg_cbytes == 40, 1);

    ds.msg_qbytes = 100;
    CHECK_OK("IPC_SET msg_qbytes 100", msgctl(q, IPC_SET, &ds));
    CHECK_OK("IPC_STAT", msgctl(q, IPC_STAT, &ds));
    CHECK_EQ("msg_qbytes is 100", ds.msg_qbytes, 100);
    CHECK_OK("60 more bytes fit exactly", msgsnd(q, &m, 60, IPC_NOWAIT));
    CHECK_ERR("one more byte does not (IPC_NOWAIT)", msgsnd(q, &m, 1, IPC_NOWAIT), EAGAIN);

    struct msginfo info;
    int highest = msgctl(0, IPC_INFO, (struct msqid_ds *)&info);
    CHECK_EQ("IPC_INFO returns the highest index in use", highest >= 0, 1);
    CHECK_EQ("IPC_INFO: msgmax 8192", info.msgmax, 8192);
    CHECK_EQ("IPC_INFO: msgmnb 16384", info.msgmnb, 16384);
    CHECK_EQ("IPC_INFO: msgmni 32000", info.msgmni, 32000);
    memset(&info, 0, sizeof info);
    /* Other processes may make or remove queues meanwhile: the index is only known to cover ours. */
    CHECK_EQ("MSG_INFO returns the highest index in use too",
             msgctl(0, MSG_INFO, (struct msqid_ds *)&info) >= 0, 1);
    CHECK_EQ("MSG_INFO: msgpool counts at least our queue", info.msgpool >= 1, 1);
    CHECK_EQ("MSG_INFO: msgmap counts at least our 2 messages", info.msgmap >= 2, 1);
    CHECK_EQ("MSG_INFO: msgtql counts at least our 100 bytes", info.msgtql >= 100, 1);

    int found = -1, found_any = -1;
    for (int i = 0; i <= highest; i++) {
        struct msqid_ds s;
        if (msgctl(i, MSG_STAT, &s) == q) {
            found = i;
            CHECK_EQ("MSG_STAT: two messages", s.msg_qnum, 2);
            CHECK_EQ("MSG_STAT: msg_qbytes 100", s.msg_qbytes, 100);
        }
        if (msgctl(i, MSG_STAT_ANY, &s) == q)
            found_any = i;
    }
    CHECK_EQ("MSG_STAT returns our identifier at some index", found >= 0, 1);
    CHECK_EQ("MSG_STAT_ANY at the same index", found_any, found);
    /* The last index (IPCMNI - 1) holds a queue only when 32768 exist. */
    CHECK_ERR("MSG_STAT of an index in no use", msgctl(32767, MSG_STAT, &ds), EINVAL);
    CHECK_ERR("an unknown command", msgctl(q, 99, &ds), EINVAL);
    CHECK_ERR("IPC_STAT into unwritable memory", msgctl(q, IPC_STAT, (struct msqid_ds *)8),
              EFAULT);
    CHECK_OK("IPC_RMID", msgctl(q, IPC_RMID, NULL));
    return check_finish();
}
