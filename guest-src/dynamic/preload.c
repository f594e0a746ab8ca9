/*
 * LD_PRELOAD: a preloaded library's definition wins over the program's library's, reaches the
 * real one through RTLD_NEXT, and its constructor runs first; two preloads, separated by a
 * space or a colon, each reaching the next through RTLD_NEXT; a missing preload is passed over (glibc and musl each warn on
 * stderr, which is not compared).
 */
#include "dyn.h"

static char buf[4096];

static int run_with(const char *preload)
{
    char var[PATH_MAX * 5];
    char *envp[2] = {NULL, NULL};
    if (preload) {
        snprintf(var, sizeof var, "LD_PRELOAD=%s", preload);
        envp[0] = var;
    }
    char *argv[] = {"uses_a", NULL};
    return run_capture(tree("uses_a"), argv, envp, NULL, buf, sizeof buf);
}

int main(void)
{
    int status = run_with(NULL);
    check("without LD_PRELOAD the library answers", exit_of(status) == 0 &&
          !strcmp(buf, "value 1 first\n"), "status %d, got %s", exit_of(status), buf);

    status = run_with(tree("libpreload.so"));
    check("a preload interposes and reaches the real one through RTLD_NEXT",
          exit_of(status) == 0 && !strcmp(buf, "preload ctor\nvalue 101 first\n"),
          "status %d, got %s", exit_of(status), buf);

    char two[PATH_MAX * 4];
    snprintf(two, sizeof two, "%s %s", tree("libpreload2.so"), tree("libpreload.so"));
    status = run_with(two);
    check("two preloads separated by a space chain through RTLD_NEXT in order", exit_of(status) == 0 &&
          !strcmp(buf, "preload ctor\npreload ctor\nvalue 301 first\n"), "status %d, got %s",
          exit_of(status), buf);

    snprintf(two, sizeof two, "%s:%s", tree("libpreload.so"), tree("libpreload2.so"));
    status = run_with(two);
    check("two preloads separated by a colon chain the same way", exit_of(status) == 0 &&
          !strcmp(buf, "preload ctor\npreload ctor\nvalue 301 first\n"), "status %d, got %s",
          exit_of(status), buf);
    return check_finish();
}
