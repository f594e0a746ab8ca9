/*
 * Lazy and immediate binding: a library calling a function nobody defines yet fails to open
 * with RTLD_NOW (dlerror names the symbol) and opens with RTLD_LAZY; its other functions work;
 * once a library defining the function is opened RTLD_GLOBAL, the call resolves. An undefined
 * data reference fails RTLD_NOW too. (Under RTLD_LAZY glibc binds data at load and fails, musl
 * defers it as well: not compared.)
 */
#include "dyn.h"

#include <dlfcn.h>

int main(void)
{
    void *h = dlopen(tree("lib/libneeds_late.so"), RTLD_NOW);
    check("RTLD_NOW with an undefined function fails", h == NULL, "opened");
    const char *err = dlerror();
    check("dlerror names the undefined function", err && strstr(err, "late_func"), "%s",
          err ? "no name" : "no error");

    h = dlopen(tree("lib/libneeds_late.so"), RTLD_LAZY);
    REQUIRE("RTLD_LAZY opens it", h != NULL);
    int (*safe)(void) = (int (*)(void))dlsym(h, "safe_func");
    int (*call_late)(void) = (int (*)(void))dlsym(h, "call_late");
    REQUIRE("its symbols are there", safe && call_late);
    CHECK_EQ("a function that needs nothing unresolved runs", safe(), 5);
    check("the undefined function is not visible yet", dlsym(RTLD_DEFAULT, "late_func") == NULL,
          "found");
    dlerror();

    void *late = dlopen(tree("lib/liblate.so"), RTLD_LAZY | RTLD_GLOBAL);
    REQUIRE("the defining library opens RTLD_GLOBAL", late != NULL);
    check("now RTLD_DEFAULT finds it", dlsym(RTLD_DEFAULT, "late_func") != NULL, "not found");
    CHECK_EQ("the lazy call resolves against the global library", call_late(), 100);
    CHECK_EQ("and again", call_late(), 100);

    void *now = dlopen(tree("lib/libneeds_late.so"), RTLD_NOW);
    check("RTLD_NOW on the loaded library now succeeds", now == h, "%s",
          now ? "another handle" : dlerror());

    void *data = dlopen(tree("lib/libneeds_data.so"), RTLD_NOW);
    check("RTLD_NOW with an undefined data reference fails", data == NULL, "opened");
    err = dlerror();
    check("dlerror names the undefined data", err && strstr(err, "late_data"), "%s",
          err ? "no name" : "no error");
    return check_finish();
}
