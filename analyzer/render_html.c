/* render_html.c — --format html: one self-contained page (no network: the stylesheet and
 * the script are compiled in, html_assets.h) that draws the report from data it carries: the
 * JSON report (render_json, its strings escaped so that nothing closes the <script>), and
 * every stack of the newest snapshot with its live bytes, blocks and lost bytes for the flame
 * graph. The page: the header, an icicle flame graph (click to zoom, a search that marks
 * frames, colour by module or by lost share), the groups' table (sortable, each row opening
 * to its stack, samples, strings and --grep counts), the thread inventory and, with --diff,
 * the live bytes of the top groups over the snapshots. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "html_assets.h"
#include "json.h"
#include "render.h"

/* "flame": {"scan": B, "frames": [{"n": name, "m": module, "f": file}],
 *           "stacks": [[bytes, blocks, lost, [frame, ...root first]]]} */
static int flame_json(FILE *out, const struct model *m)
{
    const struct analysis *a = model_newest(m);
    const struct lts_snapshot *s = a->snap;
    /* Frames are merged by name, as flame graphs do (flamegraph.pl's collapsed stacks too):
     * a function called from two places is one node under each caller. */
    struct hashmap index = HASHMAP_INIT;
    const struct frame **table = NULL;
    size_t nframes = 0, cap = 0;
    int rc = 0;
    fprintf(out, "{\"scan\": %s, \"stacks\": [", group_has_scan(s) ? "true" : "false");
    bool first = true;
    for (uint32_t st = 0; !rc && st < s->nstacks; st++) {
        uint64_t bytes = (uint64_t)llround(a->stack_bytes[st]);
        if (!bytes)
            continue;
        const struct stack_frames *sf = frames_of(a->frames, st);
        fprintf(out, "%s\n[%" PRIu64 ", %.0f, %" PRIu64 ", [", first ? "" : ",", bytes,
                a->stack_blocks[st], a->stack_lost[st]);
        first = false;
        for (uint32_t i = sf->n; i-- > 0;) { /* root first */
            const struct frame *f = &sf->frames[i];
            bool inserted;
            struct hashmap_slot *slot = hashmap_bytes(&index, f->name, strlen(f->name), &inserted);
            if (!slot) {
                rc = -1;
                break;
            }
            if (inserted) {
                if (nframes == cap) {
                    cap = cap ? 2 * cap : 1024;
                    const struct frame **grown = realloc(table, cap * sizeof(*grown));
                    if (!grown) {
                        rc = -1;
                        break;
                    }
                    table = grown;
                }
                slot->value = nframes;
                table[nframes++] = f;
            }
            fprintf(out, "%s%" PRIu64, i + 1 == sf->n ? "" : ",", slot->value);
        }
        fputs("]]", out);
    }
    fputs("],\n\"frames\": [", out);
    for (size_t i = 0; !rc && i < nframes; i++) {
        const struct frame *f = table[i];
        fputs(i ? ",\n{\"n\": " : "\n{\"n\": ", out);
        json_cstr(out, f->name);
        fputs(", \"m\": ", out);
        json_cstr(out, f->sym ? f->sym->module : NULL);
        fputs(", \"f\": ", out);
        json_cstr(out, f->sym ? f->sym->file : NULL);
        fputc('}', out);
    }
    fputs("]}", out);
    hashmap_free(&index);
    free(table);
    return rc;
}

int render_html(FILE *out, const struct model *m, struct lts_error *err)
{
    const struct analysis *a = model_newest(m);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>leaktag: ",
          out);
    for (const char *p = a->snap->exe; *p; p++) /* the title is text: no markup from it */
        fputs(*p == '<' ? "&lt;" : *p == '&' ? "&amp;" : (char[]){*p, 0}, out);
    fprintf(out, " (pid %" PRIu64 ")</title>\n<style>\n%s</style>\n</head><body>\n", a->snap->pid,
            lt_html_css);
    fputs("<header id=\"header\"></header>\n"
          "<section><h2>Live bytes by stack</h2>\n<div class=\"controls\">"
          "<input type=\"search\" id=\"search\" placeholder=\"search frames (regex)\">"
          "<select id=\"colour\"><option value=\"module\">colour by module</option>"
          "<option value=\"lost\">colour by lost share</option></select>"
          "<button id=\"reset\">reset zoom</button><span class=\"status\" id=\"flame-status\">"
          "</span></div>\n<div id=\"flame\"></div></section>\n"
          "<section id=\"growth\"><h2>Live bytes over the snapshots</h2></section>\n"
          "<section><h2>Groups</h2><table id=\"groups\"></table></section>\n"
          "<section><h2>Threads</h2><div id=\"threads\"></div></section>\n"
          "<div id=\"tooltip\"></div>\n"
          "<script type=\"application/json\" id=\"leaktag-data\">{\"report\": ",
          out);
    render_json(out, m);
    fputs(",\n\"flame\": ", out);
    if (flame_json(out, m) != 0)
        return lts_fail(err, "out of memory writing the flame graph");
    fprintf(out, "}</script>\n<script>\n%s</script>\n</body></html>\n", lt_html_js);
    return 0;
}
