/* users.c: the registered patients, loaded once from users.txt. */
#include "users.h"
#include "authpool.h"
#include "datafile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Compare a name with user number item (for htab_find). */
static int
users_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct user *user = &((const struct users *)ctx)->v[item];

    return user->namelen == keylen && memcmp(user->name, key, keylen) == 0;
}

/* A block of the string arena; strings never move once stored. */
struct users_chunk {
    struct users_chunk *next;
    char data[];
};

#define USERS_CHUNK 65536

/* Copy a string of len bytes into the arena; NULL if out of memory. */
static char *
users_strdup(struct users *u, const char *s, size_t len)
{
    char *p;

    if (u->chunks == NULL || u->chunkfree < len + 1) {
        struct users_chunk *c = malloc(sizeof *c + USERS_CHUNK);
        if (c == NULL)
            return NULL;
        c->next = u->chunks;
        u->chunks = c;
        u->chunkfree = USERS_CHUNK;
    }
    p = u->chunks->data + (USERS_CHUNK - u->chunkfree);
    memcpy(p, s, len);
    p[len] = '\0';
    u->chunkfree -= len + 1;
    return p;
}

/* Grow the table for one more user. */
static int
users_grow(struct users *u)
{
    size_t cap = u->cap ? u->cap * 2 : 64;
    struct user *v;

    if (u->n < u->cap)
        return 0;
    if ((v = realloc(u->v, cap * sizeof *v)) == NULL)
        return -1;
    u->v = v;
    u->cap = cap;
    return 0;
}

/* Find a user, or add the name as removed. */
struct user *
users_keep(struct users *u, const char *name, size_t len)
{
    struct user *user = users_find(u, name, len);
    uint64_t h = htab_hash(name, len);

    if (user != NULL)
        return user;
    if (len > USERS_MAXNAME || u->n + 1 == USERS_NONE || users_grow(u) == -1)
        return NULL;
    user = &u->v[u->n];
    memset(user, 0, sizeof *user);
    if ((user->name = users_strdup(u, name, len)) == NULL ||
        (user->password = users_strdup(u, "", 0)) == NULL ||
        htab_insert(&u->idx, h, (uint32_t)u->n) == -1)
        return NULL;
    user->namelen = (uint32_t)len;
    user->removed = 1;
    u->n++;
    return user;
}

/* Add the current row of df as a user. */
static int
users_add(struct users *u, struct datafile *df, char *err, size_t errlen)
{
    struct user *user;
    uint64_t h;
    int64_t prev;
    int hashed;

    if (df->nfields != 2)
        return datafile_error(df, err, errlen, "expected 2 fields (username password), found %d",
                              df->nfields);
    hashed = authpool_is_hash(df->field[1]);
    if (df->len[0] > USERS_MAXNAME || (!hashed && df->len[1] > USERS_MAXNAME))
        return datafile_error(df, err, errlen, "username or password longer than %d bytes",
                              USERS_MAXNAME);
    h = htab_hash(df->field[0], df->len[0]);
    if ((prev = htab_find(&u->idx, h, users_eq, u, df->field[0], df->len[0])) != -1)
        return datafile_error(df, err, errlen, "duplicate username (first on line %u)",
                              u->v[prev].line);
    if (users_grow(u) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    user = &u->v[u->n];
    memset(user, 0, sizeof *user);
    user->name = users_strdup(u, df->field[0], df->len[0]);
    user->password = users_strdup(u, df->field[1], df->len[1]);
    if (user->name == NULL || user->password == NULL ||
        htab_insert(&u->idx, h, (uint32_t)u->n) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    user->namelen = (uint32_t)df->len[0];
    user->passlen = (uint32_t)df->len[1];
    user->booked = 0;
    user->line = df->line;
    user->hashed = hashed;
    u->nhashed += (size_t)hashed;
    if (++u->n == USERS_NONE)
        return datafile_error(df, err, errlen, "too many users");
    return 0;
}

/* Read every row of an open data file into the table. */
static int
users_read(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    struct users *u = ctx;
    int rc;

    if (htab_init(&u->idx, 64) == -1) {
        snprintf(err, errlen, "%s: out of memory", df->name);
        return -1;
    }
    while ((rc = datafile_next(df, err, errlen)) == 1)
        if (users_add(u, df, err, errlen) == -1)
            return -1;
    if (rc == -1)
        return -1;
    if (u->n == 0) {
        snprintf(err, errlen, "%s:1: no users in file", df->name);
        return -1;
    }
    return 0;
}

/* Load users.txt; on error the table is left empty. */
int
users_load(struct users *u, const char *path, char *err, size_t errlen)
{
    int rc;

    memset(u, 0, sizeof *u);
    if ((rc = datafile_load(path, NULL, 0, users_read, u, err, errlen)) == -1)
        users_free(u);
    return rc;
}

/* Load users from memory (tests and fuzzers). */
int
users_load_mem(struct users *u, const char *name, const void *data, size_t len, char *err,
               size_t errlen)
{
    int rc;

    memset(u, 0, sizeof *u);
    rc = datafile_load(name, data != NULL ? data : "", len, users_read, u, err, errlen);
    if (rc == -1)
        users_free(u);
    return rc;
}

/* Free the table. */
void
users_free(struct users *u)
{
    struct users_chunk *c, *next;

    for (c = u->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(u->v);
    htab_free(&u->idx);
    memset(u, 0, sizeof *u);
}

/* Find a user by name. */
struct user *
users_find(const struct users *u, const char *name, size_t len)
{
    int64_t i = htab_find(&u->idx, htab_hash(name, len), users_eq, u, name, len);

    return i == -1 ? NULL : &u->v[i];
}

/* Check a login in time independent of whether the name exists. */
int
users_check(const struct users *u, const char *name, size_t namelen, const char *password,
            size_t passlen, struct user **out)
{
    static const char dummy[USERS_MAXNAME + 1] = "not-a-password";
    struct user *user = users_find(u, name, namelen);
    int ok;

    /* An unknown name is compared against a dummy of the same work. */
    if (user != NULL && !user->hashed && !user->removed) {
        ok = util_secret_equal(user->password, user->passlen, password, passlen);
    } else {
        (void)util_secret_equal(dummy, strlen(dummy), password, passlen);
        ok = 0;
    }
    *out = ok ? user : NULL;
    return ok;
}

/* The hash of the costliest setting in the table (see users.h). */
const char *
users_dummy_hash(const struct users *u)
{
    const char *seen[USERS_DUMMY_SETTINGS], *best = NULL;
    long long cost, bestcost = -1;
    size_t i, k, n = 0, len;

    for (i = 0; i < u->n && n < USERS_DUMMY_SETTINGS; i++) {
        if (!u->v[i].hashed)
            continue;
        len = authpool_setting_len(u->v[i].password);
        for (k = 0; k < n; k++)
            if (authpool_setting_len(seen[k]) == len &&
                strncmp(seen[k], u->v[i].password, len) == 0)
                break;
        if (k < n)
            continue;
        seen[n++] = u->v[i].password;
        if ((cost = authpool_cost(u->v[i].password)) > bestcost || best == NULL) {
            bestcost = cost;
            best = u->v[i].password;
        }
    }
    return best;
}
