/* store_pg.c: bookings and the schedule in PostgreSQL, shared by several centers, on the loop. */
#include "log.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#define STORE_PG_VERSION 1          /* hcs_schema.version of the databases this code writes */
#define STORE_PG_LOCK 1751348017    /* advisory lock taken while the schema is made: "hcs1" */
#define STORE_PG_CHANNEL "hcs"      /* LISTEN/NOTIFY channel of every change */
#define STORE_PG_HOLD_MS 5000       /* a batch waits this long for a lost connection to return */
#define STORE_PG_RETRY_FIRST_MS 100 /* first pause before reconnecting ... */
#define STORE_PG_RETRY_MAX_MS 2000  /* ... doubling up to this */
#define STORE_PG_MAXRES 4           /* results of one request kept */

/*
 * The schema, version 1. Bookings stand as their patients were told of
 * them (the slot's day, time and doctor are copied), one per slot and one
 * per user, decided by the two UNIQUE constraints whatever the number of
 * centers. The schedule is hcs_slots, in the order of availabilities.txt.
 * Every change of either table, by a center or by hand, is announced on
 * the channel "hcs" when it commits, in commit order: lines "+ slot user
 * day time doctor port" and "- slot user" for bookings (the lines of one
 * statement in one notification, or a few when they pass 7000 bytes:
 * payloads stay under PostgreSQL's 8000), "s" for the schedule.
 */
static const char store_pg_schema[] =
    "CREATE TABLE hcs_schema (version integer NOT NULL);"
    "INSERT INTO hcs_schema VALUES (1);"
    "CREATE TABLE hcs_slots (slot bigint PRIMARY KEY CHECK (slot BETWEEN 1 AND 4294967295), "
    "pos integer NOT NULL, "
    "day text NOT NULL, time text NOT NULL, doctor text NOT NULL, port integer NOT NULL);"
    "CREATE TABLE hcs_bookings (slot bigint PRIMARY KEY CHECK (slot BETWEEN 1 AND 4294967295), "
    "username text NOT NULL UNIQUE, day text NOT NULL, time text NOT NULL, "
    "doctor text NOT NULL, port integer NOT NULL);"
    /* One notification per statement (several when its lines pass ~7000 bytes), not one
     * per row: "-" lines for the rows gone, then "+" lines for the rows made. */
    "CREATE FUNCTION hcs_bookings_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN "
    "PERFORM pg_notify('hcs', string_agg(line, E'\\n' ORDER BY slot)) FROM (SELECT slot, line, "
    "sum(length(line) + 1) OVER (ORDER BY slot) / 7000 AS chunk FROM (SELECT slot, '- ' || "
    "slot || ' ' || username AS line FROM old_rows) l) c GROUP BY chunk; END IF; "
    "IF TG_OP <> 'DELETE' THEN "
    "PERFORM pg_notify('hcs', string_agg(line, E'\\n' ORDER BY slot)) FROM (SELECT slot, line, "
    "sum(length(line) + 1) OVER (ORDER BY slot) / 7000 AS chunk FROM (SELECT slot, '+ ' || "
    "slot || ' ' || username || ' ' || day || ' ' || time || ' ' || doctor || ' ' || port AS "
    "line FROM new_rows) l) c GROUP BY chunk; END IF; "
    "RETURN NULL; END $$;"
    "CREATE TRIGGER hcs_bookings_insert AFTER INSERT ON hcs_bookings REFERENCING NEW TABLE AS "
    "new_rows FOR EACH STATEMENT EXECUTE FUNCTION hcs_bookings_notify();"
    "CREATE TRIGGER hcs_bookings_delete AFTER DELETE ON hcs_bookings REFERENCING OLD TABLE AS "
    "old_rows FOR EACH STATEMENT EXECUTE FUNCTION hcs_bookings_notify();"
    "CREATE TRIGGER hcs_bookings_update AFTER UPDATE ON hcs_bookings REFERENCING OLD TABLE AS "
    "old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hcs_bookings_notify();"
    "CREATE FUNCTION hcs_slots_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "PERFORM pg_notify('hcs', 's'); RETURN NULL; END $$;"
    "CREATE TRIGGER hcs_slots_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hcs_slots "
    "FOR EACH STATEMENT EXECUTE FUNCTION hcs_slots_notify();";

/*
 * One batch, one round trip, one transaction: a statement per phase, the
 * cancels and the bookings of the phase as array literals (a query string
 * of several statements runs as one transaction). A booking the
 * constraints refuse is left out of the RETURNING list. A phase never
 * changes one slot or one user twice, so its DELETE and INSERT never meet;
 * a batch that does (the center never sends one) is cut into more phases,
 * applied in order.
 */
#define STORE_PG_PHASE                                                                             \
    "WITH d AS (DELETE FROM hcs_bookings b USING unnest(%s::bigint[], %s::text[]) AS x(slot, u) "  \
    "WHERE b.slot = x.slot AND (x.u = '' OR b.username = x.u) RETURNING b.slot), "                 \
    "i AS (INSERT INTO hcs_bookings (slot, username, day, time, doctor, port) "                    \
    "SELECT slot, u, day, time, doctor, port FROM unnest(%s::bigint[], %s::text[], %s::text[], "   \
    "%s::text[], %s::text[], %s::integer[]) WITH ORDINALITY AS x(slot, u, day, time, doctor, "     \
    "port, ord) ORDER BY slot, ord ON CONFLICT DO NOTHING RETURNING slot, username) "              \
    "SELECT slot, username FROM i;"

/* The schedule made slots[]: rows gone deleted, new or changed ones written. */
static const char store_pg_slots_put[] =
    "WITH n AS (SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], "
    "$5::text[], $6::integer[]) AS x(slot, pos, day, time, doctor, port)), "
    "d AS (DELETE FROM hcs_slots s WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.slot = s.slot) "
    "RETURNING 1) "
    "INSERT INTO hcs_slots SELECT * FROM n ON CONFLICT (slot) DO UPDATE SET pos = EXCLUDED.pos, "
    "day = EXCLUDED.day, time = EXCLUDED.time, doctor = EXCLUDED.doctor, port = EXCLUDED.port "
    "WHERE (hcs_slots.pos, hcs_slots.day, hcs_slots.time, hcs_slots.doctor, hcs_slots.port) IS "
    "DISTINCT FROM (EXCLUDED.pos, EXCLUDED.day, EXCLUDED.time, EXCLUDED.doctor, EXCLUDED.port)";

static const char store_pg_slots_get[] =
    "SELECT slot, day, time, doctor, port FROM hcs_slots ORDER BY pos, slot";
static const char store_pg_bookings_get[] =
    "SELECT slot, username, day, time, doctor, port FROM hcs_bookings ORDER BY slot";

/* What the connection is doing. */
enum store_pg_state {
    STORE_PG_DOWN,       /* no connection; a reconnection is due (timer) */
    STORE_PG_CONNECTING, /* PQconnectPoll steps */
    STORE_PG_SYNCING,    /* connected: LISTEN, then the tables read again */
    STORE_PG_UP,         /* in step with the tables */
};

/* The request on the connection (one at a time). */
enum store_pg_req {
    STORE_PG_REQ_NONE,
    STORE_PG_REQ_LISTEN,
    STORE_PG_REQ_RESYNC, /* the slots, then the bookings */
    STORE_PG_REQ_BATCH,
    STORE_PG_REQ_SLOTS_PUT,
    STORE_PG_REQ_SLOTS_GET,
};

/* Parameters of one statement as text, in one growing buffer. */
struct store_pg_params {
    char *buf;
    size_t len, cap;
    size_t off[8]; /* where each parameter starts */
    int n;
    int oom;
};

/* A copy of a schedule to write (schedule_put on the loop). */
struct store_pg_sched {
    struct store_slot *slots;
    char *strings;
    size_t n;
};

struct store_pg {
    struct store base;
    char *dsn;
    PGconn *pg;
    int check;
    int pid; /* the server process of the connection: its own notifications are not news */

    struct event_base *evbase;
    const struct store_events *events;
    void *evarg;
    enum store_pg_state state;
    struct event *conn_ev; /* one PQconnectPoll step */
    struct event *read_ev; /* the socket, while connected */
    struct event *write_ev;
    struct event *retry_ev; /* reconnect after a pause */
    struct event *hold_ev;  /* a batch waited long enough for the connection */
    unsigned retry_ms;
    int fd; /* the socket the events watch */

    enum store_pg_req req;
    PGresult *res[STORE_PG_MAXRES];
    int nres;

    /* The batch: submitted, then sent, then answered. */
    struct store_op *ops;
    size_t nops;
    store_done_fn *done;
    void *donearg;
    int sent;                     /* its statement went out on the connection */
    struct store_pg_tally *tally; /* its results so far, while it is on the connection */
    int held;                     /* the connection was lost after it was sent: outcome unknown */
    int fetch;                    /* a notification said the schedule changed: read it */
    struct store_pg_sched put;
    int putting; /* put holds a schedule to write */
};

static void store_pg_next(struct store_pg *s);
static void store_pg_lost(struct store_pg *s, const char *why);

/* Copy libpq's message (one line, no trailing newline) into err. Returns -1. */
static int
store_pg_error(char *err, size_t errlen, const char *what, const char *msg)
{
    size_t n;

    snprintf(err, errlen, "postgresql: %s: %s", what,
             msg != NULL && msg[0] != '\0' ? msg : "no reason given");
    /* libpq's messages run over lines, indented with tabs: one line, single spaces. */
    for (char *p = err, *q = err;; p++) {
        char ch = *p == '\n' || *p == '\t' ? ' ' : *p;

        if (ch == ' ' && (q == err || q[-1] == ' '))
            continue;
        *q++ = ch;
        if (ch == '\0')
            break;
    }
    n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
    return -1;
}

/* Whether a failed statement may work if tried again: the server is busy, going or gone. */
static int
store_pg_transient(const PGresult *r)
{
    const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (st == NULL)
        return 1;                        /* no answer from a server at all */
    return strncmp(st, "08", 2) == 0 ||  /* connection exception */
           strncmp(st, "40", 2) == 0 ||  /* serialization failure, deadlock */
           strncmp(st, "53", 2) == 0 ||  /* insufficient resources */
           strncmp(st, "57P", 3) == 0 || /* shutting down, cannot connect now */
           strcmp(st, "25006") == 0 ||   /* read-only transaction: a standby */
           strcmp(st, "55P03") == 0;     /* lock not available */
}

/* Append one byte to the parameters. */
static void
store_pg_putc(struct store_pg_params *p, char ch)
{
    if (p->len + 1 >= p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        char *buf = realloc(p->buf, cap);

        if (buf == NULL) {
            p->oom = 1;
            return;
        }
        p->buf = buf;
        p->cap = cap;
    }
    p->buf[p->len++] = ch;
}

/* Start the next parameter: an array literal. */
static void
store_pg_begin(struct store_pg_params *p)
{
    if (p->n > 0)
        store_pg_putc(p, '\0');
    p->off[p->n++] = p->len;
    store_pg_putc(p, '{');
}

/* Add a string element to the array being written, quoted. */
static void
store_pg_str(struct store_pg_params *p, int first, const char *v)
{
    if (!first)
        store_pg_putc(p, ',');
    store_pg_putc(p, '"');
    for (; *v != '\0'; v++) {
        if (*v == '"' || *v == '\\')
            store_pg_putc(p, '\\');
        store_pg_putc(p, *v);
    }
    store_pg_putc(p, '"');
}

/* Add a number element. */
static void
store_pg_num(struct store_pg_params *p, int first, unsigned long v)
{
    char buf[24];
    int i, n = snprintf(buf, sizeof buf, "%lu", v);

    if (!first)
        store_pg_putc(p, ',');
    for (i = 0; i < n; i++)
        store_pg_putc(p, buf[i]);
}

/* End the array; after the last one, the values' pointers. */
static void
store_pg_end(struct store_pg_params *p)
{
    store_pg_putc(p, '}');
}

/* The parameters as PQexecParams wants them, or -1 out of memory. */
static int
store_pg_values(struct store_pg_params *p, const char *values[8])
{
    int i;

    store_pg_putc(p, '\0');
    if (p->oom)
        return -1;
    for (i = 0; i < p->n; i++)
        values[i] = p->buf + p->off[i];
    return 0;
}

/* The eight arrays of ops[0..n) (see STORE_PG_PHASE). */
static void
store_pg_batch_params(struct store_pg_params *p, const struct store_op *ops, size_t n)
{
    size_t i, col;
    int first;

    memset(p, 0, sizeof *p);
    for (col = 0; col < 8; col++) {
        store_pg_begin(p);
        first = 1;
        for (i = 0; i < n; i++) {
            const struct store_op *op = &ops[i];

            if ((col < 2) == (op->put != 0))
                continue;
            switch (col) {
            case 0:
            case 2:
                store_pg_num(p, first, op->index);
                break;
            case 1:
            case 3:
                store_pg_str(p, first, op->user);
                break;
            case 4:
                store_pg_str(p, first, op->day);
                break;
            case 5:
                store_pg_str(p, first, op->time);
                break;
            case 6:
                store_pg_str(p, first, op->doctor);
                break;
            case 7:
                store_pg_num(p, first, op->port);
                break;
            }
            first = 0;
        }
        store_pg_end(p);
    }
}

/*
 * A key of what an op changes, with its kind: its slot, or its user (by a
 * hash: a collision only costs a cut), as a booking (put 1) or a cancel.
 */
static uint64_t
store_pg_key(const struct store_op *op, int user, int put)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p;

    if (!user)
        return (uint64_t)op->index << 2 | (unsigned)put;
    for (p = (const unsigned char *)op->user; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h << 2 | 2 | (unsigned)put;
}

/* Where key is, or would go, in the table (size mask + 1; 0 marks an empty entry). */
static size_t
store_pg_slot(const uint64_t *tab, size_t mask, uint64_t key)
{
    size_t i = (size_t)((key | 1ull << 63) * 0x9e3779b97f4a7c15ull >> 7) & mask;

    while (tab[i] != 0 && tab[i] != (key | 1ull << 63))
        i = (i + 1) & mask;
    return i;
}

/* Whether key is in the table. */
static int
store_pg_has(const uint64_t *tab, size_t mask, uint64_t key)
{
    return tab[store_pg_slot(tab, mask, key)] != 0;
}

/* Put key in the table. */
static void
store_pg_add(uint64_t *tab, size_t mask, uint64_t key)
{
    tab[store_pg_slot(tab, mask, key)] = key | 1ull << 63;
}

/*
 * Whether op may join the phase in tab: a booking may not follow a cancel
 * of its slot or user (or one that names no user), nor a cancel a booking
 * of its slot or user. Bookings of one slot or user among themselves are
 * decided by the INSERT itself (the first in order wins), cancels by the
 * DELETE.
 */
static int
store_pg_fits(const uint64_t *tab, size_t mask, const struct store_op *op, int wild, int puts)
{
    int other = !op->put;

    if (op->put ? wild : op->user[0] == '\0' && puts)
        return 0;
    return !store_pg_has(tab, mask, store_pg_key(op, 0, other)) &&
           !store_pg_has(tab, mask, store_pg_key(op, 1, other));
}

/*
 * Cut ops[0..n) into phases (bounds[k] is where phase k starts; bounds[k +
 * 1] where it ends) and write the query string of the batch. NULL out of
 * memory.
 */
static char *
store_pg_batch_sql(PGconn *pg, const struct store_op *ops, size_t n, size_t *bounds,
                   size_t *nphases)
{
    size_t cap = 64, mask, i, k, start = 0, len = 0;
    int wild = 0, puts = 0;
    uint64_t *tab;
    char *sql = NULL;

    while (cap < 4 * n)
        cap *= 2;
    mask = cap - 1;
    if ((tab = calloc(cap, sizeof *tab)) == NULL)
        return NULL;
    *nphases = 0;
    for (i = 0; i <= n; i++) {
        if (i < n && store_pg_fits(tab, mask, &ops[i], wild, puts)) {
            store_pg_add(tab, mask, store_pg_key(&ops[i], 0, ops[i].put));
            store_pg_add(tab, mask, store_pg_key(&ops[i], 1, ops[i].put));
            wild |= !ops[i].put && ops[i].user[0] == '\0';
            puts |= ops[i].put;
            continue;
        }
        /* ops[start..i) is a phase; ops[i] (if any) starts the next. */
        {
            struct store_pg_params p;
            char *lit[8], *q;
            size_t need;
            int ok = 1;

            store_pg_batch_params(&p, ops + start, i - start);
            store_pg_putc(&p, '\0');
            for (k = 0; k < 8; k++)
                lit[k] = NULL;
            for (k = 0; k < 8 && ok && !p.oom; k++)
                ok = (lit[k] = PQescapeLiteral(pg, p.buf + p.off[k], strlen(p.buf + p.off[k]))) !=
                     NULL;
            need = sizeof STORE_PG_PHASE + 1;
            for (k = 0; k < 8 && ok && !p.oom; k++)
                need += strlen(lit[k]);
            q = ok && !p.oom ? realloc(sql, len + need) : NULL;
            if (q != NULL) {
                sql = q;
                len += (size_t)snprintf(sql + len, need, STORE_PG_PHASE, lit[0], lit[1], lit[2],
                                        lit[3], lit[4], lit[5], lit[6], lit[7]);
            }
            for (k = 0; k < 8; k++)
                PQfreemem(lit[k]);
            free(p.buf);
            if (q == NULL) {
                free(sql);
                free(tab);
                return NULL;
            }
        }
        bounds[(*nphases)++] = start;
        start = i;
        memset(tab, 0, cap * sizeof *tab);
        wild = i < n && !ops[i].put && ops[i].user[0] == '\0';
        puts = i < n && ops[i].put;
        if (i < n) {
            store_pg_add(tab, mask, store_pg_key(&ops[i], 0, ops[i].put));
            store_pg_add(tab, mask, store_pg_key(&ops[i], 1, ops[i].put));
        }
    }
    bounds[*nphases] = n;
    free(tab);
    return sql;
}

/* Set each put op of ops[0..n) (one phase) refused unless the INSERT returned its slot. */
static void
store_pg_outcomes(struct store_op *ops, size_t n, const PGresult *r)
{
    int i, rows = PQntuples(r);
    size_t j;

    for (j = 0; j < n; j++) {
        ops[j].unknown = 0;
        ops[j].refused = ops[j].put;
    }
    /* Each row inserted is the first booking of its slot (and of its user) in the phase. */
    for (i = 0; i < rows; i++) {
        uint32_t slot = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        const char *user = PQgetvalue(r, i, 1);

        for (j = 0; j < n; j++)
            if (ops[j].put && ops[j].refused && ops[j].index == slot &&
                strcmp(ops[j].user, user) == 0) {
                ops[j].refused = 0;
                break;
            }
    }
}

/* Where the results of a batch are: the next phase, and the first failure. */
struct store_pg_tally {
    size_t *bounds; /* nphases + 1 entries */
    size_t nphases;
    size_t phase;
    int failed;
    int transient;
    char err[512];
};

/* One result of a batch's query string: a phase's outcomes, or the failure. */
static void
store_pg_tally(struct store_pg_tally *t, struct store_op *ops, const PGresult *r, const PGconn *pg)
{
    if (PQresultStatus(r) == PGRES_TUPLES_OK && t->phase < t->nphases && !t->failed) {
        store_pg_outcomes(ops + t->bounds[t->phase], t->bounds[t->phase + 1] - t->bounds[t->phase],
                          r);
        t->phase++;
        return;
    }
    if (!t->failed) {
        t->failed = 1;
        t->transient = PQstatus(pg) != CONNECTION_OK || store_pg_transient(r);
        store_pg_error(t->err, sizeof t->err, "cannot write the bookings", PQresultErrorMessage(r));
    }
}

/* The six arrays of a schedule (see store_pg_slots_put). */
static void
store_pg_slot_params(struct store_pg_params *p, const struct store_slot *slots, size_t n)
{
    size_t i;
    int col;

    memset(p, 0, sizeof *p);
    for (col = 0; col < 6; col++) {
        store_pg_begin(p);
        for (i = 0; i < n; i++) {
            const struct store_slot *sl = &slots[i];

            switch (col) {
            case 0:
                store_pg_num(p, i == 0, sl->index);
                break;
            case 1:
                store_pg_num(p, i == 0, i + 1);
                break;
            case 2:
                store_pg_str(p, i == 0, sl->day);
                break;
            case 3:
                store_pg_str(p, i == 0, sl->time);
                break;
            case 4:
                store_pg_str(p, i == 0, sl->doctor);
                break;
            case 5:
                store_pg_num(p, i == 0, sl->port);
                break;
            }
        }
        store_pg_end(p);
    }
}

/* A value of a row, as a string that stays while r does. */
static const char *
store_pg_get(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col);
}

/* Every row of r (store_pg_bookings_get) as bookings; NULL with *n = 0 out of memory. */
static struct store_booking *
store_pg_bookings(const PGresult *r, size_t *n)
{
    int i, rows = PQntuples(r);
    struct store_booking *b = calloc((size_t)rows + 1, sizeof *b);

    *n = 0;
    if (b == NULL)
        return NULL;
    for (i = 0; i < rows; i++) {
        b[i].index = (uint32_t)strtoul(store_pg_get(r, i, 0), NULL, 10);
        b[i].user = store_pg_get(r, i, 1);
        b[i].day = store_pg_get(r, i, 2);
        b[i].time = store_pg_get(r, i, 3);
        b[i].doctor = store_pg_get(r, i, 4);
        b[i].port = (unsigned)strtoul(store_pg_get(r, i, 5), NULL, 10);
    }
    *n = (size_t)rows;
    return b;
}

/* Every row of r (store_pg_slots_get) as slots; NULL with *n = 0 out of memory. */
static struct store_slot *
store_pg_slots(const PGresult *r, size_t *n)
{
    int i, rows = PQntuples(r);
    struct store_slot *sl = calloc((size_t)rows + 1, sizeof *sl);

    *n = 0;
    if (sl == NULL)
        return NULL;
    for (i = 0; i < rows; i++) {
        sl[i].index = (uint32_t)strtoul(store_pg_get(r, i, 0), NULL, 10);
        sl[i].day = store_pg_get(r, i, 1);
        sl[i].time = store_pg_get(r, i, 2);
        sl[i].doctor = store_pg_get(r, i, 3);
        sl[i].port = (unsigned)strtoul(store_pg_get(r, i, 4), NULL, 10);
    }
    *n = (size_t)rows;
    return sl;
}

/* Run one command with no rows to return, synchronously. */
static int
store_pg_exec(struct store_pg *s, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        store_pg_error(err, errlen, what, PQerrorMessage(s->pg));
    PQclear(r);
    return ok ? 0 : -1;
}

/*
 * Make or check the schema, under an advisory lock so that centers
 * starting together make it once: created when the database has no
 * hcs_schema (unless only checking), else its version must be ours.
 */
static int
store_pg_schema_ready(struct store_pg *s, char *err, size_t errlen)
{
    PGresult *r;
    int version = -1, have;

    if (store_pg_exec(s, "BEGIN", "cannot begin", err, errlen) == -1)
        return -1;
    if (!s->check && store_pg_exec(s, "SELECT pg_advisory_xact_lock(1751348017)",
                                   "cannot lock the schema", err, errlen) == -1)
        goto fail;
    r = PQexec(s->pg, "SELECT to_regclass('hcs_schema') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        store_pg_error(err, errlen, "cannot read the schema", PQerrorMessage(s->pg));
        PQclear(r);
        goto fail;
    }
    have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have && s->check) {
        snprintf(err, errlen,
                 "postgresql: database %s has no hcs schema (hcs creates it when it starts)",
                 PQdb(s->pg));
        goto fail;
    }
    if (!have) {
        if (store_pg_exec(s, store_pg_schema, "cannot create the schema", err, errlen) == -1)
            goto fail;
        log_info("postgresql: created the hcs schema (version %d) in database %s", STORE_PG_VERSION,
                 PQdb(s->pg));
    }
    r = PQexec(s->pg, "SELECT max(version) FROM hcs_schema");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version != STORE_PG_VERSION) {
        snprintf(err, errlen,
                 "postgresql: database %s holds an hcs schema of version %d, this hcs reads "
                 "version %d; refusing to use or change it",
                 PQdb(s->pg), version, STORE_PG_VERSION);
        goto fail;
    }
    if (store_pg_exec(s, "COMMIT", "cannot commit the schema", err, errlen) == -1)
        goto fail;
    return 0;
fail:
    PQclear(PQexec(s->pg, "ROLLBACK"));
    return -1;
}

/* A password in the connection string would be shown wherever the config is: refuse it. */
static int
store_pg_dsn_ok(const char *dsn, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &msg), *o;
    int ok = 1;

    if (opts == NULL) {
        store_pg_error(err, errlen, "dsn", msg != NULL ? msg : "out of memory");
        PQfreemem(msg);
        return -1;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            ok = 0;
    PQconninfoFree(opts);
    if (!ok)
        snprintf(err, errlen,
                 "postgresql: dsn holds a password: put it in PGPASSWORD or "
                 "~/.pgpass (or use another authentication), not in center.conf");
    return ok ? 0 : -1;
}

/* Notices (such as "relation exists") are not for the screen. */
static void
store_pg_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Connect (blocking: start-up), make or check the schema, and LISTEN. */
static struct store *
store_pg_open(const struct store_params *params, char *err, size_t errlen)
{
    struct store_pg *s;

    if (params->dsn == NULL) {
        snprintf(err, errlen, "postgresql: no dsn");
        return NULL;
    }
    if (store_pg_dsn_ok(params->dsn, err, errlen) == -1)
        return NULL;
    if ((s = calloc(1, sizeof *s)) == NULL || (s->dsn = strdup(params->dsn)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &store_pg_ops;
    s->check = params->check;
    s->fd = -1;
    s->pg = PQconnectdb(s->dsn);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        store_pg_error(err, errlen, "cannot connect", PQerrorMessage(s->pg));
        goto fail;
    }
    PQsetNoticeProcessor(s->pg, store_pg_notice, NULL);
    if (store_pg_schema_ready(s, err, errlen) == -1)
        goto fail;
    /* LISTEN before the first read: nothing committed after it is missed. */
    if (!s->check &&
        store_pg_exec(s, "LISTEN " STORE_PG_CHANNEL, "cannot listen", err, errlen) == -1)
        goto fail;
    s->pid = PQbackendPID(s->pg);
    s->state = STORE_PG_UP;
    return &s->base;
fail:
    PQfinish(s->pg);
    free(s->dsn);
    free(s);
    return NULL;
}

/* Call fn for every booking (start-up: blocking). */
static int
store_pg_load(struct store *st, int (*fn)(void *, const struct store_booking *), void *arg,
              char *err, size_t errlen)
{
    struct store_pg *s = (struct store_pg *)st;
    PGresult *r = PQexec(s->pg, store_pg_bookings_get);
    struct store_booking *b;
    size_t i, n;
    int rc = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        store_pg_error(err, errlen, "cannot read the bookings", PQerrorMessage(s->pg));
        PQclear(r);
        return -1;
    }
    if ((b = store_pg_bookings(r, &n)) == NULL) {
        PQclear(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < n && rc == 0; i++)
        if (fn(arg, &b[i]) == -1) {
            snprintf(err, errlen, "postgresql: cannot restore the booking of slot %u", b[i].index);
            rc = -1;
        }
    free(b);
    PQclear(r);
    return rc;
}

/* The shared schedule (start-up: blocking). */
static int
store_pg_schedule_get(struct store *st, void (*fn)(void *, const struct store_slot *, size_t),
                      void *arg, char *err, size_t errlen)
{
    struct store_pg *s = (struct store_pg *)st;
    PGresult *r = PQexec(s->pg, store_pg_slots_get);
    struct store_slot *sl;
    size_t n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        store_pg_error(err, errlen, "cannot read the schedule", PQerrorMessage(s->pg));
        PQclear(r);
        return -1;
    }
    if ((sl = store_pg_slots(r, &n)) == NULL) {
        PQclear(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fn(arg, sl, n);
    free(sl);
    PQclear(r);
    return 0;
}

/* The query string of a batch, its phases in t. NULL out of memory. */
static char *
store_pg_batch_start(PGconn *pg, struct store_pg_tally *t, const struct store_op *ops, size_t n)
{
    char *sql;

    memset(t, 0, sizeof *t);
    if ((t->bounds = calloc(n + 2, sizeof *t->bounds)) == NULL)
        return NULL;
    if ((sql = store_pg_batch_sql(pg, ops, n, t->bounds, &t->nphases)) == NULL) {
        free(t->bounds);
        t->bounds = NULL;
    }
    return sql;
}

/* How a batch's results went: STORE_OK with every op's outcome set, or a failure. */
static enum store_status
store_pg_batch_end(struct store_pg_tally *t, char *err, size_t errlen)
{
    enum store_status rc = STORE_OK;

    if (!t->failed && t->phase != t->nphases) {
        t->failed = 1;
        snprintf(t->err, sizeof t->err, "postgresql: %zu of %zu results of a batch came", t->phase,
                 t->nphases);
    }
    if (t->failed) {
        snprintf(err, errlen, "%s", t->err);
        rc = t->transient ? STORE_TRANSIENT : STORE_FATAL;
    }
    free(t->bounds);
    t->bounds = NULL;
    return rc;
}

/* Write one batch and wait for it (shutdown, tests). */
static enum store_status
store_pg_write_sync(struct store_pg *s, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    struct store_pg_tally t;
    PGresult *r;
    char *sql;

    if (n == 0)
        return STORE_OK;
    if ((sql = store_pg_batch_start(s->pg, &t, ops, n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return STORE_FATAL;
    }
    if (!PQsendQuery(s->pg, sql)) {
        t.failed = t.transient = 1;
        store_pg_error(t.err, sizeof t.err, "cannot write the bookings", PQerrorMessage(s->pg));
    }
    free(sql);
    while ((r = PQgetResult(s->pg)) != NULL) {
        store_pg_tally(&t, ops, r, s->pg);
        PQclear(r);
    }
    return store_pg_batch_end(&t, err, errlen);
}

/* Forget the results of a batch that was on the connection. */
static void
store_pg_untally(struct store_pg *s)
{
    if (s->tally != NULL) {
        free(s->tally->bounds);
        free(s->tally);
        s->tally = NULL;
    }
}

/* Wait for the request on the connection to end (shutdown: blocking). */
static void
store_pg_drain(struct store_pg *s)
{
    PGresult *r;

    if (s->pg == NULL || s->req == STORE_PG_REQ_NONE)
        return;
    PQsetnonblocking(s->pg, 0);
    while (PQflush(s->pg) == 1)
        continue;
    while ((r = PQgetResult(s->pg)) != NULL) {
        if (s->req == STORE_PG_REQ_BATCH && s->nops > 0 && PQresultStatus(r) == PGRES_TUPLES_OK)
            log_info("postgresql: the last batch was written at shutdown");
        PQclear(r);
    }
    s->req = STORE_PG_REQ_NONE;
    store_pg_untally(s);
}

/* Write a batch now (shutdown, tests): the request in flight first. */
static enum store_status
store_pg_write(struct store *st, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    struct store_pg *s = (struct store_pg *)st;

    if (s->pg == NULL || PQstatus(s->pg) != CONNECTION_OK) {
        snprintf(err, errlen, "postgresql: not connected");
        return STORE_TRANSIENT;
    }
    store_pg_drain(s);
    if (s->evbase != NULL)
        PQsetnonblocking(s->pg, 0);
    return store_pg_write_sync(s, ops, n, err, errlen);
}

/* Free what a schedule copy holds. */
static void
store_pg_sched_free(struct store_pg_sched *c)
{
    free(c->slots);
    free(c->strings);
    memset(c, 0, sizeof *c);
}

/* Drop the results kept of the last request. */
static void
store_pg_clear(struct store_pg *s)
{
    while (s->nres > 0)
        PQclear(s->res[--s->nres]);
}

/* Stop watching the socket. */
static void
store_pg_unwatch(struct store_pg *s)
{
    if (s->read_ev != NULL)
        event_free(s->read_ev);
    if (s->write_ev != NULL)
        event_free(s->write_ev);
    if (s->conn_ev != NULL)
        event_free(s->conn_ev);
    s->read_ev = s->write_ev = s->conn_ev = NULL;
    s->fd = -1;
}

/* Close the store; a batch in flight is waited for, one waiting is dropped. */
static void
store_pg_close(struct store *st)
{
    struct store_pg *s = (struct store_pg *)st;

    if (s == NULL)
        return;
    store_pg_drain(s);
    store_pg_clear(s);
    store_pg_untally(s);
    store_pg_unwatch(s);
    if (s->retry_ev != NULL)
        event_free(s->retry_ev);
    if (s->hold_ev != NULL)
        event_free(s->hold_ev);
    store_pg_sched_free(&s->put);
    PQfinish(s->pg);
    free(s->dsn);
    free(s);
}

/* The batch is over: give it back (done may submit the next one). */
static void
store_pg_finish(struct store_pg *s, enum store_status status, const char *err)
{
    store_done_fn *done = s->done;
    void *arg = s->donearg;

    if (done == NULL)
        return;
    evtimer_del(s->hold_ev);
    s->done = NULL;
    s->ops = NULL;
    s->nops = 0;
    s->sent = s->held = 0;
    done(arg, status, err);
}

/* The batch can wait no longer for the connection: nothing of it is known written. */
static void
store_pg_hold_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_pg *s = arg;
    size_t i;

    (void)fd;
    (void)what;
    for (i = 0; i < s->nops; i++) {
        s->ops[i].unknown = 1;
        s->ops[i].refused = 0;
    }
    log_warnx("postgresql: %zu change%s not confirmed within %d s; answered 'unavailable' "
              "(read back from the database once it is reachable)",
              s->nops, s->nops == 1 ? "" : "s", STORE_PG_HOLD_MS / 1000);
    store_pg_finish(s, STORE_OK, NULL);
}

/* Send the output libpq holds; watch for writability while some remains. */
static void
store_pg_flush(struct store_pg *s)
{
    int rc = PQflush(s->pg);

    if (rc == -1) {
        store_pg_lost(s, PQerrorMessage(s->pg));
        return;
    }
    if (rc == 1)
        event_add(s->write_ev, NULL);
}

/* Send one statement as the request. */
static void
store_pg_send(struct store_pg *s, enum store_pg_req req, const char *sql, int nparams,
              const char *const *values)
{
    int ok = nparams > 0 ? PQsendQueryParams(s->pg, sql, nparams, NULL, values, NULL, NULL, 0)
                         : PQsendQuery(s->pg, sql);

    if (!ok) {
        store_pg_lost(s, PQerrorMessage(s->pg));
        return;
    }
    s->req = req;
    store_pg_flush(s);
}

/* Send the batch waiting. */
static void
store_pg_send_batch(struct store_pg *s)
{
    char *sql;

    if ((s->tally = calloc(1, sizeof *s->tally)) == NULL ||
        (sql = store_pg_batch_start(s->pg, s->tally, s->ops, s->nops)) == NULL) {
        free(s->tally);
        s->tally = NULL;
        store_pg_finish(s, STORE_FATAL, "postgresql: out of memory for a batch");
        return;
    }
    s->sent = 1;
    store_pg_send(s, STORE_PG_REQ_BATCH, sql, 0, NULL);
    free(sql);
}

/* Send the schedule waiting to be written. */
static void
store_pg_send_slots(struct store_pg *s)
{
    struct store_pg_params p;
    const char *values[8];

    store_pg_slot_params(&p, s->put.slots, s->put.n);
    if (store_pg_values(&p, values) == -1) {
        free(p.buf);
        log_warnx("postgresql: out of memory for the schedule; not written");
        store_pg_sched_free(&s->put);
        s->putting = 0;
        return;
    }
    store_pg_send(s, STORE_PG_REQ_SLOTS_PUT, store_pg_slots_put, 6, values);
    free(p.buf);
}

/* Start what comes next on an idle connection, in order of need. */
static void
store_pg_next(struct store_pg *s)
{
    if (s->pg == NULL || s->req != STORE_PG_REQ_NONE)
        return;
    switch (s->state) {
    case STORE_PG_SYNCING:
        store_pg_send(s, STORE_PG_REQ_RESYNC, store_pg_slots_get, 0, NULL);
        return;
    case STORE_PG_UP:
        break;
    default:
        return;
    }
    if (s->putting)
        store_pg_send_slots(s);
    else if (s->fetch)
        store_pg_send(s, STORE_PG_REQ_SLOTS_GET, store_pg_slots_get, 0, NULL);
    else if (s->done != NULL && !s->sent)
        store_pg_send_batch(s);
}

/* "+ slot user day time doctor port" or "- slot user" from another center: tell the center. */
static void
store_pg_notified(struct store_pg *s, const PGnotify *n)
{
    char user[STORE_USERLEN], day[PROTO_DAYLEN], time[PROTO_DAYLEN], doctor[PROTO_NAMELEN];
    unsigned slot, port;
    char kind;

    const char *line, *nl;
    char one[256];

    if (n->extra[0] == 's') {
        s->fetch = 1;
        return;
    }
    if (n->be_pid == s->pid)
        return; /* this center's own change: it knows */
    _Static_assert(STORE_USERLEN == 65 && PROTO_DAYLEN >= 16 && PROTO_NAMELEN >= 32, "widths");
    for (line = n->extra; *line != '\0'; line = *nl != '\0' ? nl + 1 : nl) {
        size_t len;

        if ((nl = strchr(line, '\n')) == NULL)
            nl = line + strlen(line);
        len = (size_t)(nl - line);
        if (len >= sizeof one) {
            log_warnx("postgresql: a notification line hcs does not know: %.80s", line);
            continue;
        }
        memcpy(one, line, len);
        one[len] = '\0';
        if (sscanf(one, "%c %u %64s %15s %15s %31s %u", &kind, &slot, user, day, time, doctor,
                   &port) == 7 &&
            kind == '+') {
            struct store_booking b = {slot, user, day, time, doctor, port};

            s->events->booked(s->evarg, &b);
        } else if (sscanf(one, "%c %u %64s", &kind, &slot, user) == 3 && kind == '-') {
            s->events->cancelled(s->evarg, slot, user);
        } else {
            log_warnx("postgresql: a notification line hcs does not know: %.80s", one);
        }
    }
}

/* Hand over every notification received. */
static void
store_pg_notifies(struct store_pg *s)
{
    PGnotify *n;

    while (s->pg != NULL && (n = PQnotifies(s->pg)) != NULL) {
        if (strcmp(n->relname, STORE_PG_CHANNEL) == 0)
            store_pg_notified(s, n);
        PQfreemem(n);
    }
}

/* Tell the center the schedule of r. */
static void
store_pg_tell_slots(struct store_pg *s, const PGresult *r)
{
    struct store_slot *sl;
    size_t n;

    if ((sl = store_pg_slots(r, &n)) == NULL) {
        log_warnx("postgresql: out of memory reading the schedule");
        return;
    }
    s->events->schedule(s->evarg, sl, n);
    free(sl);
}

/*
 * The batch whose answer the connection took away, against the bookings
 * read again: a booking stands if its row is there, a cancel if its row
 * is gone. Nothing else can be told of it as written.
 */
static void
store_pg_resolve(struct store_pg *s, const struct store_booking *all, size_t n)
{
    size_t i, j;

    for (i = 0; i < s->nops; i++) {
        struct store_op *op = &s->ops[i];
        int found = 0;

        for (j = 0; j < n && !found; j++)
            found = all[j].index == op->index && strcmp(all[j].user, op->user) == 0;
        op->refused = 0;
        op->unknown = op->put ? !found : found;
    }
    log_info("postgresql: the batch sent before the connection was lost read back: %zu change%s",
             s->nops, s->nops == 1 ? "" : "s");
    store_pg_finish(s, STORE_OK, NULL);
}

/* A request ended with the results in s->res: act on them. */
static void
store_pg_answered(struct store_pg *s, enum store_pg_req req)
{
    PGresult *r = s->nres > 0 ? s->res[s->nres - 1] : NULL;
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    char err[512];

    if (!ok)
        store_pg_error(err, sizeof err, "request failed",
                       r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->pg));
    switch (req) {
    case STORE_PG_REQ_NONE:
        break;
    case STORE_PG_REQ_LISTEN:
        if (!ok) {
            store_pg_lost(s, err);
            return;
        }
        s->state = STORE_PG_SYNCING;
        break;
    case STORE_PG_REQ_RESYNC:
        if (!ok) {
            store_pg_lost(s, err);
            return;
        }
        if (s->nres == 1) {
            /* The slots came: the bookings next, in a request of its own. */
            store_pg_tell_slots(s, r);
            store_pg_send(s, STORE_PG_REQ_RESYNC, store_pg_bookings_get, 0, NULL);
            /* keep the slots' result until the bookings come */
            return;
        } else {
            struct store_booking *all;
            size_t n;

            if ((all = store_pg_bookings(r, &n)) == NULL) {
                store_pg_lost(s, "out of memory reading the bookings");
                return;
            }
            s->state = STORE_PG_UP;
            s->retry_ms = 0;
            if (s->done != NULL && s->held)
                store_pg_resolve(s, all, n);
            s->events->bookings(s->evarg, all, n);
            free(all);
            log_info("postgresql: connected again; %zu booking%s read back", n, n == 1 ? "" : "s");
        }
        break;
    case STORE_PG_REQ_BATCH: {
        enum store_status rc = store_pg_batch_end(s->tally, err, sizeof err);

        free(s->tally);
        s->tally = NULL;
        if (rc != STORE_OK && PQstatus(s->pg) != CONNECTION_OK) {
            store_pg_lost(s, err);
            return;
        }
        if (rc != STORE_OK)
            s->sent = 0;
        /* done may send the next batch at once: nothing of this one is left to clear. */
        store_pg_finish(s, rc, rc == STORE_OK ? NULL : err);
        return;
    }
    case STORE_PG_REQ_SLOTS_PUT:
        if (!ok)
            log_warnx("%s; the schedule was not changed", err);
        store_pg_sched_free(&s->put);
        s->putting = 0;
        break;
    case STORE_PG_REQ_SLOTS_GET:
        if (ok) {
            s->fetch = 0;
            store_pg_tell_slots(s, r);
        } else {
            log_warnx("%s", err);
        }
        break;
    }
    store_pg_clear(s);
}

/* The socket is readable: take what came, finish the request if it is whole, then the news. */
static void
store_pg_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_pg *s = arg;
    PGresult *r;

    (void)fd;
    (void)what;
    if (!PQconsumeInput(s->pg)) {
        store_pg_lost(s, PQerrorMessage(s->pg));
        return;
    }
    /* Results before notifications: a notification after a result on the wire is newer. */
    while (s->req != STORE_PG_REQ_NONE && !PQisBusy(s->pg)) {
        if ((r = PQgetResult(s->pg)) != NULL) {
            if (s->req == STORE_PG_REQ_BATCH) {
                store_pg_tally(s->tally, s->ops, r, s->pg);
                PQclear(r);
            } else if (s->nres < STORE_PG_MAXRES)
                s->res[s->nres++] = r;
            else
                PQclear(r);
            continue;
        }
        enum store_pg_req req = s->req;

        s->req = STORE_PG_REQ_NONE;
        store_pg_answered(s, req);
        if (s->pg == NULL || s->state == STORE_PG_DOWN)
            return;
    }
    store_pg_notifies(s);
    if (s->pg != NULL && PQstatus(s->pg) != CONNECTION_OK) {
        store_pg_lost(s, PQerrorMessage(s->pg));
        return;
    }
    store_pg_next(s);
}

/* The socket takes output again. */
static void
store_pg_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_pg_flush(arg);
}

/* Watch the socket of a connection made. */
static int
store_pg_watch(struct store_pg *s)
{
    store_pg_unwatch(s);
    s->fd = PQsocket(s->pg);
    if (PQsetnonblocking(s->pg, 1) == -1 ||
        (s->read_ev = event_new(s->evbase, s->fd, EV_READ | EV_PERSIST, store_pg_read_cb, s)) ==
            NULL ||
        (s->write_ev = event_new(s->evbase, s->fd, EV_WRITE, store_pg_write_cb, s)) == NULL ||
        event_add(s->read_ev, NULL) == -1)
        return -1;
    return 0;
}

static void store_pg_connect_cb(evutil_socket_t fd, short what, void *arg);

/* Wait for the socket of the connection being made, as PQconnectPoll asked. */
static void
store_pg_connect_wait(struct store_pg *s, short what)
{
    /* The socket may change from one step to the next (another host of the list). */
    if (s->conn_ev != NULL)
        event_free(s->conn_ev);
    s->conn_ev = event_new(s->evbase, PQsocket(s->pg), what, store_pg_connect_cb, s);
    if (s->conn_ev == NULL || event_add(s->conn_ev, NULL) == -1)
        store_pg_lost(s, "cannot watch the connection");
}

/* One step of making the connection. */
static void
store_pg_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_pg *s = arg;

    (void)fd;
    (void)what;
    switch (PQconnectPoll(s->pg)) {
    case PGRES_POLLING_READING:
        store_pg_connect_wait(s, EV_READ);
        return;
    case PGRES_POLLING_WRITING:
        store_pg_connect_wait(s, EV_WRITE);
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        store_pg_lost(s, PQerrorMessage(s->pg));
        return;
    }
    PQsetNoticeProcessor(s->pg, store_pg_notice, NULL);
    s->pid = PQbackendPID(s->pg);
    if (store_pg_watch(s) == -1) {
        store_pg_lost(s, "cannot watch the connection");
        return;
    }
    /* LISTEN first, then read the tables: nothing committed after the read is missed. */
    s->state = STORE_PG_SYNCING;
    store_pg_send(s, STORE_PG_REQ_LISTEN, "LISTEN " STORE_PG_CHANNEL, 0, NULL);
}

/* Try to connect again (after the pause). */
static void
store_pg_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_pg *s = arg;

    (void)fd;
    (void)what;
    s->pg = PQconnectStart(s->dsn);
    if (s->pg == NULL || PQstatus(s->pg) == CONNECTION_BAD) {
        store_pg_lost(s, s->pg != NULL ? PQerrorMessage(s->pg) : "out of memory");
        return;
    }
    s->state = STORE_PG_CONNECTING;
    store_pg_connect_wait(s, EV_WRITE);
}

/*
 * The connection is gone (or could not be made): close it, keep a batch
 * that was sent until the tables can be read again (bounded by the hold
 * timer), and try again after a pause that grows.
 */
static void
store_pg_lost(struct store_pg *s, const char *why)
{
    struct timeval tv;
    char msg[512];
    int was_up = s->state == STORE_PG_UP || s->state == STORE_PG_SYNCING;

    store_pg_error(msg, sizeof msg, was_up ? "connection lost" : "cannot connect", why);
    store_pg_clear(s);
    store_pg_untally(s);
    store_pg_unwatch(s);
    if (s->pg != NULL)
        PQfinish(s->pg);
    s->pg = NULL;
    s->req = STORE_PG_REQ_NONE;
    if (s->done != NULL) {
        if (s->sent)
            s->held = 1;
        s->sent = 0;
        if (!evtimer_pending(s->hold_ev, NULL)) {
            tv.tv_sec = STORE_PG_HOLD_MS / 1000;
            tv.tv_usec = (STORE_PG_HOLD_MS % 1000) * 1000;
            evtimer_add(s->hold_ev, &tv);
        }
    }
    /* Said once when the connection goes, once more when the first reconnection fails. */
    if (was_up)
        log_warnx("%s; changes are refused until it is back", msg);
    else if (s->retry_ms == STORE_PG_RETRY_FIRST_MS)
        log_warnx("%s; trying again every %d s at most", msg, STORE_PG_RETRY_MAX_MS / 1000);
    if (was_up)
        s->retry_ms = 0;
    s->state = STORE_PG_DOWN;
    if (s->retry_ms == 0)
        s->retry_ms = STORE_PG_RETRY_FIRST_MS;
    else if ((s->retry_ms *= 2) > STORE_PG_RETRY_MAX_MS)
        s->retry_ms = STORE_PG_RETRY_MAX_MS;
    tv.tv_sec = s->retry_ms / 1000;
    tv.tv_usec = (s->retry_ms % 1000) * 1000;
    evtimer_add(s->retry_ev, &tv);
}

/* Start working on the loop with the connection opened at start-up. */
static int
store_pg_attach(struct store *st, struct event_base *base, const struct store_events *ev, void *arg,
                char *err, size_t errlen)
{
    struct store_pg *s = (struct store_pg *)st;

    s->evbase = base;
    s->events = ev;
    s->evarg = arg;
    if ((s->retry_ev = evtimer_new(base, store_pg_retry_cb, s)) == NULL ||
        (s->hold_ev = evtimer_new(base, store_pg_hold_cb, s)) == NULL || store_pg_watch(s) == -1) {
        snprintf(err, errlen, "postgresql: cannot watch the connection: %s", strerror(errno));
        return -1;
    }
    /* Notifications that came during start-up are news too. */
    store_pg_notifies(s);
    store_pg_next(s);
    return 0;
}

/* Take a batch: sent now if the connection is idle, else when it is. */
static void
store_pg_submit(struct store *st, struct store_op *ops, size_t n, store_done_fn *done, void *arg)
{
    struct store_pg *s = (struct store_pg *)st;
    struct timeval tv = {STORE_PG_HOLD_MS / 1000, (STORE_PG_HOLD_MS % 1000) * 1000};

    s->ops = ops;
    s->nops = n;
    s->done = done;
    s->donearg = arg;
    s->sent = s->held = 0;
    if (s->state != STORE_PG_UP)
        evtimer_add(s->hold_ev, &tv);
    store_pg_next(s);
}

/* Whether a batch would go out now. */
static int
store_pg_available(const struct store *st)
{
    const struct store_pg *s = (const struct store_pg *)st;

    return s->state == STORE_PG_UP;
}

/* Make the shared schedule slots[0..n): at once before the loop runs, else queued. */
static int
store_pg_schedule_put(struct store *st, const struct store_slot *slots, size_t n, char *err,
                      size_t errlen)
{
    struct store_pg *s = (struct store_pg *)st;
    struct store_pg_sched c;
    size_t i, len = 0;
    char *p;

    if (s->check) {
        snprintf(err, errlen, "postgresql: checking only");
        return -1;
    }
    if (s->evbase == NULL) {
        struct store_pg_params pp;
        const char *values[8];
        PGresult *r;
        int ok;

        store_pg_slot_params(&pp, slots, n);
        if (store_pg_values(&pp, values) == -1) {
            free(pp.buf);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r = PQexecParams(s->pg, store_pg_slots_put, 6, NULL, values, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            store_pg_error(err, errlen, "cannot write the schedule", PQerrorMessage(s->pg));
        PQclear(r);
        free(pp.buf);
        return ok ? 0 : -1;
    }
    if (s->state != STORE_PG_UP) {
        snprintf(err, errlen, "postgresql: not connected; the shared schedule cannot change now");
        return -1;
    }
    for (i = 0; i < n; i++)
        len += strlen(slots[i].day) + strlen(slots[i].time) + strlen(slots[i].doctor) + 3;
    memset(&c, 0, sizeof c);
    c.slots = calloc(n + 1, sizeof *c.slots);
    c.strings = malloc(len + 1);
    if (c.slots == NULL || c.strings == NULL) {
        store_pg_sched_free(&c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0, p = c.strings; i < n; i++) {
        c.slots[i] = slots[i];
        c.slots[i].day = strcpy(p, slots[i].day);
        p += strlen(p) + 1;
        c.slots[i].time = strcpy(p, slots[i].time);
        p += strlen(p) + 1;
        c.slots[i].doctor = strcpy(p, slots[i].doctor);
        p += strlen(p) + 1;
    }
    c.n = n;
    store_pg_sched_free(&s->put);
    s->put = c;
    s->putting = 1;
    store_pg_next(s);
    return 0;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = store_pg_open,
    .load = store_pg_load,
    .write = store_pg_write,
    .close = store_pg_close,
    .blocking = 1,
    .attach = store_pg_attach,
    .submit = store_pg_submit,
    .available = store_pg_available,
    .schedule_get = store_pg_schedule_get,
    .schedule_put = store_pg_schedule_put,
};
