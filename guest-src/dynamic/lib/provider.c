/* libprovider.so: defines shared_sym and a function every library may interpose. */
int shared_sym(void)
{
    return 11;
}

int interposable(void)
{
    return 1;
}

int call_interposable(void)
{
    return interposable();
}
