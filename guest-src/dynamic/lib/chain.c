/* libdyn_chain.so: found through the program's $ORIGIN/lib; finds its own dependency,
   libdyn_leaf.so, through its own $ORIGIN/../deps. */
int leaf(void);

int chain(void)
{
    return leaf() * 10 + 1;
}
