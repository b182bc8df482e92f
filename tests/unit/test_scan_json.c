/* Unit tests of scan_json.c, leaktag-scan --format json, on scan results made in memory
 * (scan_fixture_scan.h). The output is parsed here by a strict JSON reader of its own. Cases:
 * a glibc heap looked at twice — every object has exactly the keys docs/SCAN.md lists
 * (those it lists as conditional where their condition holds), and the numbers are the
 * scan's; a heap that is not glibc's, looked at once — `why`, regions instead of size
 * classes, no growth, and stack_rlimit as "unlimited" or null; target text — every string
 * that came from the target holding '<', '"', a newline, an escape and bytes that are not
 * UTF-8 comes out as JSON that decodes to those very bytes, the output itself being
 * printable ASCII with no '<'. And the verdict (--reach): heap.reachability and each class's
 * reachability in chunks and bytes, retained_by (a chain's root naming a symbol of the
 * target's), the verdict object with --reach, --lost, and no verdict and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"
#include "scan_fixture_scan.h"

/* ---- a strict JSON reader ------------------------------------------------------------------ */

struct jv {
    char type; /* 'n' null, 'b' bool, 'd' number, 's' string, 'a' array, 'o' object */
    bool b;
    double d;
    char *s; /* decoded bytes (a string), NUL-terminated */
    size_t len;
    size_t n;         /* items */
    struct jv *items; /* array items or object values */
    char **keys;      /* object keys */
};

static const char *at; /* where the reader is */

static void ws(void)
{
    while (*at == ' ' || *at == '\n' || *at == '\t' || *at == '\r')
        at++;
}

static bool parse(struct jv *v);

static bool parse_string(char **out, size_t *len)
{
    if (*at++ != '"')
        return false;
    char *buf = malloc(strlen(at) + 1);
    size_t n = 0;
    while (*at != '"') {
        unsigned char c = (unsigned char)*at++;
        if (c < 0x20) { /* raw control characters are not JSON */
            free(buf);
            return false;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        char e = *at++;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            buf[n++] = to[k - from];
        } else if (e == 'u') {
            unsigned code;
            if (sscanf(at, "%4x", &code) != 1 || code > 0xff) { /* only bytes are written */
                free(buf);
                return false;
            }
            buf[n++] = (char)code;
            at += 4;
        } else {
            free(buf);
            return false;
        }
    }
    at++;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}

static bool parse_items(struct jv *v, char close, bool object)
{
    size_t cap = 0;
    at++;
    ws();
    if (*at == close) {
        at++;
        return true;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            v->items = realloc(v->items, cap * sizeof(*v->items));
            v->keys = realloc(v->keys, cap * sizeof(*v->keys));
        }
        ws();
        size_t len;
        v->keys[v->n] = NULL;
        if (object && (!parse_string(&v->keys[v->n], &len) || (ws(), *at++ != ':')))
            return false;
        memset(&v->items[v->n], 0, sizeof(v->items[0]));
        if (!parse(&v->items[v->n++]))
            return false;
        ws();
        if (*at == close) {
            at++;
            return true;
        }
        if (*at++ != ',')
            return false;
    }
}

static bool parse(struct jv *v)
{
    ws();
    if (*at == '{') {
        v->type = 'o';
        return parse_items(v, '}', true);
    }
    if (*at == '[') {
        v->type = 'a';
        return parse_items(v, ']', false);
    }
    if (*at == '"') {
        v->type = 's';
        return parse_string(&v->s, &v->len);
    }
    const char *words[] = {"null", "true", "false"};
    for (int i = 0; i < 3; i++)
        if (!strncmp(at, words[i], strlen(words[i]))) {
            v->type = i ? 'b' : 'n';
            v->b = i == 1;
            at += strlen(words[i]);
            return true;
        }
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *p = at;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    v->type = 'd';
    v->d = strtod(at, NULL);
    at = p;
    return true;
}

static void jfree(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
}

/* The value at a path of keys and indexes ("heap.classes.0.usable"), or NULL. */
static const struct jv *jget(const struct jv *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save;
    for (char *k = strtok_r(buf, ".", &save); v && k; k = strtok_r(NULL, ".", &save)) {
        const struct jv *next = NULL;
        if (v->type == 'a') {
            size_t i = strtoul(k, NULL, 10);
            next = i < v->n ? &v->items[i] : NULL;
        } else if (v->type == 'o') {
            for (size_t i = 0; i < v->n && !next; i++)
                if (!strcmp(v->keys[i], k))
                    next = &v->items[i];
        }
        v = next;
    }
    return v;
}

static double num(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);
    if (!v || v->type != 'd')
        fail_msg("%s: not a number", path);
    return v->d;
}

static const char *str(const struct jv *root, const char *path)
{
    const struct jv *v = jget(root, path);
    if (!v || v->type != 's')
        fail_msg("%s: not a string", path);
    return v->s;
}

/* An object's keys are exactly the space-separated `keys`. */
static void keys_are(const struct jv *root, const char *path, const char *keys)
{
    const struct jv *v = path[0] ? jget(root, path) : root;
    if (!v || v->type != 'o')
        fail_msg("%s: not an object", path);
    char want[1024];
    snprintf(want, sizeof(want), " %s ", keys);
    size_t listed = 0;
    for (const char *p = keys; *p; p++)
        listed += *p == ' ';
    for (size_t i = 0; i < v->n; i++) {
        char key[80];
        snprintf(key, sizeof(key), " %s ", v->keys[i]);
        if (!strstr(want, key))
            fail_msg("%s: key \"%s\" is not in docs/SCAN.md", path, v->keys[i]);
    }
    if (v->n != listed + 1)
        fail_msg("%s: %zu keys, docs/SCAN.md lists %zu: %s", path, v->n, listed + 1, keys);
}

/* ---- the renderer ------------------------------------------------------------------------- */

/* The last output, kept here (not in a local) for open_memstream to grow. */
static char *output;
static size_t output_size;

static const char *render(struct scan_fixture *f, struct jv *root)
{
    free(output);
    output = NULL;
    FILE *out = open_memstream(&output, &output_size);
    assert_non_null(out);
    scan_render_json(out, &f->s);
    fclose(out);
    memset(root, 0, sizeof(*root));
    at = output;
    if (!parse(root))
        fail_msg("not JSON at byte %zu: %.40s", (size_t)(at - output), at);
    ws();
    assert_int_equal(*at, '\0');
    assert_int_equal(output[output_size - 1], '\n');
    return output;
}

/* Printable ASCII but the final newline, and no '<' (the JSON may sit in an HTML page). */
static void ascii_without_lt(const char *text)
{
    for (const char *p = text; *p; p++)
        if (!(*p >= 0x20 && *p < 0x7f && *p != '<') && p[1])
            fail_msg("byte %#x at %zu left as is", (unsigned char)*p, (size_t)(p - text));
}

#define TARGET_KEYS                                                            \
    "source core pid name executable pointer_bits address_space stack_rlimit " \
    "unmeasured_mappings"
#define TOP_KEYS                                                                        \
    "leaktag_scan target frozen stopped_seconds walk_seconds total_seconds looks heap " \
    "verdict contents threads families stacks_reserved dump"
#define HEAP_KEYS                                                                           \
    "glibc arenas heap_bytes inuse_chunks inuse_bytes free_chunks free_bytes largest_free " \
    "tcaches tcache_chunks fastbin_chunks fastbins_read unchecked_small top_bytes "         \
    "mmapped_chunks mmapped_bytes overhead_bytes invalid_chunks skipped_bytes "             \
    "changed_under_walk classes"
#define CONTENT_TAIL                                                              \
    "bytes unread grep grep_matched grep_total matches matches_distinct strings " \
    "strings_distinct shapes shapes_distinct samples"

static void test_glibc_two_looks(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 2, true);
    struct jv root;
    render(&f, &root);
    keys_are(&root, "", TOP_KEYS);
    keys_are(&root, "target", TARGET_KEYS);
    keys_are(&root, "looks.0", "at vm_size rss inuse_chunks inuse_bytes mappings classes");
    keys_are(&root, "looks.1.mappings.0", "start end size rss swapped perms kind path");
    keys_are(&root, "looks.1.mappings.4", "start end size rss swapped perms kind path tid");
    keys_are(&root, "heap", HEAP_KEYS);
    keys_are(&root, "heap.arenas.0", "address main heaps bytes top");
    keys_are(&root, "heap.classes.0", "usable chunks bytes mmapped cached growth");
    keys_are(&root, "contents.0", "usable chunks growth " CONTENT_TAIL);
    keys_are(&root, "contents.0.matches.0", "text count buffers");
    keys_are(&root, "contents.0.strings.0", "text count");
    keys_are(&root, "contents.0.samples.0", "address size hex");
    keys_are(&root, "threads.0", "tid name sp stack_reserved started_in");
    keys_are(&root, "families.0", "name started_in threads stack_each reserved unknown_stacks");
    keys_are(&root, "dump", "path chunks bytes");

    assert_int_equal(num(&root, "leaktag_scan"), 1);
    assert_string_equal(str(&root, "target.source"), "pid 4242");
    assert_int_equal(jget(&root, "target.core")->b, false);
    assert_int_equal(num(&root, "target.pid"), 4242);
    assert_int_equal(num(&root, "target.pointer_bits"), 64);
    assert_int_equal(num(&root, "target.stack_rlimit"), 8 << 20);
    assert_int_equal(jget(&root, "frozen")->b, false);
    assert_int_equal(jget(&root, "verdict")->type, 'n'); /* no --reach */
    assert_int_equal(jget(&root, "looks")->n, 2);
    assert_true(num(&root, "looks.1.at") == 10.0);
    /* classes of a look as [usable, chunks] */
    assert_int_equal(num(&root, "looks.0.classes.0.0"), FIXTURE_CLASS);
    assert_int_equal(num(&root, "looks.0.classes.0.1"), FIXTURE_CHUNKS_FIRST);
    assert_string_equal(str(&root, "looks.1.mappings.2.kind"), "heap");
    assert_int_equal(num(&root, "looks.1.mappings.2.size"), 32 << 20);
    assert_string_equal(str(&root, "looks.1.mappings.3.kind"), "guard");
    assert_string_equal(str(&root, "looks.1.mappings.4.kind"), "thread_stack");
    assert_int_equal(num(&root, "looks.1.mappings.4.tid"), 4243);
    assert_int_equal(jget(&root, "looks.1.mappings.4.path")->type, 'n');
    assert_string_equal(str(&root, "looks.1.mappings.7.kind"), "mmapped");
    assert_string_equal(str(&root, "looks.1.mappings.8.kind"), "main_stack");
    assert_string_equal(str(&root, "looks.1.mappings.0.kind"), "file");

    assert_int_equal(jget(&root, "heap.glibc")->b, true);
    assert_int_equal(num(&root, "heap.arenas.0.address"), 0x7ffff7f9cc80);
    assert_int_equal(num(&root, "heap.classes.0.usable"), FIXTURE_CLASS);
    assert_int_equal(num(&root, "heap.classes.0.chunks"), FIXTURE_CHUNKS);
    assert_int_equal(num(&root, "heap.classes.0.bytes"), FIXTURE_CLASS * FIXTURE_CHUNKS);
    assert_int_equal(num(&root, "heap.classes.0.cached"), 5);
    assert_int_equal(num(&root, "heap.classes.0.growth"), FIXTURE_CHUNKS - FIXTURE_CHUNKS_FIRST);
    assert_int_equal(num(&root, "heap.classes.1.mmapped"), 2);
    assert_int_equal(num(&root, "heap.invalid_chunks"), 2);
    assert_int_equal(jget(&root, "heap.changed_under_walk")->b, true);
    assert_int_equal(num(&root, "contents.0.growth"), FIXTURE_CHUNKS - FIXTURE_CHUNKS_FIRST);
    assert_string_equal(str(&root, "contents.0.grep"), "id=\\d+");
    assert_int_equal(num(&root, "contents.0.grep_total"), 603);
    assert_string_equal(str(&root, "contents.0.matches.0.text"), "id=4099");
    assert_int_equal(num(&root, "contents.0.matches.0.buffers"), 550);
    assert_int_equal(num(&root, "contents.0.strings_distinct"), 2);
    assert_string_equal(str(&root, "contents.0.shapes.0.text"), "channelid=#");
    assert_int_equal(strlen(str(&root, "contents.0.samples.0.hex")), 2 * 48);
    assert_int_equal(num(&root, "families.0.threads"), 2);
    assert_int_equal(num(&root, "stacks_reserved"), 0x1002000);
    assert_string_equal(str(&root, "dump.path"), "/tmp/chunks.bin");
    jfree(&root);
    scan_free(&f.s);
}

static void test_not_glibc_one_look(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, false);
    f.s.t->stack_rlimit = UINT64_MAX;
    f.opt.dump_path = NULL;
    struct jv root;
    render(&f, &root);
    keys_are(&root, "",
             "leaktag_scan target frozen stopped_seconds walk_seconds total_seconds "
             "looks heap verdict contents threads families stacks_reserved");
    keys_are(&root, "heap", "glibc why");
    assert_int_equal(jget(&root, "heap.glibc")->b, false);
    assert_non_null(strstr(str(&root, "heap.why"), "libjemalloc.so.2"));
    keys_are(&root, "contents.0", "region_start region_end windows " CONTENT_TAIL);
    assert_int_equal(num(&root, "contents.0.region_start"), 0x7ffff0000000);
    assert_int_equal(jget(&root, "looks.0.classes")->n, 0);
    assert_string_equal(str(&root, "target.stack_rlimit"), "unlimited");
    jfree(&root);

    f.s.t->stack_rlimit = 0; /* unknown, as in a core */
    f.s.t->is_core = true;
    render(&f, &root);
    assert_int_equal(jget(&root, "target.stack_rlimit")->type, 'n');
    assert_int_equal(jget(&root, "target.core")->b, true);
    jfree(&root);
    scan_free(&f.s);
}

/* Every string from the target decodes to the very bytes it held; the output is printable
 * ASCII, no '<' in it (the JSON may sit in an HTML page). */
static void test_target_text(void **state)
{
    (void)state;
    static const char *const from_target[][2] = {
        {"target.name", SCAN_FIXTURE_EVIL},
        {"threads.0.name", SCAN_FIXTURE_EVIL},
        {"threads.1.started_in", SCAN_FIXTURE_EVIL},
        {"families.0.started_in", SCAN_FIXTURE_EVIL},
        {"families.1.name", SCAN_FIXTURE_EVIL " (main)"},
        {"contents.0.strings.0.text", SCAN_FIXTURE_EVIL},
        {"contents.0.matches.1.text", SCAN_FIXTURE_EVIL},
    };
    for (int glibc = 0; glibc < 2; glibc++) {
        struct scan_fixture f;
        scan_fixture_build(&f, 2, glibc);
        struct jv root;
        const char *text = render(&f, &root);
        ascii_without_lt(text);
        assert_non_null(strstr(text, "\"\\u003ci>\\\"q\\\"\\n\\u001b[2J\\u00ff\\u00fe&'\""));
        for (size_t i = 0; i < sizeof(from_target) / sizeof(from_target[0]); i++) {
            const struct jv *v = jget(&root, from_target[i][0]);
            if (!v || v->type != 's')
                fail_msg("%s: not a string", from_target[i][0]);
            assert_int_equal(v->len, strlen(from_target[i][1]));
            assert_memory_equal(v->s, from_target[i][1], v->len);
        }
        char want[128];
        snprintf(want, sizeof(want), "/srv/app/%sserver", SCAN_FIXTURE_EVIL);
        assert_string_equal(str(&root, "target.executable"), want);
        assert_string_equal(str(&root, "looks.1.mappings.0.path"), want);
        if (!glibc) {
            snprintf(want, sizeof(want), "/usr/lib/%s/libjemalloc.so.2", SCAN_FIXTURE_EVIL);
            assert_non_null(strstr(str(&root, "heap.why"), want));
        }
        /* a sample's bytes as hex, whatever they are */
        assert_memory_equal(str(&root, "contents.0.samples.0.hex"), "3c693e2271220a1b5b324aff", 24);
        jfree(&root);
        scan_free(&f.s);
    }
}

/* ---- the verdict (--reach) ---------------------------------------------------------------- */

#define VERDICT_KEYS "taken why caveat chunks roots bytes_scanned seconds lost_only"
#define CATEGORIES "definitely_lost indirectly_lost possibly_lost reachable"

/* One category's {"chunks","bytes"} at path. */
static void count_is(const struct jv *root, const char *path, uint64_t chunks, uint64_t bytes)
{
    char key[200];
    keys_are(root, path, "chunks bytes");
    snprintf(key, sizeof(key), "%s.chunks", path);
    assert_int_equal(num(root, key), chunks);
    snprintf(key, sizeof(key), "%s.bytes", path);
    assert_int_equal(num(root, key), bytes);
}

/* heap.reachability in all and heap.classes[].reachability per class, in chunks and usable
 * bytes; the verdict object. */
static void test_verdict_numbers(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 2, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    struct jv root;
    render(&f, &root);
    keys_are(&root, "", TOP_KEYS);
    keys_are(&root, "heap", HEAP_KEYS " reachability");
    keys_are(&root, "heap.reachability", CATEGORIES);
    count_is(&root, "heap.reachability.definitely_lost", 600, 600 * FIXTURE_CLASS);
    count_is(&root, "heap.reachability.indirectly_lost", 100, 100 * FIXTURE_CLASS);
    count_is(&root, "heap.reachability.possibly_lost", 50, 50 * FIXTURE_CLASS);
    count_is(&root, "heap.reachability.reachable", 302, 250 * FIXTURE_CLASS + 2 * 139248 + 50 * 24);

    /* the census's order: FIXTURE_CLASS, 139,248, 24 */
    keys_are(&root, "heap.classes.0",
             "usable chunks bytes mmapped cached growth reachability retained_by");
    keys_are(&root, "heap.classes.0.reachability", CATEGORIES);
    count_is(&root, "heap.classes.0.reachability.definitely_lost", FIXTURE_DEFINITELY,
             FIXTURE_DEFINITELY * FIXTURE_CLASS);
    count_is(&root, "heap.classes.0.reachability.indirectly_lost", FIXTURE_INDIRECTLY,
             FIXTURE_INDIRECTLY * FIXTURE_CLASS);
    count_is(&root, "heap.classes.0.reachability.possibly_lost", FIXTURE_POSSIBLY,
             FIXTURE_POSSIBLY * FIXTURE_CLASS);
    count_is(&root, "heap.classes.0.reachability.reachable", FIXTURE_REACHABLE,
             FIXTURE_REACHABLE * FIXTURE_CLASS);
    assert_int_equal(num(&root, "heap.classes.1.usable"), 139248);
    count_is(&root, "heap.classes.1.reachability.definitely_lost", 0, 0);
    count_is(&root, "heap.classes.1.reachability.reachable", 2, 2 * 139248);
    assert_int_equal(num(&root, "heap.classes.2.usable"), 24);
    count_is(&root, "heap.classes.2.reachability.reachable", 50, 50 * 24);

    keys_are(&root, "verdict", VERDICT_KEYS);
    assert_int_equal(jget(&root, "verdict.taken")->b, true);
    assert_int_equal(jget(&root, "verdict.why")->type, 'n');
    assert_string_equal(str(&root, "verdict.caveat"),
                        "2 chunks failed the walk's checks and were skipped: what only they "
                        "point at is counted lost");
    assert_int_equal(num(&root, "verdict.chunks"), 1052);
    assert_int_equal(num(&root, "verdict.roots"), 37);
    assert_int_equal(num(&root, "verdict.bytes_scanned"), 2 << 20);
    assert_true(num(&root, "verdict.seconds") == 0.125);
    assert_int_equal(jget(&root, "verdict.lost_only")->b, false);
    jfree(&root);
    scan_free(&f.s);
}

/* Each class's chain, root first, as strings: the root's name, a symbol of the target's,
 * decodes to its very bytes, escaped in printable ASCII without '<'. */
static void test_verdict_retained_by(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    struct jv root;
    const char *text = render(&f, &root);
    ascii_without_lt(text);
    assert_non_null(strstr(text, "\"retained_by\":[\"global \\u003ci>\\\"q\\\"\\n\\u001b[2J"
                                 "\\u00ff\\u00fe&'+0x8 (server)\","));
    const struct jv *chain = jget(&root, "heap.classes.0.retained_by");
    assert_non_null(chain);
    assert_int_equal(chain->type, 'a');
    assert_int_equal(chain->n, 3);
    assert_int_equal(chain->items[0].type, 's');
    assert_int_equal(chain->items[0].len, strlen(FIXTURE_ROOT));
    assert_memory_equal(chain->items[0].s, FIXTURE_ROOT, chain->items[0].len);
    assert_string_equal(str(&root, "heap.classes.0.retained_by.1"),
                        "chunk 0x55555555a5e0 (usable 1496), at +0x10");
    assert_string_equal(str(&root, "heap.classes.0.retained_by.2"),
                        "chunk 0x55555555abc0 (usable 1496) of this class");
    assert_int_equal(jget(&root, "heap.classes.1.retained_by")->n, 2);
    assert_string_equal(str(&root, "heap.classes.2.retained_by.0"),
                        "a register of thread io-1 (tid 4243)");
    jfree(&root);
    scan_free(&f.s);
}

/* --lost: the verdict says the contents count lost chunks only. */
static void test_verdict_lost_only(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT_LOST);
    struct jv root;
    render(&f, &root);
    assert_int_equal(jget(&root, "verdict.lost_only")->b, true);
    assert_int_equal(num(&root, "contents.0.chunks"), FIXTURE_DEFINITELY + FIXTURE_INDIRECTLY);
    jfree(&root);
    scan_free(&f.s);
}

/* --reach and no verdict: taken false and why (naming the target's text when the heap is
 * not glibc's); no category anywhere. */
static void test_no_verdict(void **state)
{
    (void)state;
    for (int glibc = 0; glibc < 2; glibc++) {
        struct scan_fixture f;
        scan_fixture_build(&f, 1, glibc);
        scan_fixture_verdict(&f, SCAN_FIXTURE_NO_VERDICT);
        struct jv root;
        const char *text = render(&f, &root);
        ascii_without_lt(text);
        keys_are(&root, "verdict", VERDICT_KEYS);
        assert_int_equal(jget(&root, "verdict.taken")->b, false);
        assert_int_equal(jget(&root, "verdict.caveat")->type, 'n');
        assert_int_equal(jget(&root, "verdict.lost_only")->b, false);
        assert_int_equal(num(&root, "verdict.chunks"), 0);
        const struct jv *why = jget(&root, "verdict.why");
        assert_non_null(why);
        assert_int_equal(why->type, 's');
        assert_int_equal(why->len, strlen(f.s.reach.why));
        assert_memory_equal(why->s, f.s.reach.why, why->len);
        if (glibc) {
            assert_string_equal(why->s, "a running process's heap changes under the mark "
                                        "(--freeze stops it)");
            keys_are(&root, "heap", HEAP_KEYS);
            keys_are(&root, "heap.classes.0", "usable chunks bytes mmapped cached");
        } else {
            char want[200];
            snprintf(want, sizeof(want),
                     "the heap is not glibc's, whose chunks the verdict reads: not glibc's "
                     "heap: /usr/lib/%s/libjemalloc.so.2 is mapped",
                     SCAN_FIXTURE_EVIL);
            assert_memory_equal(why->s, want, strlen(want));
            keys_are(&root, "heap", "glibc why");
        }
        jfree(&root);
        scan_free(&f.s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glibc_two_looks),     cmocka_unit_test(test_not_glibc_one_look),
        cmocka_unit_test(test_target_text),         cmocka_unit_test(test_verdict_numbers),
        cmocka_unit_test(test_verdict_retained_by), cmocka_unit_test(test_verdict_lost_only),
        cmocka_unit_test(test_no_verdict),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(output);
    return failed;
}
