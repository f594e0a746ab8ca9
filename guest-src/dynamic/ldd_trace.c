/*
 * The loader as a command: `ld.so --list PROG` lists PROG's libraries as ldd does (each
 * `name => path (address)`, load addresses normalised here) without running it, and so does the
 * libc's own other way of asking (glibc: LD_TRACE_LOADED_OBJECTS=1 on the program; musl: the
 * loader started as `ldd`); `ld.so PROG` runs it, `ld.so --library-path DIR PROG` with DIR
 * searched first; a program whose library is missing makes the listing fail.
 */
#include "dyn.h"

#ifdef __GLIBC__
#define LOADER "/lib/ld-linux-aarch64.so.1"
#else
#define LOADER "/lib/ld-musl-aarch64.so.1"
#endif

static char list[8192], other[8192], buf[8192];

/* Rewrites every `(0x…)` in `text` to `(ADDR)` and the program's directory to `$DIR`. */
static void normalise(char *text, size_t size)
{
    hide_dir(text, size);
    char *at;
    while ((at = strstr(text, "(0x"))) {
        char *end = strchr(at, ')');
        if (!end)
            break;
        memmove(at + 6, end + 1, strlen(end + 1) + 1);
        memcpy(at, "(ADDR)", 6);
    }
}

/* The first line of `text` holding `word`, into `line` (empty when there is none). */
static void line_of(const char *text, const char *word, char *line, size_t size)
{
    line[0] = '\0';
    const char *at = strstr(text, word);
    if (!at)
        return;
    while (at > text && at[-1] != '\n')
        at--;
    size_t len = strcspn(at, "\n");
    snprintf(line, size, "%.*s", (int)len, at);
}

static int has_line(const char *text, const char *word)
{
    return strstr(text, word) != NULL;
}

int main(void)
{
    char *envp[] = {NULL};
    char *list_argv[] = {"ld.so", "--list", (char *)tree("traced"), NULL};
    int status = run_capture(LOADER, list_argv, envp, NULL, list, sizeof list);
    CHECK_EQ("ld.so --list exits 0", exit_of(status), 0);
    normalise(list, sizeof list);
    check("ld.so --list does not run the program", !has_line(list, "value "), "it ran");
    check("ld.so --list lists the C library", has_line(list, "libc.so"), "no libc line");
    check("ld.so --list lists the loader", has_line(list, LOADER), "no loader line");
    char line[512];
    line_of(list, "libdyn_a", line, sizeof line);
    out("listed:%s\n", line);

#ifdef __GLIBC__
    char *trace_env[] = {"LD_TRACE_LOADED_OBJECTS=1", NULL};
    char *trace_argv[] = {"traced", NULL};
    status = run_capture(tree("traced"), trace_argv, trace_env, NULL, other, sizeof other);
#else
    char *ldd_argv[] = {"ldd", (char *)tree("traced"), NULL};
    status = run_capture(LOADER, ldd_argv, envp, NULL, other, sizeof other);
#endif
    normalise(other, sizeof other);
    /* The lines of the program and the loader differ between the two ways (glibc's --list
       shows the program with an empty name and the loader by the name it was started as). */
    char mine[512], theirs[512];
    line_of(list, "libdyn_a", mine, sizeof mine);
    line_of(other, "libdyn_a", theirs, sizeof theirs);
    check("the libc's other way of asking lists the library the same", exit_of(status) == 0 &&
          mine[0] && !strcmp(mine, theirs), "status %d, got %s", exit_of(status), other);

    char *run_argv[] = {"ld.so", (char *)tree("traced"), NULL};
    status = run_capture(LOADER, run_argv, envp, NULL, buf, sizeof buf);
    check("ld.so PROG runs the program", exit_of(status) == 0 &&
          !strcmp(buf, "value 1 first\n"), "status %d, got %s", exit_of(status), buf);

    char *path_argv[] = {"ld.so", "--library-path", (char *)tree("lib2"), (char *)tree("uses_a"),
                         NULL};
    status = run_capture(LOADER, path_argv, envp, NULL, buf, sizeof buf);
    check("ld.so --library-path DIR PROG searches DIR", exit_of(status) == 0 &&
          !strcmp(buf, "value 2 second\n"), "status %d, got %s", exit_of(status), buf);

    char *missing_argv[] = {"ld.so", "--list", (char *)tree("uses_a"), NULL};
    status = run_capture(LOADER, missing_argv, envp, NULL, buf, sizeof buf);
    check("ld.so --list fails for a library it cannot find", exit_of(status) != 0, "exit 0");
    return check_finish();
}
