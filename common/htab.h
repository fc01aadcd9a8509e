/* htab.h: an open-addressing hash index from keys to item numbers. */
#ifndef HCS_HTAB_H
#define HCS_HTAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * The table stores only item numbers and hashes; the items live in the
 * caller's array, and the caller's eq() compares a key with item n.
 * There is no removal: tables are built once at load time.
 */
struct htab {
    uint64_t *cells; /* (hash high 32 bits << 32) | (item + 1); 0 = empty */
    size_t mask;
    size_t count;
};

typedef int (*htab_eq_fn)(const void *ctx, uint32_t item, const void *key, size_t keylen);

int htab_init(struct htab *h, size_t expected);
void htab_free(struct htab *h);
uint64_t htab_hash(const void *key, size_t len);
/* Insert item under hash; grows as needed. Returns 0 or -1 (no memory). */
int htab_insert(struct htab *h, uint64_t hash, uint32_t item);
/* Find the item whose key equals key, or return -1. */
int64_t htab_find(const struct htab *h, uint64_t hash, htab_eq_fn eq, const void *ctx,
                  const void *key, size_t keylen);

#endif
