/* store_memory.c: bookings kept in memory only (store = memory): lost when hcs stops. */
#include "htab.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One booking: the slot and its user (a copy). */
struct store_memory_row {
    uint32_t index;
    char *user; /* NULL: a free row, reused by the next booking */
};

/* The rows, indexed by slot. */
struct store_memory {
    struct store base;
    struct store_memory_row *rows;
    size_t n, cap;
    struct htab idx;
};

/* Hash a slot index. */
static uint64_t
store_memory_hash(uint32_t index)
{
    return htab_hash(&index, sizeof index);
}

/* Compare a slot index with row number item (for htab_find). */
static int
store_memory_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct store_memory *s = ctx;

    (void)keylen;
    return s->rows[item].index == *(const uint32_t *)key;
}

/* The row of a slot (booked, or booked once and freed), or -1. */
static int64_t
store_memory_find(const struct store_memory *s, uint32_t index)
{
    return htab_find(&s->idx, store_memory_hash(index), store_memory_eq, s, &index, sizeof index);
}

/* Close the store and free every row. */
static void
store_memory_close(struct store *base)
{
    struct store_memory *s = (struct store_memory *)base;
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->rows[i].user);
    free(s->rows);
    htab_free(&s->idx);
    free(s);
}

/* A new, empty store. */
static struct store *
store_memory_open(const struct store_params *params, char *err, size_t errlen)
{
    struct store_memory *s = calloc(1, sizeof *s);

    (void)params;
    if (s == NULL || htab_init(&s->idx, 64) == -1) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &store_memory_ops;
    return &s->base;
}

/* Call fn for every booking, in the order the slots were first booked. */
static int
store_memory_load(struct store *base, int (*fn)(void *, const char *, uint32_t), void *arg,
                  char *err, size_t errlen)
{
    struct store_memory *s = (struct store_memory *)base;
    size_t i;

    (void)err;
    (void)errlen;
    for (i = 0; i < s->n; i++)
        if (s->rows[i].user != NULL && fn(arg, s->rows[i].user, s->rows[i].index) == -1)
            return -1;
    return 0;
}

/* Book a slot unless it is booked: 0, 1 refused, -1 out of memory. */
static int
store_memory_put(struct store_memory *s, const char *user, uint32_t index)
{
    int64_t i = store_memory_find(s, index);
    char *copy;

    if (i != -1 && s->rows[i].user != NULL)
        return 1;
    if ((copy = strdup(user)) == NULL)
        return -1;
    if (i != -1) {
        s->rows[i].user = copy;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct store_memory_row *rows = realloc(s->rows, cap * sizeof *rows);
        if (rows == NULL) {
            free(copy);
            return -1;
        }
        s->rows = rows;
        s->cap = cap;
    }
    if (htab_insert(&s->idx, store_memory_hash(index), (uint32_t)s->n) == -1) {
        free(copy);
        return -1;
    }
    s->rows[s->n].index = index;
    s->rows[s->n].user = copy;
    s->n++;
    return 0;
}

/* Remove the booking of a slot, if any. */
static void
store_memory_del(struct store_memory *s, uint32_t index)
{
    int64_t i = store_memory_find(s, index);

    if (i == -1)
        return;
    /* The row stays in the index, free, for the next booking of the slot. */
    free(s->rows[i].user);
    s->rows[i].user = NULL;
}

/* Apply a batch at once; it cannot fail but for memory. */
static enum store_status
store_memory_write(struct store *base, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    struct store_memory *s = (struct store_memory *)base;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        ops[i].refused = 0;
        if (!ops[i].put) {
            store_memory_del(s, ops[i].index);
            continue;
        }
        if ((rc = store_memory_put(s, ops[i].user, ops[i].index)) == -1) {
            snprintf(err, errlen, "out of memory storing a booking");
            return STORE_FATAL;
        }
        ops[i].refused = rc;
    }
    return STORE_OK;
}

const struct store_ops store_memory_ops = {
    .name = "memory",
    .open = store_memory_open,
    .load = store_memory_load,
    .write = store_memory_write,
    .close = store_memory_close,
    .blocking = 0,
};
