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
    sqlite3_stmt *put, *del, *begin, *commit, *rollback;
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
    sqlite3_finalize(s->rollback);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* Open or create the file; refuse one that is not ours, never overwrite it. */
static struct store *
store_sqlite_open(const struct store_params *params, char *err, size_t errlen)
{
    struct store_sqlite *s = calloc(1, sizeof *s);
    const char *path = params->path;
    int version, tables;

    if (path == NULL) {
        free(s);
        snprintf(err, errlen, "store = sqlite needs a state file");
        return NULL;
    }
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
        sqlite3_exec(
            s->db, params->full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
            NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot set WAL mode");
        goto fail;
    }
    /* A slot already booked is refused, never replaced. */
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO bookings (slot, user) VALUES (?, ?) "
                           "ON CONFLICT (slot) DO NOTHING",
                           -1, &s->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM bookings WHERE slot = ?", -1, &s->del, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "BEGIN", -1, &s->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "ROLLBACK", -1, &s->rollback, NULL) != SQLITE_OK) {
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

/* Run a prepared statement once; SQLite's result code. */
static int
store_sqlite_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/*
 * A failed step: another process holding the file's lock is transient
 * (nothing of the batch stays written; the same batch is tried again);
 * anything else (disk full, I/O error, corruption) is fatal.
 */
static enum store_status
store_sqlite_failed(struct store_sqlite *s, int rc, int intx, char *err, size_t errlen,
                    const char *what)
{
    int code = rc & 0xff;

    store_sqlite_error(s, err, errlen, what);
    if (intx && sqlite3_get_autocommit(s->db) == 0)
        store_sqlite_step(s->rollback);
    return code == SQLITE_BUSY || code == SQLITE_LOCKED ? STORE_TRANSIENT : STORE_FATAL;
}

/* Write a batch in one transaction (on the committer's thread). */
static enum store_status
store_sqlite_write(struct store *base, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    size_t i;
    int rc;

    if ((rc = store_sqlite_step(s->begin)) != SQLITE_DONE)
        return store_sqlite_failed(s, rc, 0, err, errlen, "cannot begin");
    for (i = 0; i < n; i++) {
        struct store_op *op = &ops[i];

        if (op->put) {
            sqlite3_bind_int64(s->put, 1, op->index);
            sqlite3_bind_text(s->put, 2, op->user, -1, SQLITE_STATIC);
            rc = store_sqlite_step(s->put);
        } else {
            sqlite3_bind_int64(s->del, 1, op->index);
            rc = store_sqlite_step(s->del);
        }
        if (rc != SQLITE_DONE)
            return store_sqlite_failed(s, rc, 1, err, errlen, "cannot write");
        op->refused = op->put && sqlite3_changes(s->db) == 0;
    }
    if ((rc = store_sqlite_step(s->commit)) != SQLITE_DONE)
        return store_sqlite_failed(s, rc, 1, err, errlen, "cannot commit");
    return STORE_OK;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = store_sqlite_open,
    .load = store_sqlite_load,
    .write = store_sqlite_write,
    .close = store_sqlite_close,
    .blocking = 1,
};
