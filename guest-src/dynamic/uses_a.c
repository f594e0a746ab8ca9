/* A helper program of the tree linked against libdyn_a.so: prints what the library answers. */
#include "check.h"

int dyn_a_value(void);
const char *dyn_a_name(void);

int main(void)
{
    out("value %d %s\n", dyn_a_value(), dyn_a_name());
    return 0;
}
