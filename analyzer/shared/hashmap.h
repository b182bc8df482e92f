/* hashmap.h — the analyzer's one hash map: open addressing with linear probing, keys that are
 * byte strings or 64-bit numbers, a 64-bit value per key (an index, a count or a pointer).
 * A map holds one kind of key. Byte-string keys are not copied: the caller keeps them alive
 * as long as the map. Slots move when the map grows: a slot pointer is good until the next
 * insertion. */
#ifndef HASHMAP_H
#define HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap_slot {
    uint64_t hash; /* 0: empty */
    union {
        const void *key; /* byte-string keys, of len bytes */
        uint64_t number; /* number keys */
    };
    size_t len;
    uint64_t value;
};

struct hashmap {
    struct hashmap_slot *slots;
    size_t count, mask;
};

#define HASHMAP_INIT \
    {                \
        0            \
    }

/* The slot of a key, inserted with value 0 if absent (*inserted says which; may be NULL).
 * After an insertion the caller may point slot->key at an equal copy of the bytes it keeps.
 * NULL when memory ran out (the map is unchanged). */
struct hashmap_slot *hashmap_bytes(struct hashmap *m, const void *key, size_t len, bool *inserted);
struct hashmap_slot *hashmap_number(struct hashmap *m, uint64_t key, bool *inserted);

/* The slot of a key, or NULL if it is absent. */
struct hashmap_slot *hashmap_find_bytes(const struct hashmap *m, const void *key, size_t len);
struct hashmap_slot *hashmap_find_number(const struct hashmap *m, uint64_t key);

/* Visits every slot in use (in no particular order). */
#define hashmap_each(m, slot)                                                                  \
    for (struct hashmap_slot *slot = (m)->slots; (m)->slots && slot <= (m)->slots + (m)->mask; \
         slot++)                                                                               \
        if (slot->hash)

void hashmap_free(struct hashmap *m);

#endif
