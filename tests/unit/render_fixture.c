/* render_fixture.c — see render_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render_fixture.h"

void render_model(struct model *m, const struct spec *specs, size_t n,
                  const struct model_options *opt, snapshot_edit_fn edit)
{
    struct analysis *snaps = calloc(n, sizeof(*snaps));
    assert_non_null(snaps);
    for (size_t i = 0; i < n; i++) {
        snaps[i].path = "in memory";
        snaps[i].snap = fixture_snapshot(&specs[i]);
        if (edit)
            edit(snaps[i].snap, i);
    }
    FILE *warn = fopen("/dev/null", "w");
    assert_non_null(warn);
    struct lts_error err;
    if (model_build(m, snaps, n, opt, warn, &err) != 0)
        fail_msg("model_build: %s", err.message);
    fclose(warn);
}

void render_graft(struct model *m, uint32_t stack, const struct frame *frames, uint32_t n)
{
    for (size_t i = 0; i < m->nsnaps; i++) {
        /* the model hands renderers const frames; the test is the one writer here */
        struct stack_frames *sf = (struct stack_frames *)frames_of(m->snaps[i].frames, stack);
        sf->frames = frames;
        sf->n = n;
    }
}

FILE *capture_begin(struct capture *c)
{
    *c = (struct capture){0};
    c->f = open_memstream(&c->text, &c->size);
    assert_non_null(c->f);
    return c->f;
}

const char *capture_end(struct capture *c)
{
    assert_int_equal(fclose(c->f), 0);
    c->f = NULL;
    return c->text;
}

void capture_free(struct capture *c)
{
    free(c->text);
    *c = (struct capture){0};
}

size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* ---- a strict JSON reader that only says yes or no --------------------------------------- */

struct json_in {
    const char *p, *end;
    int depth;
};

static void skip_space(struct json_in *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool literal(struct json_in *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool is_digit(const struct json_in *j)
{
    return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static bool number(struct json_in *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (!is_digit(j))
        return false;
    if (*j->p == '0')
        j->p++;
    else
        while (is_digit(j))
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!is_digit(j))
            return false;
        while (is_digit(j))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!is_digit(j))
            return false;
        while (is_digit(j))
            j->p++;
    }
    return true;
}

static bool string(struct json_in *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    for (j->p++; j->p < j->end; j->p++) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20) /* a control character must be escaped */
            return false;
        if (c != '\\')
            continue;
        if (++j->p >= j->end)
            return false;
        if (*j->p == 'u') {
            for (int k = 0; k < 4; k++)
                if (++j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                    return false;
        } else if (!strchr("\"\\/bfnrt", *j->p)) {
            return false;
        }
    }
    return false;
}

static bool value(struct json_in *j);

static bool container(struct json_in *j, char close, bool keyed)
{
    j->p++;
    skip_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        if (keyed) {
            if (!string(j))
                return false;
            skip_space(j);
            if (j->p >= j->end || *j->p++ != ':')
                return false;
        }
        if (!value(j))
            return false;
        skip_space(j);
        if (j->p >= j->end)
            return false;
        char c = *j->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
        skip_space(j);
    }
}

static bool value(struct json_in *j)
{
    skip_space(j);
    if (j->p >= j->end || ++j->depth > 64)
        return false;
    bool ok;
    switch (*j->p) {
    case '{': ok = container(j, '}', true); break;
    case '[': ok = container(j, ']', false); break;
    case '"': ok = string(j); break;
    case 't': ok = literal(j, "true"); break;
    case 'f': ok = literal(j, "false"); break;
    case 'n': ok = literal(j, "null"); break;
    default: ok = number(j); break;
    }
    j->depth--;
    return ok;
}

bool json_valid(const char *text, size_t n)
{
    struct json_in j = {text, text + n, 0};
    if (!value(&j))
        return false;
    skip_space(&j);
    return j.p == j.end;
}
