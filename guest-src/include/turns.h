/*
 * turns.h — turn-taking across fork for cases that print from both sides.
 *
 * After a fork only the side holding the turn prints: the other one is blocked reading a pipe,
 * so the transcript order is fixed without any sleep. A side that loses its pipe exits with 90
 * (write) or 91 (read), which the other side's wait status shows.
 */
#ifndef ELFVISOR_TURNS_H
#define ELFVISOR_TURNS_H

#include "check.h"

struct turns {
    int to_child[2], to_parent[2];
};

CHECK_UNUSED static void turns_open(struct turns *t)
{
    NEED("turn pipes", pipe(t->to_child) == 0 && pipe(t->to_parent) == 0);
}

CHECK_UNUSED static void turn_give(int fd)
{
    char c = 't';
    if (write(fd, &c, 1) != 1)
        _exit(90);
}

CHECK_UNUSED static void turn_take(int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        _exit(91);
}

CHECK_UNUSED static void pass_to_child(struct turns *t) { turn_give(t->to_child[1]); }
CHECK_UNUSED static void wait_for_parent(struct turns *t) { turn_take(t->to_child[0]); }
CHECK_UNUSED static void pass_to_parent(struct turns *t) { turn_give(t->to_parent[1]); }
CHECK_UNUSED static void wait_for_child(struct turns *t) { turn_take(t->to_parent[0]); }

#endif
