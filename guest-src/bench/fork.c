/*
 * fork.c COUNT [MIB] — COUNT times fork + _exit + waitpid, after dirtying MIB MiB of private
 * memory (default 0): what a fork strategy costs for a small and for a large process. With MIB
 * given, COUNT may be 0: the setup alone, which the benchmark subtracts.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
    unsigned long mib = 0;
    unsigned long n;
    if (argc == 3) {
        char *end;
        mib = strtoul(argv[2], NULL, 10);
        n = strtoul(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0') {
            fprintf(stderr, "%s: COUNT must be a number, not \"%s\"\n", argv[0], argv[1]);
            return 2;
        }
    } else {
        n = bench_count(argc, argv);
    }
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
