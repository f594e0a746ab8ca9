/* Pipes across fork: inherited fds, a round trip through the child, EOF when all writers close. */
#include "check.h"
#include <ctype.h>
#include <sys/wait.h>

int main(void)
{
    int to_child[2], to_parent[2];
    REQUIRE("pipes", pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        char buf[256];
        ssize_t n;
        while ((n = read(to_child[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                buf[i] = (char)toupper((unsigned char)buf[i]);
            write(to_parent[1], buf, (size_t)n);
        }
        _exit(n == 0 ? 0 : 1);
    }
    close(to_child[0]);
    close(to_parent[1]);
    const char *msg = "a message through the child";
    size_t len = strlen(msg);
    CHECK_EQ("write to the child", write(to_child[1], msg, len), len);
    close(to_child[1]);
    char got[256];
    size_t have = 0;
    ssize_t n;
    while ((n = read(to_parent[0], got + have, sizeof got - have)) > 0)
        have += (size_t)n;
    CHECK_EQ("read until EOF", n, 0);
    CHECK_EQ("length of the reply", have, len);
    CHECK_MEM("reply", got, "A MESSAGE THROUGH THE CHILD", len);
    int st;
    waitpid(pid, &st, 0);
    check("child saw EOF and exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    return check_finish();
}
