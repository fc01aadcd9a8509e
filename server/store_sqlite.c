/* store_sqlite.c: the bookings store in a SQLite file, in WAL mode. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define STORE_SQLITE_VERSION 2        /* PRAGMA user_version of the files this code writes */
#define STORE_SQLITE_APPID 0x68637331 /* PRAGMA application_id: "hcs1" */

_Static_assert(STORE_SQLITE_APPID == 1751348017, "the application_id in the SQL below");

/* The bookings table of version 1 (slot and user), as an hcs of that version created it. */
#define STORE_SQLITE_V1 "CREATE TABLE bookings (slot INTEGER PRIMARY KEY, user TEXT NOT NULL)"

/* Version 2: one booking per slot and per user, with the slot as its patient was told of it. */
#define STORE_SQLITE_V2_TABLE(name)                                                                \
    "CREATE TABLE " name " (slot INTEGER PRIMARY KEY, user TEXT NOT NULL UNIQUE, "                 \
    "day TEXT NOT NULL, time TEXT NOT NULL, doctor TEXT NOT NULL, port INTEGER NOT NULL)"

/* An open store: the database and its prepared statements. */
struct store_sqlite {
    struct store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *put, *del, *begin, *commit, *rollback;
    dev_t dev; /* the file that was opened: a write checks it is still there */
    ino_t ino;
};

/* Format an error naming the file and SQLite's message. Returns -1. */
static int
store_sqlite_error(const struct store_sqlite *s, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s", s->path, what,
             s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
    return -1;
}

/* The first column of the first row of sql as an integer, or -1 with err set. */
static int
store_sqlite_int(struct store_sqlite *s, const char *sql, sqlite3_int64 *out, char *err,
                 size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "not an hcs state file");
    return 0;
}

/* What the file is: 0 empty, 1 a version 1 store, 2 ours; -1 refused with err set. */
static int
store_sqlite_probe(struct store_sqlite *s, char *err, size_t errlen)
{
    sqlite3_int64 version, appid, tables, v1;

    if (store_sqlite_int(s, "PRAGMA user_version", &version, err, errlen) == -1 ||
        store_sqlite_int(s, "PRAGMA application_id", &appid, err, errlen) == -1 ||
        store_sqlite_int(s, "SELECT count(*) FROM sqlite_master", &tables, err, errlen) == -1 ||
        store_sqlite_int(s,
                         "SELECT count(*) FROM sqlite_master WHERE name = 'bookings' AND "
                         "sql = '" STORE_SQLITE_V1 "'",
                         &v1, err, errlen) == -1)
        return -1;
    if (appid == 0 && version == 0 && tables == 0)
        return 0;
    if (appid == 0 && version == 1 && tables == 1 && v1 == 1)
        return 1;
    if (appid != STORE_SQLITE_APPID) {
        snprintf(err, errlen, "%s: not an hcs state file (another program's SQLite database)",
                 s->path);
        return -1;
    }
    if (version != STORE_SQLITE_VERSION) {
        snprintf(err, errlen,
                 "%s: state file of version %lld, this hcs reads version %d; "
                 "refusing to use or change it",
                 s->path, (long long)version, STORE_SQLITE_VERSION);
        return -1;
    }
    return 2;
}

/* Create the schema in a new, empty file. */
static int
store_sqlite_create(struct store_sqlite *s, char *err, size_t errlen)
{
    static const char sql[] =
        "BEGIN;" STORE_SQLITE_V2_TABLE("bookings") ";"
                                                   "PRAGMA application_id = 1751348017;"
                                                   "PRAGMA user_version = 2;"
                                                   "COMMIT;";

    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot create the bookings table");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/*
 * A version 1 file (slot and user only, no constraint on users): refuse it
 * when a user holds two rows (an older hcs could write that; which one the
 * patient was told of cannot be known), else rebuild the table as version
 * 2 with the slots' details left empty (the center takes them from
 * availabilities.txt).
 */
static int
store_sqlite_upgrade(struct store_sqlite *s, char *err, size_t errlen)
{
    static const char copy[] = "BEGIN IMMEDIATE;" STORE_SQLITE_V2_TABLE(
        "bookings_v2") ";"
                       "INSERT INTO bookings_v2 SELECT slot, user, '', '', '', 0 "
                       "FROM bookings;"
                       "DROP TABLE bookings;"
                       "ALTER TABLE bookings_v2 RENAME TO bookings;"
                       "PRAGMA application_id = 1751348017;"
                       "PRAGMA user_version = 2;"
                       "COMMIT;";
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT user, group_concat(slot, ' ') FROM bookings GROUP BY user "
                           "HAVING count(*) > 1 ORDER BY min(slot) LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "cannot read bookings");
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(err, errlen,
                 "%s: user %.64s holds slots %.64s (written by an older hcs); keep the one the "
                 "patient was told of and delete the others, e.g. sqlite3 %s \"DELETE FROM "
                 "bookings WHERE slot = N\"",
                 s->path, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), s->path);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_error(s, err, errlen, "cannot read bookings");
    if (sqlite3_exec(s->db, copy, NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot upgrade the state file to version 2");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
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

/*
 * Open the file for hcs --check: a file that is missing is not created (an
 * empty database in memory stands for it) and one that exists is opened
 * read-only. 0, or -1 with err set.
 */
static int
store_sqlite_open_check(struct store_sqlite *s, int *kind, char *err, size_t errlen)
{
    if (access(s->path, F_OK) == -1) {
        if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            return store_sqlite_error(s, err, errlen, "cannot open");
        *kind = 0;
        return store_sqlite_create(s, err, errlen);
    }
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "cannot open");
    sqlite3_busy_timeout(s->db, 1000);
    if ((*kind = store_sqlite_probe(s, err, errlen)) == -1)
        return -1;
    if (*kind == 1)
        return 0; /* load reads the old rows; nothing is upgraded */
    if (*kind == 0) {
        /* An empty database, which a start would make a store of: the same as none. */
        sqlite3_close(s->db);
        if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            return store_sqlite_error(s, err, errlen, "cannot open");
        return store_sqlite_create(s, err, errlen);
    }
    return 0;
}

/*
 * Whether the path still names the file that was opened (remember: note
 * which one it is). A state file deleted or replaced while hcs runs would
 * take every booking confirmed into it to a file nobody reads again.
 */
static int
store_sqlite_same_file(struct store_sqlite *s, int remember)
{
    struct stat st;

    if (stat(s->path, &st) == -1)
        return -1;
    if (remember) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        return 0;
    }
    return st.st_dev == s->dev && st.st_ino == s->ino && st.st_nlink > 0 ? 0 : -1;
}

/* Create the file, readable by its owner only, unless it exists. 0, or -1 with err set. */
static int
store_sqlite_precreate(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd == -1 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (fd != -1)
        close(fd);
    return 0;
}

/* Open or create the file; refuse one that is not ours, never overwrite it. */
static struct store *
store_sqlite_open(const struct store_params *params, char *err, size_t errlen)
{
    struct store_sqlite *s = calloc(1, sizeof *s);
    const char *path = params->path;
    int kind;

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
    if (params->check) {
        if (store_sqlite_open_check(s, &kind, err, errlen) == -1)
            goto fail;
        if (kind == 1)
            return &s->base;
        goto prepare;
    }
    if (store_sqlite_precreate(path, err, errlen) == -1)
        goto fail;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 1000);
    if ((kind = store_sqlite_probe(s, err, errlen)) == -1)
        goto fail;
    if ((kind == 0 && store_sqlite_create(s, err, errlen) == -1) ||
        (kind == 1 && store_sqlite_upgrade(s, err, errlen) == -1))
        goto fail;
    if (store_sqlite_same_file(s, 1) == -1) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(
            s->db, params->full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
            NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_error(s, err, errlen, "cannot set WAL mode");
        goto fail;
    }
prepare:
    /* A slot or a user already booked is refused, never replaced. */
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO bookings (slot, user, day, time, doctor, port) "
                           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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

/* A text column, "" for NULL. */
static const char *
store_sqlite_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return t != NULL ? (const char *)t : "";
}

/* Call fn for every row (of a version 1 file too, under --check: no details). */
static int
store_sqlite_load(struct store *base, int (*fn)(void *, const struct store_booking *), void *arg,
                  char *err, size_t errlen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT slot, user, day, time, doctor, port FROM bookings ORDER BY slot",
                           -1, &st, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(s->db, "SELECT slot, user, '', '', '', 0 FROM bookings ORDER BY slot",
                           -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_error(s, err, errlen, "cannot read bookings");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 slot = sqlite3_column_int64(st, 0), port = sqlite3_column_int64(st, 5);
        struct store_booking b;

        b.user = store_sqlite_text(st, 1);
        b.day = store_sqlite_text(st, 2);
        b.time = store_sqlite_text(st, 3);
        b.doctor = store_sqlite_text(st, 4);
        if (slot < 1 || slot > UINT32_MAX || *b.user == '\0' || port < 0 || port > 65535 ||
            strlen(b.user) >= STORE_USERLEN || strlen(b.day) >= PROTO_DAYLEN ||
            strlen(b.time) >= PROTO_DAYLEN || strlen(b.doctor) >= PROTO_NAMELEN) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "%s: corrupt booking row (slot %lld)", s->path, (long long)slot);
            return -1;
        }
        b.index = (uint32_t)slot;
        b.port = (unsigned)port;
        if (fn(arg, &b) == -1) {
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

    if (store_sqlite_same_file(s, 0) == -1) {
        snprintf(err, errlen,
                 "%s was deleted or replaced while hcs ran; stopping rather than confirm "
                 "bookings into a file nobody will read (restore it and start hcs again)",
                 s->path);
        return STORE_FATAL;
    }
    if ((rc = store_sqlite_step(s->begin)) != SQLITE_DONE)
        return store_sqlite_failed(s, rc, 0, err, errlen, "cannot begin");
    for (i = 0; i < n; i++) {
        struct store_op *op = &ops[i];

        if (op->put) {
            sqlite3_bind_int64(s->put, 1, op->index);
            sqlite3_bind_text(s->put, 2, op->user, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->put, 3, op->day, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->put, 4, op->time, -1, SQLITE_STATIC);
            sqlite3_bind_text(s->put, 5, op->doctor, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s->put, 6, op->port);
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
