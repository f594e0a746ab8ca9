/* libplugin.so: a library opened with dlopen — a function, data, and a call into its loader. */
int plugin_value = 7;
static int calls;

int plugin_add(int a, int b)
{
    calls++;
    return a + b;
}

int plugin_calls(void)
{
    return calls;
}

/* Defined by the program that loads the library (exported with -rdynamic). */
int host_base(void);

int plugin_from_host(void)
{
    return host_base() + 1;
}
