/* dump.h — every record of a parsed snapshot as one line of text ("block 0x... size 48
 * stack 3 ..."), strings escaped. */
#ifndef LTS_DUMP_H
#define LTS_DUMP_H

#include <stdio.h>

#include "reader.h"

void lts_dump_raw(FILE *out, const struct lts_snapshot *s);

#endif
