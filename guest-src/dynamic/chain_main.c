/* A helper of the tree: calls through libdyn_chain.so to libdyn_leaf.so and prints the answer. */
#include "check.h"

int chain(void);

int main(void)
{
    out("chain %d\n", chain());
    return 0;
}
