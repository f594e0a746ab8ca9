/*
 * tcp_threads — a TCP server thread on IPv4 loopback serving three client threads at once: each
 * client streams 256 KiB of its own pattern with send and writev, shuts down its writing and
 * reads back the server's count and sum with MSG_WAITALL; the server reads each stream to end of
 * file in whatever pieces arrive. No port is printed.
 */
#include "check.h"
#include "loopback.h"
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define CLIENTS 3
#define BYTES (256 * 1024)

static struct sockaddr_in addr;
static int listener;
static int served;

static uint8_t pattern(int who, size_t i)
{
    return (uint8_t)(i * 7 + (size_t)who * 31 + (i >> 9));
}

static void *server(void *arg)
{
    (void)arg;
    static uint8_t buf[16384];
    for (int k = 0; k < CLIENTS; k++) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            return NULL;
        uint64_t count = 0, sum = 0;
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                sum = sum * 31 + buf[i];
            count += (uint64_t)n;
        }
        uint64_t reply[2] = {count, sum};
        if (n == 0 && send(c, reply, sizeof reply, 0) == sizeof reply)
            served++;
        close(c);
    }
    return NULL;
}

struct client {
    int who;
    int ok;
};

static void *client(void *arg)
{
    struct client *me = arg;
    static uint8_t data[CLIENTS][BYTES];
    uint8_t *d = data[me->who];
    uint64_t sum = 0;
    for (size_t i = 0; i < BYTES; i++) {
        d[i] = pattern(me->who, i);
        sum = sum * 31 + d[i];
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&addr, sizeof addr) != 0)
        return NULL;
    /* The first half in one send, the rest as three pieces of one writev. */
    size_t half = BYTES / 2;
    if (send(c, d, half, 0) != (ssize_t)half)
        return NULL;
    struct iovec iov[3] = {{d + half, 1000}, {d + half + 1000, 7}, {d + half + 1007, BYTES - half - 1007}};
    size_t left = BYTES - half;
    int idx = 0;
    while (left > 0) {
        ssize_t n = writev(c, iov + idx, 3 - idx);
        if (n <= 0)
            return NULL;
        left -= (size_t)n;
        while (n > 0 && idx < 3) {
            if ((size_t)n >= iov[idx].iov_len) {
                n -= (ssize_t)iov[idx].iov_len;
                idx++;
            } else {
                iov[idx].iov_base = (char *)iov[idx].iov_base + n;
                iov[idx].iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
    shutdown(c, SHUT_WR);
    uint64_t reply[2];
    ssize_t n = recv(c, reply, sizeof reply, MSG_WAITALL);
    me->ok = n == sizeof reply && reply[0] == BYTES && reply[1] == sum;
    close(c);
    return NULL;
}

int main(void)
{
    loopback_up();
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("listen", bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 &&
                          listen(listener, CLIENTS) == 0 &&
                          getsockname(listener, (struct sockaddr *)&addr, &len) == 0);
    pthread_t st, ct[CLIENTS];
    struct client cl[CLIENTS];
    REQUIRE("server thread", pthread_create(&st, NULL, server, NULL) == 0);
    for (int i = 0; i < CLIENTS; i++) {
        cl[i].who = i;
        cl[i].ok = 0;
        pthread_create(&ct[i], NULL, client, &cl[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(ct[i], NULL);
    pthread_join(st, NULL);
    CHECK_EQ("the server served three streams", served, CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        char name[64];
        snprintf(name, sizeof name, "client %d: its count and sum came back", i);
        CHECK_EQ(name, cl[i].ok, 1);
    }
    close(listener);
    return check_finish();
}
