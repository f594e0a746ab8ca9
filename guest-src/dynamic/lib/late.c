/* liblate.so: defines the function libneeds_late.so calls but does not link. */
int late_func(void)
{
    return 99;
}
