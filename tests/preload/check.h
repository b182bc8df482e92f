/* check.h — tiny assertion helpers for programs that run under LD_PRELOAD=libleaktag.so and
 * look at the shim through include/leaktag.h. No stdio on the checking path (it allocates). */
#ifndef LT_TEST_CHECK_H
#define LT_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leaktag.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);       \
        if (a_ != b_) {                                                                      \
            fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, __LINE__,  \
                    #a, a_, #b, b_);                                                         \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static inline struct leaktag_stats lt_test_stats(void)
{
    struct leaktag_stats s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    if (!leaktag_stats) {
        fprintf(stderr, "libleaktag.so is not preloaded\n");
        exit(1);
    }
    if (leaktag_stats(&s) != 0) {
        fprintf(stderr, "leaktag_stats failed\n");
        exit(1);
    }
    return s;
}

#endif
