/*
 * msgrcv with MSG_COPY (CONFIG_CHECKPOINT_RESTORE): msgtyp is a position in the queue, the
 * message is copied and stays; it needs IPC_NOWAIT and refuses MSG_EXCEPT; a position past the
 * end is ENOMSG. Also msgtyp below zero (the lowest type up to |msgtyp|, first of equals), and
 * MSG_NOERROR returning the truncated length while the rest is lost.
 */
#include "check.h"
#include <sys/ipc.h>
#include <sys/msg.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct msg {
    long type;
    char text[32];
};

static int q;

static int send(long type, const char *text)
{
    struct msg m = {type, {0}};
    snprintf(m.text, sizeof m.text, "%s", text);
    return msgsnd(q, &m, strlen(text) + 1, IPC_NOWAIT);
}

static long qnum(void)
{
    struct msqid_ds ds;
    return msgctl(q, IPC_STAT, &ds) == 0 ? (long)ds.msg_qnum : -1;
}

int main(void)
{
    q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    REQUIRE("msgget", q >= 0);
    REQUIRE("five messages", send(4, "four") == 0 && send(2, "two-a") == 0 && send(9, "nine") == 0 &&
                                 send(2, "two-b") == 0 && send(1, "one") == 0);
    struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(q, &m, sizeof m.text, 2, MSG_COPY | IPC_NOWAIT);
    check("MSG_COPY at position 2 copies the third message", n == 5 && m.type == 9 &&
          strcmp(m.text, "nine") == 0, "n %zd type %ld", n, m.type);
    CHECK_EQ("and leaves it queued", qnum(), 5);
    n = msgrcv(q, &m, sizeof m.text, 0, MSG_COPY | IPC_NOWAIT);
    check("MSG_COPY at position 0", n == 5 && m.type == 4, "n %zd type %ld", n, m.type);
    CHECK_ERR("MSG_COPY past the end", msgrcv(q, &m, sizeof m.text, 5, MSG_COPY | IPC_NOWAIT),
              ENOMSG);
    CHECK_ERR("MSG_COPY without IPC_NOWAIT", msgrcv(q, &m, sizeof m.text, 0, MSG_COPY), EINVAL);
    CHECK_ERR("MSG_COPY with MSG_EXCEPT",
              msgrcv(q, &m, sizeof m.text, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT), EINVAL);
    CHECK_ERR("MSG_COPY into a buffer too small", msgrcv(q, &m, 2, 1, MSG_COPY | IPC_NOWAIT), E2BIG);
    CHECK_EQ("still five", qnum(), 5);

    n = msgrcv(q, &m, sizeof m.text, -3, IPC_NOWAIT);
    check("msgtyp -3 takes the lowest type up to 3: one", n == 4 && m.type == 1 &&
          strcmp(m.text, "one") == 0, "n %zd type %ld", n, m.type);
    n = msgrcv(q, &m, sizeof m.text, -3, IPC_NOWAIT);
    check("then the first of the twos", m.type == 2 && strcmp(m.text, "two-a") == 0,
          "n %zd type %ld", n, m.type);
    n = msgrcv(q, &m, 3, -3, IPC_NOWAIT | MSG_NOERROR);
    check("MSG_NOERROR returns 3 bytes of two-b", n == 3 && memcmp(m.text, "two", 3) == 0,
          "n %zd", n);
    CHECK_ERR("no type up to 3 is left", msgrcv(q, &m, sizeof m.text, -3, IPC_NOWAIT), ENOMSG);
    CHECK_EQ("the truncated message is gone: two left", qnum(), 2);
    n = msgrcv(q, &m, sizeof m.text, -100, IPC_NOWAIT);
    check("msgtyp -100: four before nine", n == 5 && m.type == 4, "n %zd type %ld", n, m.type);
    CHECK_ERR("MSG_EXCEPT 9 with only a nine left",
              msgrcv(q, &m, sizeof m.text, 9, MSG_EXCEPT | IPC_NOWAIT), ENOMSG);
    CHECK_OK("IPC_RMID", msgctl(q, IPC_RMID, NULL));
    return check_finish();
}
