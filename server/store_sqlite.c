/* store_sqlite.c: the bookings store in a SQLite file, in WAL mode. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define STORE_SQLITE_VERSION 1 /* PRAGMA user_version of the files this code writes */

/* An open store: the database and its prepared statements. */
struct store_sqlite {
    struct store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *put, *del, *begin, *commit;
    int intx; /* a transaction is open */
};

/* Format an error naming the file and SQLite's message. Returns -1. */
static int
store_sqlite_error(const struct store_sqlite *s, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s", s->path, what,
             s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
    return -1;
}

/* Read PRAGMA user_version and whether the file has any table. */
static int
store_sqlite_probe(struct store_sqlite *s, int *version, int *tables, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    rc = sqlite3_step(st);
    *tables = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    return 0;
}

/* Create the schema in a new, empty file. */
static int
store_sqlite_create(struct store_sqlite *s, char *err, size_t errlen)
{
    static const char sql[] =
        "BEGIN;"
        "CREATE TABLE bookings (slot INTEGER PRIMARY KEY, user TEXT NOT NULL);"
        "PRAGMA user_version = 1;"
        "COMMIT;";

    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "cannot create the bookings table");
    return 0;
}

/* Close the store and free everything. */
static void
store_sqlite_close(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;

    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    if (s->intx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* Open or create the file; refuse one that is not ours, never overwrite it. */
static struct store *
store_sqlite_open(const char *path, int full_sync, char *err, size_t errlen)
{
    struct store_sqlite *s = calloc(1, sizeof *s);
    int version, tables;

    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->base.ops = &store_sqlite_ops;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 1000);
    if (store_sqlite_probe(s, &version, &tables, err, errlen) == -1)
        goto fail;
    if (version == 0 && tables == 0) {
        if (store_sqlite_create(s, err, errlen) == -1)
            goto fail;
    } else if (version != STORE_SQLITE_VERSION) {
        snprintf(err, errlen,
                 "%s: state file of version %d, this hcs reads version %d; "
                 "refusing to use or change it",
                 path, version, STORE_SQLITE_VERSION);
        goto fail;
    }
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot set WAL mode");
        goto fail;
    }
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO bookings (slot, user) VALUES (?, ?)", -1,
                           &s->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM bookings WHERE slot = ?", -1, &s->del, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "BEGIN", -1, &s->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "not an hcs state file");
        goto fail;
    }
    return &s->base;
fail:
    store_sqlite_close(&s->base);
    return NULL;
}

/* Call fn for every row. */
static int
store_sqlite_load(struct store *base, int (*fn)(void *, const char *, uint32_t), void *arg,
                  char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT slot, user FROM bookings ORDER BY slot", -1, &st, NULL) !=
        SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "cannot read bookings");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 slot = sqlite3_column_int64(st, 0);
        const unsigned char *user = sqlite3_column_text(st, 1);

        if (slot < 1 || slot > UINT32_MAX || user == NULL) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "%s: corrupt booking row (slot %lld)", s->path, (long long)slot);
            return -1;
        }
        if (fn(arg, (const char *)user, (uint32_t)slot) == -1) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "cannot read bookings");
    return 0;
}

/* Open a transaction for the changes of this loop pass if none is open. */
static int
store_sqlite_begin(struct store_sqlite *s, char *err, size_t errlen)
{
    int rc;

    if (s->intx)
        return 0;
    rc = sqlite3_step(s->begin);
    sqlite3_reset(s->begin);
    if (rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "cannot begin");
    s->intx = 1;
    return 0;
}

/* Run a prepared change statement once. */
static int
store_sqlite_step(struct store_sqlite *s, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "cannot write");
    return 0;
}

/* Stage a booking. */
static int
store_sqlite_put(struct store *base, const char *user, uint32_t index, char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;

    if (store_sqlite_begin(s, err, errlen) == -1)
        return -1;
    sqlite3_bind_int64(s->put, 1, index);
    sqlite3_bind_text(s->put, 2, user, -1, SQLITE_STATIC);
    return store_sqlite_step(s, s->put, err, errlen);
}

/* Stage a cancellation. */
static int
store_sqlite_del(struct store *base, uint32_t index, char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;

    if (store_sqlite_begin(s, err, errlen) == -1)
        return -1;
    sqlite3_bind_int64(s->del, 1, index);
    return store_sqlite_step(s, s->del, err, errlen);
}

/* Commit the open transaction, if any. */
static int
store_sqlite_commit(struct store *base, char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    int rc;

    if (!s->intx)
        return 0;
    rc = sqlite3_step(s->commit);
    sqlite3_reset(s->commit);
    if (rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "cannot commit");
    s->intx = 0;
    return 0;
}

const struct store_ops store_sqlite_ops = {
    "sqlite",         store_sqlite_open,   store_sqlite_load,  store_sqlite_put,
    store_sqlite_del, store_sqlite_commit, store_sqlite_close,
};
