/* argv and envp arrive exactly as given: count, order, empty strings, spaces, terminators. */
#include "check.h"

extern char **environ;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv, char **envp)
{
    CHECK_EQ("argc", argc, 4);
    check("argv[0] is the name the runner gave", strcmp(argv[0], "argv_envp") == 0, "got \"%s\"",
          argv[0]);
    check("argv[1]", argc > 1 && strcmp(argv[1], "one") == 0, "got \"%s\"", argc > 1 ? argv[1] : "");
    check("argv[2] keeps its space", argc > 2 && strcmp(argv[2], "two words") == 0, "got \"%s\"",
          argc > 2 ? argv[2] : "");
    check("argv[3] is empty", argc > 3 && argv[3][0] == '\0', "got \"%s\"", argc > 3 ? argv[3] : "");
    check("argv[argc] is NULL", argv[argc] == NULL, "not NULL");
    check("environ is envp", environ == envp, "differs");

    /* The runner gives every lane the same environment: print it sorted. */
    int n = 0;
    while (envp[n])
        n++;
    char **sorted = calloc((size_t)n + 1, sizeof *sorted);
    memcpy(sorted, envp, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    for (int i = 0; i < n; i++)
        out("env %s\n", sorted[i]);
    const char *v = getenv("CASE_VAR");
    check("getenv of a fixture variable", v && strcmp(v, "value with spaces") == 0, "got \"%s\"",
          v ? v : "(null)");
    check("getenv of an unset variable", getenv("ELFVISOR_UNSET_VAR") == NULL, "not NULL");
    return check_finish();
}
