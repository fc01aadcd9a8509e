/* store_memory.c: bookings kept in memory only (store = memory): lost when hcs stops. */
#include "htab.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One booking, or a free row kept for the next booking of its slot. */
struct store_memory_row {
    uint32_t index;
    int used; /* 0: free */
    char user[STORE_USERLEN];
    char day[PROTO_DAYLEN];
    char time[PROTO_DAYLEN];
    char doctor[PROTO_NAMELEN];
    unsigned port;
};

/* The rows, indexed by slot and by user. */
struct store_memory {
    struct store base;
    struct store_memory_row *rows;
    size_t n, cap;
    struct htab slots; /* slot -> row (free rows stay) */
    struct htab users; /* user -> row; a row whose user changed no longer matches */
};

/* Hash a slot index. */
static uint64_t
store_memory_hash(uint32_t index)
{
    return htab_hash(&index, sizeof index);
}

/* Compare a slot index with row number item. */
static int
store_memory_slot_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct store_memory *s = ctx;

    (void)keylen;
    return s->rows[item].index == *(const uint32_t *)key;
}

/* Compare a user name with the holder of row number item. */
static int
store_memory_user_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct store_memory_row *r = &((const struct store_memory *)ctx)->rows[item];

    return r->used && strlen(r->user) == keylen && memcmp(r->user, key, keylen) == 0;
}

/* The row of a slot (booked, or booked once and freed), or -1. */
static int64_t
store_memory_find(const struct store_memory *s, uint32_t index)
{
    return htab_find(&s->slots, store_memory_hash(index), store_memory_slot_eq, s, &index,
                     sizeof index);
}

/* The row a user holds, or -1. */
static int64_t
store_memory_find_user(const struct store_memory *s, const char *user)
{
    size_t len = strlen(user);

    return htab_find(&s->users, htab_hash(user, len), store_memory_user_eq, s, user, len);
}

/* Close the store and free every row. */
static void
store_memory_close(struct store *base)
{
    struct store_memory *s = (struct store_memory *)base;

    free(s->rows);
    htab_free(&s->slots);
    htab_free(&s->users);
    free(s);
}

/* A new, empty store. */
static struct store *
store_memory_open(const struct store_params *params, char *err, size_t errlen)
{
    struct store_memory *s = calloc(1, sizeof *s);

    (void)params;
    if (s == NULL || htab_init(&s->slots, 64) == -1 || htab_init(&s->users, 64) == -1) {
        if (s != NULL) {
            htab_free(&s->slots);
            free(s);
        }
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &store_memory_ops;
    return &s->base;
}

/* Call fn for every booking, in the order the slots were first booked. */
static int
store_memory_load(struct store *base, int (*fn)(void *, const struct store_booking *), void *arg,
                  char *err, size_t errlen)
{
    struct store_memory *s = (struct store_memory *)base;
    size_t i;

    (void)err;
    (void)errlen;
    for (i = 0; i < s->n; i++) {
        const struct store_memory_row *r = &s->rows[i];
        struct store_booking b = {r->index, r->user, r->day, r->time, r->doctor, r->port};

        if (r->used && fn(arg, &b) == -1)
            return -1;
    }
    return 0;
}

/* Book a slot unless it or its user holds a booking: 0, 1 refused, -1 out of memory. */
static int
store_memory_put(struct store_memory *s, const struct store_op *op)
{
    int64_t i = store_memory_find(s, op->index);
    struct store_memory_row *r;
    size_t ulen = strlen(op->user);

    if ((i != -1 && s->rows[i].used) || store_memory_find_user(s, op->user) != -1)
        return 1;
    if (i == -1) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            struct store_memory_row *rows = realloc(s->rows, cap * sizeof *rows);
            if (rows == NULL)
                return -1;
            s->rows = rows;
            s->cap = cap;
        }
        if (htab_insert(&s->slots, store_memory_hash(op->index), (uint32_t)s->n) == -1)
            return -1;
        i = (int64_t)s->n++;
    }
    r = &s->rows[i];
    r->index = op->index;
    r->used = 1;
    memcpy(r->user, op->user, sizeof r->user);
    memcpy(r->day, op->day, sizeof r->day);
    memcpy(r->time, op->time, sizeof r->time);
    memcpy(r->doctor, op->doctor, sizeof r->doctor);
    r->port = op->port;
    /* A row keeps its entries for earlier holders; they no longer match. */
    if (store_memory_find_user(s, op->user) == -1 &&
        htab_insert(&s->users, htab_hash(op->user, ulen), (uint32_t)i) == -1) {
        r->used = 0;
        return -1;
    }
    return 0;
}

/* Remove the booking of a slot, if any; the row stays for the slot's next booking. */
static void
store_memory_del(struct store_memory *s, uint32_t index)
{
    int64_t i = store_memory_find(s, index);

    if (i != -1)
        s->rows[i].used = 0;
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
        if ((rc = store_memory_put(s, &ops[i])) == -1) {
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
