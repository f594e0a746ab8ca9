/* libneeds_data.so: reads late_data, which nobody defines: a GOT entry bound at load. */
extern int late_data;

int read_late_data(void)
{
    return late_data;
}
