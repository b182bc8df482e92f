/* canonical_plt.c — a non-PIE program that takes malloc's and free's addresses, as Debian's
 * python3.11 does: the executable then carries canonical PLT entries for them (undefined
 * symbols with a value, where dlsym(RTLD_DEFAULT, "malloc") lands). It uses malloc, it does
 * not replace it: under the shim its blocks must be tracked. leaktag_stats is looked up with
 * dlsym: code built without -fpie binds a weak undefined function to 0 at link time. */
#include <dlfcn.h>

#include "check.h"

void *(*volatile allocate)(size_t);
void (*volatile release)(void *);

static uint64_t live_blocks(void)
{
    int (*stats)(struct leaktag_stats *) =
        (int (*)(struct leaktag_stats *))dlsym(RTLD_DEFAULT, "leaktag_stats");
    struct leaktag_stats s = {.struct_size = sizeof(s)};
    CHECK(stats && stats(&s) == 0);
    return s.live_blocks;
}

int main(void)
{
    /* Addresses taken in code built without -fpie: the link must give malloc and free
     * addresses of the executable's own (a movl $malloc), its canonical PLT entries. */
    allocate = malloc;
    release = free;
    uint64_t before = live_blocks();
    void *kept[10];
    for (int i = 0; i < 10; i++)
        kept[i] = allocate(100 + i);
    CHECK_EQ(live_blocks() - before, 10);
    for (int i = 0; i < 10; i++)
        release(kept[i]);
    CHECK_EQ(live_blocks(), before);
    puts("canonical PLT entries for malloc and free: 10 blocks tracked and released");
    return 0;
}
