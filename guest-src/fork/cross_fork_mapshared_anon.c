/* MAP_SHARED|MAP_ANONYMOUS stays shared across fork; a second child sees both sides' writes. */
#include "mapshared.h"
#include <sys/mman.h>

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    volatile char *map = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap MAP_SHARED|MAP_ANONYMOUS", map != MAP_FAILED);
    mapshared_exchange(map);
    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(mapshared_all_writes(map) ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    check("(4) a second child sees both sides' writes", WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "status %#x", st);
    return check_finish();
}
