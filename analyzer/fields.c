/* fields.c — the field view of a group (see fields.h). */
#include "fields.h"

#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

int field_view_build(const struct group *g, struct field_view *v)
{
    memset(v, 0, sizeof(*v));
    if (!g->fields)
        return -1;
    size_t n;
    const struct content_field *fields = content_fields_result(g->fields, &n);
    v->n = n < FIELDS_MAX ? n : FIELDS_MAX;
    memcpy(v->fields, fields, v->n * sizeof(*fields));
    v->samples = v->n ? v->fields[0].buffers : 0;
    v->word = content_fields_word(g->fields);
    if (!v->n)
        return -1;
    /* A word inside the heap's extent, 8-aligned, is taken for a pointer into the heap (gaps
     * between heaps count: it says "pointer", not which block). */
    const struct analysis *a = g->from;
    uint64_t lo = a->heap_lo, hi = a->heap_hi;
    for (size_t k = 0; k < v->n; k++) {
        const struct content_field *f = &v->fields[k];
        if (f->kind == CONTENT_FIELD_CONSTANT && f->value && a->sym) {
            struct field_name *name = &v->names[k];
            if (sym_data(a->sym, f->value, &name->module, &name->symbol, &name->offset) &&
                name->symbol && k == 0 && !strncmp(name->symbol, "vtable for ", 11))
                v->type = name->symbol + 11;
        }
        uint64_t min = f->kind == CONTENT_FIELD_CONSTANT ? f->value : f->min;
        uint64_t max = f->kind == CONTENT_FIELD_CONSTANT ? f->value : f->max;
        v->heap[k] = f->kind != CONTENT_FIELD_TEXT && f->aligned && min >= lo && max < hi &&
                     !v->names[k].symbol;
    }
    return 0;
}

void field_view_free(struct field_view *v)
{
    v->n = 0; /* the token histograms are the group's */
}
