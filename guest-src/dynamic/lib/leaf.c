/* libdyn_leaf.so: the end of the chain. */
int leaf(void)
{
    return 4;
}
