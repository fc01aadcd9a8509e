/* test_store.c: the store contract, the same cases against every backend (memory, sqlite,
 * postgresql on a throwaway server of the test's own). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pgtest.h"
#include "store.h"

/* One backend under test. */
struct backend {
    enum store_kind kind;
    int durable; /* what was written is there after a close and an open */
    int bytes;   /* names may hold any byte, not only UTF-8 */
};

static const struct backend memory_backend = {STORE_MEMORY, 0, 1};
static const struct backend sqlite_backend = {STORE_SQLITE, 1, 1};
static const struct backend pg_backend = {STORE_POSTGRESQL, 1, 0};

/* The store of one test, and where it lives. */
struct fixture {
    const struct backend *b;
    char dir[64];
    char path[96];
    struct store_params params;
    struct store *s;
};

/* Open (or reopen) the fixture's store. */
static void
fixture_open(struct fixture *f)
{
    char err[256];

    f->s = store_open(&f->params, err, sizeof err);
    if (f->s == NULL)
        fail_msg("store_open: %s", err);
}

/* A new, empty store of the backend in the prestate. */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->b = *state;
    snprintf(f->dir, sizeof f->dir, "%s/hcs-store.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
    f->params.kind = f->b->kind;
    f->params.path = f->path;
    if (f->b->kind == STORE_POSTGRESQL && (f->params.dsn = pgtest_newdb()) == NULL)
        fail_msg("no PostgreSQL database for the test");
    fixture_open(f);
    *state = f;
    return 0;
}

/* Close the store and remove its folder. */
static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    store_close(f->s);
    snprintf(path, sizeof path, "%s-wal", f->path);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", f->path);
    unlink(path);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A booking of index by user, of a slot described after its index. */
static struct store_op
put(uint32_t index, const char *user)
{
    char day[16], doctor[32];
    struct store_booking b;
    struct store_op op;

    snprintf(day, sizeof day, "d%u", index % 7);
    snprintf(doctor, sizeof doctor, "doc%u", index % 3);
    b = (struct store_booking){index, user, day, "10am", doctor, 41000 + index % 3};
    store_op_put(&op, &b, NULL);
    op.refused = 1; /* the backend must say */
    return op;
}

/* The removal of the booking of index. */
static struct store_op
del(uint32_t index)
{
    struct store_op op;

    store_op_del(&op, index, NULL);
    op.refused = 1;
    return op;
}

/* What load saw: "index user\n" per booking, in the order given. */
struct seen {
    char text[8192];
    size_t len;
    size_t n;
};

/* store_load callback: note one booking; its slot must be described as put() did. */
static int
seen_add(void *arg, const struct store_booking *b)
{
    struct seen *s = arg;
    char day[16], doctor[32];
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%u %s\n", b->index, b->user);

    snprintf(day, sizeof day, "d%u", b->index % 7);
    snprintf(doctor, sizeof doctor, "doc%u", b->index % 3);
    assert_string_equal(b->day, day);
    assert_string_equal(b->time, "10am");
    assert_string_equal(b->doctor, doctor);
    assert_int_equal(b->port, 41000 + b->index % 3);

    assert_true(n > 0 && (size_t)n < sizeof s->text - s->len);
    s->len += (size_t)n;
    s->n++;
    return 0;
}

/* Every booking of the store, as text sorted by slot (backends need not sort). */
static const char *
bookings(struct fixture *f)
{
    static struct seen s;
    char err[256], *lines[256], *p, *save = NULL;
    static char sorted[8192];
    size_t n = 0, i, j, len = 0;

    memset(&s, 0, sizeof s);
    if (store_load(f->s, seen_add, &s, err, sizeof err) == -1)
        fail_msg("store_load: %s", err);
    for (p = strtok_r(s.text, "\n", &save); p != NULL && n < 256; p = strtok_r(NULL, "\n", &save))
        lines[n++] = p;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && strtoul(lines[j - 1], NULL, 10) > strtoul(lines[j], NULL, 10); j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    sorted[0] = '\0';
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(sorted + len, sizeof sorted - len, "%s\n", lines[i]);
    return sorted;
}

/* Write a batch that must succeed. */
static void
write_ok(struct fixture *f, struct store_op *ops, size_t n)
{
    char err[256] = "";

    if (store_write(f->s, ops, n, err, sizeof err) != STORE_OK)
        fail_msg("store_write: %s", err);
}

/* A new store holds nothing and says which backend it is. */
static void
test_empty(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(bookings(f), "");
    assert_string_equal(store_name(f->s), f->b->kind == STORE_MEMORY   ? "memory"
                                          : f->b->kind == STORE_SQLITE ? "sqlite"
                                                                       : "postgresql");
    assert_int_equal(store_blocking(f->s), f->b->kind != STORE_MEMORY);
    assert_int_equal(store_shared(f->s), f->b->kind == STORE_POSTGRESQL);
}

/* Bookings written are loaded back; a removal removes only its slot. */
static void
test_put_del(void **state)
{
    struct fixture *f = *state;
    struct store_op ops[3] = {put(5, "alice"), put(7, "bob"), put(4294967295u, "carol")};
    struct store_op d = del(7);

    write_ok(f, ops, 3);
    assert_false(ops[0].refused || ops[1].refused || ops[2].refused);
    assert_string_equal(bookings(f), "5 alice\n7 bob\n4294967295 carol\n");
    write_ok(f, &d, 1);
    assert_false(d.refused);
    assert_string_equal(bookings(f), "5 alice\n4294967295 carol\n");
}

/* A slot already booked is refused, in a later batch or in the same one; the first holder stays. */
static void
test_slot_taken_is_refused(void **state)
{
    struct fixture *f = *state;
    struct store_op first = put(5, "alice");
    struct store_op later = put(5, "bob");
    struct store_op same[3] = {put(9, "carol"), put(9, "dave"), put(10, "erin")};

    write_ok(f, &first, 1);
    write_ok(f, &later, 1);
    assert_false(first.refused);
    assert_true(later.refused);
    write_ok(f, same, 3);
    assert_false(same[0].refused);
    assert_true(same[1].refused);
    assert_false(same[2].refused);
    assert_string_equal(bookings(f), "5 alice\n9 carol\n10 erin\n");
}

/* A user who holds a booking is refused a second one, in a later batch or the same one. */
static void
test_user_holds_one(void **state)
{
    struct fixture *f = *state;
    struct store_op first = put(5, "alice");
    struct store_op second = put(6, "alice");
    struct store_op same[3] = {put(8, "bob"), put(9, "bob"), put(10, "carol")};
    struct store_op move[2] = {del(5), put(6, "alice")};

    write_ok(f, &first, 1);
    write_ok(f, &second, 1);
    assert_false(first.refused);
    assert_true(second.refused);
    write_ok(f, same, 3);
    assert_false(same[0].refused);
    assert_true(same[1].refused);
    assert_false(same[2].refused);
    assert_string_equal(bookings(f), "5 alice\n8 bob\n10 carol\n");
    /* Given back first, another slot may be booked, in the same batch. */
    write_ok(f, move, 2);
    assert_false(move[1].refused);
    assert_string_equal(bookings(f), "6 alice\n8 bob\n10 carol\n");
}

/* A removal and a new booking of the slot in one batch apply in order. */
static void
test_batch_in_order(void **state)
{
    struct fixture *f = *state;
    struct store_op first = put(3, "alice");
    struct store_op batch[4] = {del(3), put(3, "bob"), del(3), put(3, "carol")};

    write_ok(f, &first, 1);
    write_ok(f, batch, 4);
    assert_false(batch[1].refused || batch[3].refused);
    assert_string_equal(bookings(f), "3 carol\n");
}

/* Removing a slot nobody holds is not an error and changes nothing. */
static void
test_del_absent(void **state)
{
    struct fixture *f = *state;
    struct store_op p = put(2, "alice");
    struct store_op d = del(8);

    write_ok(f, &p, 1);
    write_ok(f, &d, 1);
    assert_false(d.refused);
    assert_string_equal(bookings(f), "2 alice\n");
}

/* User names are kept byte for byte (quotes, bytes from 0x80 up); the op holds its own copy. */
static void
test_names_kept(void **state)
{
    struct fixture *f = *state;
    char name[32];
    struct store_op p;

    snprintf(name, sizeof name, "j\xc3\xb6rg'\"x\\{,}%s", f->b->bytes ? "\x9b" : "");
    p = put(1, name);
    memset(name, 'z', sizeof name - 1);
    write_ok(f, &p, 1);
    assert_string_equal(bookings(f),
                        f->b->bytes ? "1 j\xc3\xb6rg'\"x\\{,}\x9b\n" : "1 j\xc3\xb6rg'\"x\\{,}\n");
}

/* Many bookings in one batch; a durable store has them after a reopen. */
static void
test_many_and_reopen(void **state)
{
    struct fixture *f = *state;
    static struct store_op ops[200];
    static char names[200][16];
    size_t i;
    struct seen s;
    char err[256];

    for (i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "u%zu", i);
        ops[i] = put((uint32_t)(i + 1), names[i]);
    }
    write_ok(f, ops, 200);
    for (i = 0; i < 200; i++)
        assert_false(ops[i].refused);
    store_close(f->s);
    fixture_open(f);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_load(f->s, seen_add, &s, err, sizeof err), 0);
    assert_int_equal(s.n, f->b->durable ? 200 : 0);
}

/* A load callback that stops after the first row: the load stops and fails. */
static int
stop_first(void *arg, const struct store_booking *b)
{
    (void)b;
    ++*(int *)arg;
    return -1;
}

/* load stops when its callback says so. */
static void
test_load_stops(void **state)
{
    struct fixture *f = *state;
    struct store_op ops[2] = {put(1, "a"), put(2, "b")};
    char err[256];
    int calls = 0;

    write_ok(f, ops, 2);
    assert_int_equal(store_load(f->s, stop_first, &calls, err, sizeof err), -1);
    assert_int_equal(calls, 1);
}

/*
 * SQLite only: another process holding the file's write lock makes a batch
 * fail as transient, with nothing of it written; once the lock is gone the
 * same batch is written whole.
 */
static void
test_sqlite_locked_is_transient(void **state)
{
    struct fixture *f = *state;
    struct store_op ops[2] = {put(1, "alice"), put(2, "bob")};
    char err[256] = "";
    sqlite3 *other;

    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_write(f->s, ops, 2, err, sizeof err), STORE_TRANSIENT);
    assert_non_null(strstr(err, "locked"));
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_string_equal(bookings(f), "");
    write_ok(f, ops, 2);
    assert_string_equal(bookings(f), "1 alice\n2 bob\n");
    sqlite3_close(other);
}

/* SQLite only: a state file deleted while open stops the writes (fatal), nothing is confirmed. */
static void
test_sqlite_deleted_is_fatal(void **state)
{
    struct fixture *f = *state;
    struct store_op first = put(1, "alice"), second = put(2, "bob");
    char err[256] = "";

    write_ok(f, &first, 1);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(store_write(f->s, &second, 1, err, sizeof err), STORE_FATAL);
    assert_non_null(strstr(err, "was deleted or replaced"));
}

/*
 * PostgreSQL only: a server that went away makes a batch fail as
 * transient, with nothing of it written; the store opened again (the
 * center reconnects on its own: tested with the real hcs) writes it whole.
 */
static void
test_pg_gone_is_transient(void **state)
{
    struct fixture *f = *state;
    struct store_op ops[2] = {put(1, "alice"), put(2, "bob")};
    char err[256] = "";

    assert_int_equal(pgtest_stop(), 0);
    assert_int_equal(store_write(f->s, ops, 2, err, sizeof err), STORE_TRANSIENT);
    assert_non_null(strstr(err, "postgresql"));
    assert_int_equal(pgtest_restart(), 0);
    store_close(f->s);
    fixture_open(f);
    assert_string_equal(bookings(f), "");
    write_ok(f, ops, 2);
    assert_string_equal(bookings(f), "1 alice\n2 bob\n");
}

/*
 * PostgreSQL only: the schema is made once, with its version; --check
 * creates nothing and a database without the schema is refused; one of
 * another version is refused; a password in the dsn is refused unread.
 */
static void
test_pg_schema(void **state)
{
    struct fixture *f = *state;
    struct store_params p = f->params;
    char err[256] = "";

    assert_int_equal(pgtest_count(f->params.dsn, "SELECT version FROM hcs_schema"), 1);
    p.dsn = pgtest_newdb();
    assert_non_null(p.dsn);
    p.check = 1;
    assert_null(store_open(&p, err, sizeof err));
    assert_non_null(strstr(err, "has no hcs schema"));
    assert_int_equal(pgtest_count(p.dsn, "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                                         "'hcs%'"),
                     0);
    assert_int_equal(pgtest_exec(f->params.dsn, "UPDATE hcs_schema SET version = 7"), 0);
    p = f->params;
    assert_null(store_open(&p, err, sizeof err));
    assert_non_null(strstr(err, "version 7"));
    p.dsn = "host=/nonexistent password=secret123 dbname=x";
    assert_null(store_open(&p, err, sizeof err));
    assert_non_null(strstr(err, "holds a password"));
    assert_null(strstr(err, "secret123"));
}

/* The contract: every case against one backend. */
#define CONTRACT(b)                                                                                \
    cmocka_unit_test_prestate_setup_teardown(test_empty, setup, teardown, (void *)&b),             \
        cmocka_unit_test_prestate_setup_teardown(test_put_del, setup, teardown, (void *)&b),       \
        cmocka_unit_test_prestate_setup_teardown(test_slot_taken_is_refused, setup, teardown,      \
                                                 (void *)&b),                                      \
        cmocka_unit_test_prestate_setup_teardown(test_user_holds_one, setup, teardown,             \
                                                 (void *)&b),                                      \
        cmocka_unit_test_prestate_setup_teardown(test_batch_in_order, setup, teardown,             \
                                                 (void *)&b),                                      \
        cmocka_unit_test_prestate_setup_teardown(test_del_absent, setup, teardown, (void *)&b),    \
        cmocka_unit_test_prestate_setup_teardown(test_names_kept, setup, teardown, (void *)&b),    \
        cmocka_unit_test_prestate_setup_teardown(test_many_and_reopen, setup, teardown,            \
                                                 (void *)&b),                                      \
        cmocka_unit_test_prestate_setup_teardown(test_load_stops, setup, teardown, (void *)&b)

int
main(void)
{
    const struct CMUnitTest memory[] = {CONTRACT(memory_backend)};
    const struct CMUnitTest sqlite[] = {
        CONTRACT(sqlite_backend),
        cmocka_unit_test_prestate_setup_teardown(test_sqlite_locked_is_transient, setup, teardown,
                                                 (void *)&sqlite_backend),
        cmocka_unit_test_prestate_setup_teardown(test_sqlite_deleted_is_fatal, setup, teardown,
                                                 (void *)&sqlite_backend),
    };
    const struct CMUnitTest pg[] = {
        CONTRACT(pg_backend),
        cmocka_unit_test_prestate_setup_teardown(test_pg_gone_is_transient, setup, teardown,
                                                 (void *)&pg_backend),
        cmocka_unit_test_prestate_setup_teardown(test_pg_schema, setup, teardown,
                                                 (void *)&pg_backend),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("store memory", memory, NULL, NULL);
    failed += cmocka_run_group_tests_name("store sqlite", sqlite, NULL, NULL);
    if (pgtest_start() == -1)
        return failed + 1;
    failed += cmocka_run_group_tests_name("store postgresql", pg, NULL, NULL);
    return failed;
}
