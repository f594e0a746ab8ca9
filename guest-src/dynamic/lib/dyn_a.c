/* libdyn_a.so: a library the harness builds twice (VARIANT 1 in lib/, 2 in lib2/). */
#ifndef VARIANT
#define VARIANT 1
#endif

int dyn_a_value(void)
{
    return VARIANT;
}

const char *dyn_a_name(void)
{
    return VARIANT == 1 ? "first" : "second";
}
