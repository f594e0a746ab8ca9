/*
 * Private memory after fork, in both directions: writes the parent makes after the fork are not
 * seen by the child and the child's writes are not seen by the parent, for the stack, the heap
 * (a small malloc block and a large one, which libcs place in a mapping of its own), .data,
 * .bss and a private anonymous mapping; both sides still see what was there before the fork.
 */
#include "fork.h"
#include <sys/mman.h>

#define N_PLACES 6
static const char *const place[N_PLACES] = {
    "stack", "small malloc block", "large malloc block", ".data", ".bss", "private anon mmap",
};

static volatile char data_var[16] = "data";
static volatile char bss_var[16];

static volatile char *where[N_PLACES];

/* Every place holds `tag` (at its start and, for the large block, its last byte). */
static void check_all(const char *who, const char *what, char tag)
{
    for (int i = 0; i < N_PLACES; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s: %s holds %s", who, place[i], what);
        char last = i == 2 ? where[i][(1 << 20) - 1] : tag;
        check(name, where[i][0] == tag && last == tag, "got '%c'", where[i][0]);
    }
}

static void write_all(char tag)
{
    for (int i = 0; i < N_PLACES; i++)
        where[i][0] = tag;
    where[2][(1 << 20) - 1] = tag;
}

int main(void)
{
    volatile char stack_var[16];
    char *small = malloc(16);
    char *large = malloc(1 << 20);
    char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("allocations", small && large && anon != MAP_FAILED);
    where[0] = stack_var;
    where[1] = small;
    where[2] = large;
    where[3] = data_var;
    where[4] = bss_var;
    where[5] = anon;
    write_all('B');

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        check_all("child", "the value from before the fork", 'B');
        write_all('C');
        pass_to_parent(&t);
        wait_for_parent(&t);
        check_all("child", "its own write, not the parent's", 'C');
        child_exit();
    }
    wait_for_child(&t);
    check_all("parent", "its value, not the child's write", 'B');
    write_all('P');
    pass_to_child(&t);
    check_status("child exited 0", pid, "exit 0");
    check_all("parent", "its own write", 'P');
    return check_finish();
}
