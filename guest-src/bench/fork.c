/*
 * fork.c COUNT [MIB] — COUNT times fork + _exit + waitpid, after dirtying MIB MiB of private
 * memory (default 0): what a fork strategy costs for a small and for a large process.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
    unsigned long mib = 0;
    if (argc == 3) {
        mib = strtoul(argv[2], NULL, 10);
        argc = 2;
    }
    unsigned long n = bench_count(argc, argv);
    char *memory = NULL;
    if (mib) {
        memory = malloc(mib << 20);
        if (!memory)
            return 1;
        memset(memory, 0x5a, mib << 20);
    }
    unsigned long ok = 0;
    for (unsigned long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(memory ? memory[(i * 4096) % (mib << 20)] == 0x5a ? 0 : 1 : 0);
        int status;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    printf("fork: %lu of %lu forks with %lu MiB dirty\n", ok, n, mib);
    return ok == n ? 0 : 1;
}
