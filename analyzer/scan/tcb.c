/* tcb.c — see tcb.h. glibc's struct pthread changes from version to version, so nothing here
 * takes an offset on trust: the tid's offset is the one where every known thread's pd holds
 * its own tid, the start routine's the one where most threads hold a code address. */
#include "tcb.h"

#include <stdlib.h>
#include <string.h>

#define TCB_SEARCH 16384u   /* the top of a stack searched for the struct pthread */
#define PTHREAD_BYTES 4096u /* struct pthread is 2304 bytes in glibc 2.36 on x86-64 */

static uint64_t word_in(const uint8_t *p, unsigned word)
{
    if (word == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A pthread's stack: a writable anonymous mapping with its guard just below. */
static bool may_be_stack(const struct target *t, size_t i)
{
    const struct target_map *m = &t->maps[i];
    if (m->kind == TARGET_MAP_THREAD_STACK)
        return true;
    return m->kind == TARGET_MAP_ANON && m->perms[1] == 'w' && i > 0 &&
           t->maps[i - 1].end == m->start && t->maps[i - 1].kind == TARGET_MAP_GUARD;
}

static uint64_t find_pd(struct target *t, const struct target_map *m, uint8_t *buf)
{
    uint64_t len = m->end - m->start < TCB_SEARCH ? m->end - m->start : TCB_SEARCH;
    uint64_t base = m->end - len;
    size_t got = target_read(t, base, buf, (size_t)len);
    unsigned word = t->pointer_bytes;
    for (size_t at = got >= 3 * word ? (got - 3 * word) & ~(size_t)15 : 0; at + 3 * word <= got;
         at -= 16) {
        uint64_t x = base + at;
        if (word_in(buf + at, word) == x && word_in(buf + at + 2 * word, word) == x)
            return x;
        if (at < 16)
            break;
    }
    return 0;
}

static bool is_code(struct target *t, uint64_t addr)
{
    const struct target_map *m = target_map_at(t, addr);
    return m && m->perms[2] == 'x' && m->path && m->path[0] == '/';
}

void tcb_read(struct target *t)
{
    unsigned word = t->pointer_bytes;
    uint8_t *buf = malloc(TCB_SEARCH);
    uint64_t *pd = calloc(t->nmaps + 1, sizeof(*pd));        /* per mapping */
    uint8_t *bytes = calloc(t->nthreads + 1, PTHREAD_BYTES); /* per thread */
    size_t *have = calloc(t->nthreads + 1, sizeof(*have));   /* bytes read */
    if (!buf || !pd || !bytes || !have)
        goto out;
    for (size_t i = 0; i < t->nmaps; i++)
        if (may_be_stack(t, i))
            pd[i] = find_pd(t, &t->maps[i], buf);

    /* threads whose stack is known; the tid's offset from them */
    size_t known = 0;
    for (size_t i = 0; i < t->nthreads; i++) {
        struct target_thread *th = &t->threads[i];
        if (th->map != SIZE_MAX && pd[th->map]) {
            th->tcb = pd[th->map];
            have[i] = target_read(t, th->tcb, bytes + i * PTHREAD_BYTES, PTHREAD_BYTES);
            known++;
        }
    }
    size_t tid_at = SIZE_MAX;
    for (size_t o = 0; known && o + 4 <= PTHREAD_BYTES && tid_at == SIZE_MAX; o += 4) {
        size_t agree = 0;
        for (size_t i = 0; i < t->nthreads; i++) {
            int32_t v;
            if (!t->threads[i].tcb || o + 4 > have[i])
                continue;
            memcpy(&v, bytes + i * PTHREAD_BYTES + o, 4);
            agree += v == t->threads[i].tid;
        }
        if (agree == known && known > 0)
            tid_at = o;
    }
    /* a struct pthread no known thread claims names its thread by its tid */
    for (size_t m = 0; tid_at != SIZE_MAX && m < t->nmaps; m++) {
        if (!pd[m] || t->maps[m].tid)
            continue;
        int32_t tid;
        if (target_read(t, pd[m] + tid_at, &tid, 4) != 4)
            continue;
        for (size_t i = 0; i < t->nthreads; i++) {
            struct target_thread *th = &t->threads[i];
            if (th->tid != tid || th->map != SIZE_MAX)
                continue;
            th->map = m;
            th->tcb = pd[m];
            t->maps[m].kind = TARGET_MAP_THREAD_STACK;
            t->maps[m].tid = tid;
            th->stack_reserved = target_stack_reserved(t, &t->maps[m]);
            have[i] = target_read(t, th->tcb, bytes + i * PTHREAD_BYTES, PTHREAD_BYTES);
        }
    }
    /* the start routine: the offset where most threads hold a code address */
    size_t best_at = 0, best = 0, threads = 0;
    for (size_t i = 0; i < t->nthreads; i++)
        threads += t->threads[i].tcb != 0;
    for (size_t o = 64 * word; o + word <= PTHREAD_BYTES; o += word) {
        size_t n = 0;
        for (size_t i = 0; i < t->nthreads; i++)
            if (t->threads[i].tcb && o + word <= have[i] &&
                is_code(t, word_in(bytes + i * PTHREAD_BYTES + o, word)))
                n++;
        if (n > best)
            best = n, best_at = o;
    }
    if (best * 2 > threads)
        for (size_t i = 0; i < t->nthreads; i++) {
            struct target_thread *th = &t->threads[i];
            uint64_t v = th->tcb && best_at + word <= have[i]
                             ? word_in(bytes + i * PTHREAD_BYTES + best_at, word)
                             : 0;
            th->start_routine = v && is_code(t, v) ? v : 0;
        }
out:
    free(buf);
    free(pd);
    free(bytes);
    free(have);
}
