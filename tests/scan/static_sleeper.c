/* A statically linked program that waits: leaktag-scan must refuse it with one line. */
#include <unistd.h>

int main(void)
{
    pause();
    return 0;
}
