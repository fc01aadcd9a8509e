/* htab.c: an open-addressing hash index from keys to item numbers. */
#include "htab.h"

#include <stdlib.h>

/* Allocate a table for about expected items (load factor at most 1/2). */
int
htab_init(struct htab *h, size_t expected)
{
    size_t cap = 16;

    /* Past this, expected * 2 overflows or cap wraps to 0 and never stops. */
    if (expected > SIZE_MAX / 4) {
        h->cells = NULL;
        h->mask = h->count = 0;
        return -1;
    }
    while (cap < expected * 2)
        cap *= 2;
    h->cells = calloc(cap, sizeof *h->cells);
    h->mask = cap - 1;
    h->count = 0;
    return h->cells == NULL ? -1 : 0;
}

/* Free the table's memory. */
void
htab_free(struct htab *h)
{
    free(h->cells);
    h->cells = NULL;
    h->mask = h->count = 0;
}

/* FNV-1a, 64 bits, followed by a final mix so low bits are usable. */
uint64_t
htab_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t x = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= p[i];
        x *= 0x100000001b3ULL;
    }
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Put a cell into the first empty place of its probe sequence. */
static void
htab_place(uint64_t *cells, size_t mask, uint64_t cell, uint64_t hash)
{
    size_t i = (size_t)hash & mask;

    while (cells[i] != 0)
        i = (i + 1) & mask;
    cells[i] = cell;
}

/* Double the table, keeping every item. */
static int
htab_grow(struct htab *h)
{
    size_t i, cap = (h->mask + 1) * 2;
    uint64_t *cells = calloc(cap, sizeof *cells);

    if (cells == NULL)
        return -1;
    for (i = 0; i <= h->mask; i++) {
        uint64_t c = h->cells[i];
        /* The low bits of the hash are not stored: the high 32 bits are,
         * and the probe start uses them too (see htab_start). */
        if (c != 0)
            htab_place(cells, cap - 1, c, c >> 32);
    }
    free(h->cells);
    h->cells = cells;
    h->mask = cap - 1;
    return 0;
}

/* Insert an item number under a hash. */
int
htab_insert(struct htab *h, uint64_t hash, uint32_t item)
{
    uint64_t hi = hash >> 32;

    if ((h->count + 1) * 2 > h->mask + 1 && htab_grow(h) == -1)
        return -1;
    htab_place(h->cells, h->mask, (hi << 32) | ((uint64_t)item + 1), hi);
    h->count++;
    return 0;
}

/* Look up a key: compare stored hashes first, then ask eq(). */
int64_t
htab_find(const struct htab *h, uint64_t hash, htab_eq_fn eq, const void *ctx, const void *key,
          size_t keylen)
{
    uint64_t hi = hash >> 32;
    size_t i = (size_t)hi & h->mask;

    if (h->cells == NULL)
        return -1;
    for (;; i = (i + 1) & h->mask) {
        uint64_t c = h->cells[i];
        uint32_t item;

        if (c == 0)
            return -1;
        if ((c >> 32) != hi)
            continue;
        item = (uint32_t)(c & 0xffffffffu) - 1;
        if (eq(ctx, item, key, keylen))
            return item;
    }
}
