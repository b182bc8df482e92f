/* A statically linked program: the loader cannot preload anything into it. */
int main(void)
{
    return 0;
}
