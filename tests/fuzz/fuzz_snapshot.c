/* libFuzzer target for the snapshot reader: any byte string must parse or fail with a
 * message and an offset, never crash, leak or read out of bounds (built with ASan+UBSan).
 * What parses is walked as the report would walk it, content analysis included. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "content.h"
#include "reader.h"
#include "samples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_token(const char *s, size_t n, void *ctx)
{
    *(size_t *)ctx += n + (size_t)(s[0] != 0);
}

struct walk {
    const struct lts_snapshot *s;
    const struct content_regex *re;
    struct content_histogram *strings;
    struct content_fields *fields;
    size_t sum;
};

/* What the report's census does with each sample. */
static int walk_sample(void *ctx, size_t index, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct walk *w = ctx;
    w->sum += index + w->s->stacks[sm->stack].depth;
    content_strings(bytes, sm->len, 4, content_histogram_add_token, w->strings);
    content_fields_add(w->fields, bytes, sm->len);
    if (w->re)
        content_regex_each(w->re, bytes, sm->len, count_token, &w->sum);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct content_regex *re;
    struct lts_error e;
    if (!re)
        re = content_regex_compile("channelid=\\d*", &e);
    struct lts_snapshot *s;
    if (lts_parse(data, size, &s, &e) != 0) {
        if (!e.message[0] || e.offset > size)
            __builtin_trap(); /* every failure says what and where */
        return 0;
    }
    size_t sum = 0;
    for (size_t i = 0; i < s->nblocks; i++) {
        const struct lts_stack *st = &s->stacks[s->blocks[i].stack];
        sum += st->depth ? (size_t)st->frames[st->depth - 1] : 0;
        const struct lts_thread *t = lts_thread(s, s->blocks[i].thread);
        sum += t ? strlen(t->name) : 0;
    }
    /* small bounds, so that fuzzed samples exercise the dropping of strings */
    struct walk w = {s, re, content_histogram_new_bounded(64), content_fields_new(8, size % 2 ? 4 : 8), 0};
    if (w.strings && w.fields) {
        if (lts_samples_each(s, walk_sample, &w, &e) != 0 && !e.message[0])
            __builtin_trap();
        size_t n;
        const struct content_entry *entries = content_histogram_sorted(w.strings, &n);
        for (size_t i = 0; i < n; i++)
            sum += entries[i].count + entries[i].uncounted;
        const struct content_field *f = content_fields_result(w.fields, &n);
        for (size_t i = 0; i < n; i++)
            sum += f[i].kind + f[i].buffers;
    }
    sum += w.sum;
    content_histogram_free(w.strings);
    content_fields_free(w.fields);
    for (size_t i = 0; i < s->nmisuse; i++)
        sum += s->stacks[s->misuse[i].alloc_stack].depth + s->stacks[s->misuse[i].release_stack].depth;
    for (size_t i = 0; i < s->nmodules; i++)
        sum += s->modules[i].nsegments ? s->modules[i].segments[0].size : 0;
    sum += strlen(s->exe) + strlen(s->reason) + s->cmdline_len;
    lts_close(s);
    return sum == 0x5eed ? 1 : 0;
}
