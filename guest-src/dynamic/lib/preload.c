/*
 * libpreload.so (and libpreload2.so, STEP 200): given in LD_PRELOAD, it interposes on libdyn_a.so's dyn_a_value and calls the
 * real one through RTLD_NEXT; its constructor runs before the program's libraries' own.
 */
#include <dlfcn.h>
#include <unistd.h>

#ifndef STEP
#define STEP 100
#endif

__attribute__((constructor)) static void preload_ctor(void)
{
    (void)!write(1, "preload ctor\n", 13);
}

int dyn_a_value(void)
{
    int (*real)(void) = (int (*)(void))dlsym(RTLD_NEXT, "dyn_a_value");
    return real ? STEP + real() : -1;
}
