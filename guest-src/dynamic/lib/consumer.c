/* libconsumer.so: needs shared_sym at load (RTLD_NOW) without linking the library that has it. */
int shared_sym(void);

int consume(void)
{
    return shared_sym() * 2;
}
