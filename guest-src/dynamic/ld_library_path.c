/*
 * LD_LIBRARY_PATH: a program of the tree linked against libdyn_a.so, with no rpath, is started
 * without it (the loader gives up: status 127), with the library's directory, with two
 * directories holding different builds (the first wins), with a missing directory before the
 * right one, relative to the working directory, and beside other variables.
 */
#include "dyn.h"

static char buf[4096];

static int run_with(const char *ldpath, const char *cwd)
{
    char var[PATH_MAX * 5];
    char *envp[3] = {NULL, NULL, NULL};
    if (ldpath) {
        snprintf(var, sizeof var, "LD_LIBRARY_PATH=%s", ldpath);
        envp[0] = var;
        envp[1] = "OTHER=1";
    }
    char *argv[] = {"uses_a", NULL};
    return run_capture(tree("uses_a"), argv, envp, cwd, buf, sizeof buf);
}

int main(void)
{
    char path[PATH_MAX * 4];
    int status = run_with(NULL, NULL);
    CHECK_EQ("without LD_LIBRARY_PATH the loader gives up with 127", exit_of(status), 127);
    check("without LD_LIBRARY_PATH main never runs", buf[0] == '\0', "printed %s", buf);

    status = run_with(tree("lib"), NULL);
    CHECK_EQ("LD_LIBRARY_PATH=lib exit", exit_of(status), 0);
    check("LD_LIBRARY_PATH=lib finds the library", !strcmp(buf, "value 1 first\n"), "got %s", buf);

    snprintf(path, sizeof path, "%s:%s", tree("lib2"), tree("lib"));
    status = run_with(path, NULL);
    CHECK_EQ("LD_LIBRARY_PATH=lib2:lib exit", exit_of(status), 0);
    check("the first directory of LD_LIBRARY_PATH wins", !strcmp(buf, "value 2 second\n"),
          "got %s", buf);

    snprintf(path, sizeof path, "%s:%s", tree("lib"), tree("lib2"));
    status = run_with(path, NULL);
    check("the order reversed, the other build", exit_of(status) == 0 &&
          !strcmp(buf, "value 1 first\n"), "status %d, got %s", exit_of(status), buf);

    snprintf(path, sizeof path, "%s:%s", tree("missing-dir"), tree("lib2"));
    status = run_with(path, NULL);
    check("a missing directory is passed over", exit_of(status) == 0 &&
          !strcmp(buf, "value 2 second\n"), "status %d, got %s", exit_of(status), buf);

    status = run_with("lib", self_dir());
    check("a relative directory is the working directory's", exit_of(status) == 0 &&
          !strcmp(buf, "value 1 first\n"), "status %d, got %s", exit_of(status), buf);

    status = run_with(tree("missing-dir"), NULL);
    CHECK_EQ("only missing directories: 127", exit_of(status), 127);
    return check_finish();
}
