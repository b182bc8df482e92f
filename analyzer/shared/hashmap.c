/* hashmap.c — open addressing, linear probing, load at most 1/2, grown by doubling. The hash
 * of a slot is stored (never 0), so growing never rehashes a key and a probe compares keys
 * only when the hashes agree. */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

/* A word at a time (strings of a census run to hundreds of bytes), each word multiplied in
 * and folded, then the whole mixed once more. */
static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 32;
    return h | 1;
}

static uint64_t hash_number(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x | 1;
}

static bool grow(struct hashmap *m)
{
    size_t size = m->slots ? (m->mask + 1) * 2 : 64;
    struct hashmap_slot *fresh = calloc(size, sizeof(*fresh));
    if (!fresh)
        return false;
    for (size_t i = 0; m->slots && i <= m->mask; i++) {
        if (!m->slots[i].hash)
            continue;
        size_t j = m->slots[i].hash & (size - 1);
        while (fresh[j].hash)
            j = (j + 1) & (size - 1);
        fresh[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = fresh;
    m->mask = size - 1;
    return true;
}

static bool same(const struct hashmap_slot *s, uint64_t hash, const void *key, size_t len,
                 uint64_t number)
{
    if (s->hash != hash)
        return false;
    return key ? s->len == len && !memcmp(s->key, key, len) : s->number == number;
}

static struct hashmap_slot *find(const struct hashmap *m, uint64_t hash, const void *key,
                                 size_t len, uint64_t number)
{
    if (!m->slots)
        return NULL;
    for (size_t i = hash & m->mask; m->slots[i].hash; i = (i + 1) & m->mask)
        if (same(&m->slots[i], hash, key, len, number))
            return &m->slots[i];
    return NULL;
}

static struct hashmap_slot *slot(struct hashmap *m, uint64_t hash, const void *key, size_t len,
                                 uint64_t number, bool *inserted)
{
    struct hashmap_slot *s = find(m, hash, key, len, number);
    if (inserted)
        *inserted = !s;
    if (s)
        return s;
    if ((m->count + 1) * 2 > (m->slots ? m->mask + 1 : 0) && !grow(m))
        return NULL;
    size_t i = hash & m->mask;
    while (m->slots[i].hash)
        i = (i + 1) & m->mask;
    m->slots[i] = (struct hashmap_slot){.hash = hash, .len = len};
    if (key)
        m->slots[i].key = key;
    else
        m->slots[i].number = number;
    m->count++;
    return &m->slots[i];
}

struct hashmap_slot *hashmap_bytes(struct hashmap *m, const void *key, size_t len, bool *inserted)
{
    /* An empty key still needs a non-NULL pointer to be told from a number key. */
    return slot(m, hash_bytes(key, len), key ? key : "", len, 0, inserted);
}

struct hashmap_slot *hashmap_number(struct hashmap *m, uint64_t key, bool *inserted)
{
    return slot(m, hash_number(key), NULL, 0, key, inserted);
}

struct hashmap_slot *hashmap_find_bytes(const struct hashmap *m, const void *key, size_t len)
{
    return find(m, hash_bytes(key, len), key ? key : "", len, 0);
}

struct hashmap_slot *hashmap_find_number(const struct hashmap *m, uint64_t key)
{
    return find(m, hash_number(key), NULL, 0, key);
}

void hashmap_free(struct hashmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->count = m->mask = 0;
}
