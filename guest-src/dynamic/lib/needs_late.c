/* libneeds_late.so: calls late_func(), which no library it links defines. */
int late_func(void);

int call_late(void)
{
    return late_func() + 1;
}

int safe_func(void)
{
    return 5;
}
