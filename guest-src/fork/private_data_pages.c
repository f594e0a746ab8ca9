/*
 * A fork child sees every page its parent wrote in a large initialized .data array (a private
 * file mapping of the program): pages written at scattered offsets across more than a megabyte,
 * and the unwritten pages between them as the file has them. The writes go on after the fork on
 * each side without reaching the other.
 */
#include "check.h"

#include <sys/wait.h>

#define PAGE 4096
#define PAGES 768
#define STRIDE 3

/* Initialized, so the whole array lies in the program file's data segment. */
static unsigned char data[PAGES * PAGE] = {1};

static unsigned char mark(int page)
{
    return (unsigned char)(page * 7 + 11);
}

/* How many pages differ from what the parent wrote before the fork. */
static int wrong_pages(void)
{
    int wrong = 0;
    for (int p = 0; p < PAGES; p++) {
        unsigned char want = p % STRIDE == 0 ? mark(p) : 0;
        /* data[0] is the initializer's 1, every other untouched byte the file's 0. */
        wrong += data[p * PAGE + 100] != want || data[p * PAGE] != (p == 0);
    }
    return wrong;
}

int main(void)
{
    for (int p = 0; p < PAGES; p += STRIDE)
        data[p * PAGE + 100] = mark(p);
    CHECK_EQ("the parent's pages before the fork", wrong_pages(), 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        int wrong = wrong_pages();
        for (int p = 1; p < PAGES; p += STRIDE)
            data[p * PAGE + 100] = 0xee;
        _exit(wrong > 100 ? 100 : wrong);
    }
    int status = 0;
    CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
    check("the child saw every page as the parent had it",
          WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    CHECK_EQ("the child's later writes stay its own", wrong_pages(), 0);
    return check_finish();
}
