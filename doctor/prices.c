/* prices.c: a doctor's price table and its answer to one UDP request, as pure functions. */
#include "prices.h"
#include "datafile.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* htab callback: whether item holds the plan name key. */
static int
prices_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct prices *p = ctx;
    const struct prices_item *it = &p->items[item];

    return it->len == keylen && memcmp(it->name, key, keylen) == 0;
}

/* Make room for one more row. Returns 0 or -1 (no memory). */
static int
prices_grow(struct prices *p)
{
    struct prices_item *items;
    size_t cap;

    if (p->count < p->cap)
        return 0;
    cap = p->cap == 0 ? 16 : p->cap * 2;
    if ((items = realloc(p->items, cap * sizeof *items)) == NULL)
        return -1;
    p->items = items;
    p->cap = cap;
    return 0;
}

/* Check one row and add it to the table. Returns 0 or -1 with err set. */
static int
prices_add(struct prices *p, const struct datafile *df, char *err, size_t errlen)
{
    const char *name = df->field[0];
    size_t len = df->len[0];
    char esc[PRICES_PLANLEN];
    struct prices_item *it;
    uint64_t cost, hash;
    int64_t first;

    if (df->nfields != 2)
        return datafile_error(df, err, errlen, "expected 2 fields (insurance cost), found %d",
                              df->nfields);
    if (len > PRICES_NAMEMAX)
        return datafile_error(df, err, errlen, "insurance name is %zu bytes (at most %d)", len,
                              PRICES_NAMEMAX);
    if (util_parse_uint(df->field[1], df->len[1], 0, PRICES_COSTMAX, &cost) == -1)
        return datafile_error(
            df, err, errlen, "bad cost '%s' (expected a whole number from 0 to %d)",
            util_escape(esc, sizeof esc, df->field[1], df->len[1]), PRICES_COSTMAX);
    hash = htab_hash(name, len);
    if ((first = htab_find(&p->index, hash, prices_eq, p, name, len)) != -1)
        return datafile_error(df, err, errlen, "duplicate insurance '%s' (first on line %u)",
                              util_escape(esc, sizeof esc, name, len), p->items[first].line);
    if (p->count >= PRICES_ROWSMAX)
        return datafile_error(df, err, errlen, "too many rows (at most %d)", PRICES_ROWSMAX);
    if (prices_grow(p) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    it = &p->items[p->count];
    memcpy(it->name, name, len);
    it->name[len] = '\0';
    it->len = (uint32_t)len;
    it->cost = (uint32_t)cost;
    it->line = df->line;
    if (htab_insert(&p->index, hash, (uint32_t)p->count) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    p->count++;
    return 0;
}

/* Read every row of an open data file into an empty table. */
static int
prices_read(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    struct prices *p = ctx;
    int rc;

    if (htab_init(&p->index, 16) == -1) {
        snprintf(err, errlen, "%s: out of memory", df->name);
        return -1;
    }
    while ((rc = datafile_next(df, err, errlen)) == 1)
        if (prices_add(p, df, err, errlen) == -1)
            return -1;
    if (rc == -1)
        return -1;
    if (p->count == 0) {
        snprintf(err, errlen, "%s:1: no prices in file", df->name);
        return -1;
    }
    return 0;
}

/* Load a price file from disk. */
int
prices_load(struct prices *p, const char *path, char *err, size_t errlen)
{
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = datafile_load(path, NULL, 0, prices_read, p, err, errlen)) == -1)
        prices_free(p);
    return rc;
}

/* Load a price file held in memory. */
int
prices_load_mem(struct prices *p, const char *name, const void *data, size_t len, char *err,
                size_t errlen)
{
    int rc;

    memset(p, 0, sizeof *p);
    rc = datafile_load(name, data != NULL ? data : "", len, prices_read, p, err, errlen);
    if (rc == -1)
        prices_free(p);
    return rc;
}

/* Look up the cost of a plan in constant time. */
int64_t
prices_find(const struct prices *p, const char *name, size_t len)
{
    int64_t item;

    item = htab_find(&p->index, htab_hash(name, len), prices_eq, p, name, len);
    return item == -1 ? -1 : (int64_t)p->items[item].cost;
}

/* Compare two tables: each side is looked up in the other. */
void
prices_diff(const struct prices *old, const struct prices *new, struct prices_diff *d)
{
    size_t i;

    memset(d, 0, sizeof *d);
    for (i = 0; i < new->count; i++) {
        const struct prices_item *it = &new->items[i];
        int64_t cost = prices_find(old, it->name, it->len);

        if (cost == -1)
            d->added++;
        else if (cost != (int64_t)it->cost)
            d->changed++;
    }
    for (i = 0; i < old->count; i++)
        if (prices_find(new, old->items[i].name, old->items[i].len) == -1)
            d->removed++;
}

/* Format the reload line; "price" takes its plural from the count it follows. */
void
prices_diff_line(const struct prices_diff *d, char *buf, size_t len)
{
    snprintf(buf, len, "reload: %zu price%s added, %zu removed, %zu changed", d->added,
             d->added == 1 ? "" : "s", d->removed, d->changed);
}

/* Free the rows and the index. */
void
prices_free(struct prices *p)
{
    free(p->items);
    htab_free(&p->index);
    memset(p, 0, sizeof *p);
}

/* Escape a request for the screen; one over PRICES_NAMEMAX shows its start and "...". */
static void
prices_show(struct prices_answer *a, const char *req, size_t len, int cut)
{
    if (!cut && len <= PRICES_NAMEMAX) {
        util_escape(a->plan, sizeof a->plan, req, len);
        return;
    }
    util_escape(a->plan, sizeof a->plan - 3, req, len < PRICES_SHOWLONG ? len : PRICES_SHOWLONG);
    strcat(a->plan, "...");
}

/* Decide the reply to one request datagram (see prices.h). */
void
prices_answer(const struct prices *p, const char *req, size_t len, int truncated,
              struct prices_answer *a)
{
    static const char *const reasons[] = {
        [PRICES_EMPTY] = "empty",
        [PRICES_TOO_LONG] = "too-long",
        [PRICES_BAD_REQUEST] = "bad-request",
        [PRICES_UNKNOWN] = "unknown-insurance",
    };

    a->cost = -1;
    if (truncated) {
        prices_show(a, req, len, 1);
        a->status = PRICES_TOO_LONG;
    } else {
        if (len > 0 && req[len - 1] == '\n') {
            len--;
            if (len > 0 && req[len - 1] == '\r')
                len--;
        }
        while (len > 0 && req[len - 1] == ' ') /* padding (PROTO_PRICE_PAD) */
            len--;
        prices_show(a, req, len, 0);
        if (len == 0)
            a->status = PRICES_EMPTY;
        else if (len > PRICES_NAMEMAX || !util_token_ok(req, len))
            a->status = PRICES_BAD_REQUEST;
        else if ((a->cost = prices_find(p, req, len)) == -1)
            a->status = PRICES_UNKNOWN;
        else
            a->status = PRICES_PRICE;
    }
    if (a->status == PRICES_PRICE)
        snprintf(a->reply, sizeof a->reply, "%" PRId64, a->cost);
    else
        snprintf(a->reply, sizeof a->reply, "error %s", reasons[a->status]);
    a->len = strlen(a->reply);
}
