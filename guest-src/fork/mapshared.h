/*
 * The cross-fork MAP_SHARED protocol shared by the cross_fork_mapshared_* cases.
 *
 * Parent and child take turns, synchronised with pipes (no sleeps), and only the side that holds
 * the turn prints, so the transcript order is fixed:
 *   parent writes "P0" at 0, forks;
 *   child checks (1) it sees P0, writes "C1" at 64, passes the turn;
 *   parent checks (2) it sees C1, writes "P2" at 128, passes the turn;
 *   child checks (3) it sees P2 and exits with its own verdict;
 *   the parent checks the child's status, then the case reconciles (on disk, or in a second child).
 */
#ifndef ELFVISOR_MAPSHARED_H
#define ELFVISOR_MAPSHARED_H

#include "check.h"
#include <sys/wait.h>

static void turn_pass(int fd)
{
    char c = 't';
    if (write(fd, &c, 1) != 1)
        _exit(90);
}

static void turn_wait(int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        _exit(91);
}

/* Runs the three-way exchange over `map` (at least 192 bytes, shared). */
static void mapshared_exchange(volatile char *map)
{
    int to_child[2], to_parent[2];
    REQUIRE("pipes", pipe(to_child) == 0 && pipe(to_parent) == 0);
    memcpy((char *)map, "P0", 2);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        check("(1) child sees the parent's pre-fork write", map[0] == 'P' && map[1] == '0',
              "got %.2s", (const char *)map);
        memcpy((char *)map + 64, "C1", 2);
        turn_pass(to_parent[1]);
        turn_wait(to_child[0]);
        check("(3) child sees the parent's post-fork write", map[128] == 'P' && map[129] == '2',
              "got %.2s", (const char *)map + 128);
        _exit(check_failures == 0 ? 0 : 1);
    }
    turn_wait(to_parent[0]);
    check("(2) parent sees the child's write", map[64] == 'C' && map[65] == '1', "got %.2s",
          (const char *)map + 64);
    memcpy((char *)map + 128, "P2", 2);
    turn_pass(to_child[1]);
    int st;
    REQUIRE("waitpid", waitpid(pid, &st, 0) == pid);
    check("first child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
}

/* Checks that `bytes` (192 of them) hold what both sides wrote. */
CHECK_UNUSED static int mapshared_all_writes(const volatile char *bytes)
{
    return bytes[0] == 'P' && bytes[1] == '0' && bytes[64] == 'C' && bytes[65] == '1' &&
           bytes[128] == 'P' && bytes[129] == '2';
}

/* (4) for backed objects: the bytes behind the fd hold both sides' writes. */
CHECK_UNUSED static void mapshared_reconcile_fd(int fd, const char *what)
{
    char buf[192] = {0};
    char name[128];
    snprintf(name, sizeof name, "(4) %s reads back both sides' writes", what);
    check(name, pread(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf && mapshared_all_writes(buf),
          "pread saw \"%.2s\" \"%.2s\" \"%.2s\"", buf, buf + 64, buf + 128);
}

#endif
