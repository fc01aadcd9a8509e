/* test_durable.c: bookings survive restarts and SIGKILL (issue 5, the state store). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define NUSERS 600
#define NSLOTS 400
#define ROUNDS 12
#define PER_ROUND 40 /* patients booking at once in a round */

/* What the test knows of each user: what it was told it holds. */
static uint32_t told[NUSERS];  /* slot the center confirmed, 0 for none */
static uint32_t asked[NUSERS]; /* slot a selection without an answer asked for */
static int unsure[NUSERS];     /* a selection or cancel went unanswered */

/* The doctor names of the slots. */
static const char *const doctors[] = {"doc0", "doc1", "doc2"};

/* Write users, slots and a center.conf with a state file (and the extra lines); hcs is
 * started by fixture_start. The test knows of no booking yet. */
static struct fixture *
durable_setup(void **state, const char *extra)
{
    static struct fixture_user users[NUSERS];
    static struct fixture_slot slots[NSLOTS];
    struct fixture_opts o = {
        .users = users,
        .nusers = NUSERS,
        .slots = slots,
        .nslots = NSLOTS,
        .config = h_str("state = state.db\n%s", extra != NULL ? extra : ""),
        .flag = "-q",
        .files_only = 1,
    };
    int i;

    for (i = 0; i < NUSERS; i++)
        users[i] = (struct fixture_user){h_str("u%d", i), h_str("pw%d", i)};
    for (i = 1; i <= NSLOTS; i++)
        slots[i - 1] = (struct fixture_slot){(unsigned)i, "Mon", "10am", doctors[i % 3],
                                             (unsigned)(41000 + i % 3)};
    memset(told, 0, sizeof told);
    memset(asked, 0, sizeof asked);
    memset(unsure, 0, sizeof unsure);
    return fixture_setup(state, &o);
}

/*
 * Every user's appointment must match what the test was told: a confirmed
 * booking is there; an unanswered request may or may not have happened, but
 * nothing else may appear; and no slot is held twice.
 */
static void
world_verify(struct fixture *f)
{
    static int holder[NSLOTS + 1];
    const char *line;
    unsigned slot;
    int i;

    memset(holder, -1, sizeof holder);
    for (i = 0; i < NUSERS; i++) {
        struct tconn *c;

        if (told[i] == 0 && !unsure[i])
            continue;
        c = fixture_login(f, h_str("u%d", i), h_str("pw%d", i));
        tc_sendf(c, "appointment\n");
        line = tc_line(c, h_timeout_ms);
        if (line == NULL)
            h_fail("u%d: no answer to appointment", i);
        if (strcmp(line, "appointment none") == 0) {
            slot = 0;
        } else if (sscanf(line, "appointment %u ", &slot) != 1 || slot == 0 || slot > NSLOTS) {
            h_fail("u%d: bad answer \"%s\"", i, line);
        }
        if (!unsure[i] && slot != told[i])
            h_fail("u%d was told it holds %u, the center says \"%s\"", i, told[i], line);
        if (unsure[i] && slot != told[i] && slot != asked[i])
            h_fail("u%d holds %u, which it neither was told of nor asked for (%u, %u)", i, slot,
                   told[i], asked[i]);
        if (slot != 0) {
            if (holder[slot] != -1)
                h_fail("slot %u held by both u%d and u%d", slot, holder[slot], i);
            holder[slot] = i;
        }
        told[i] = slot; /* what is on disk now is what the next round builds on */
        unsure[i] = 0;
        tc_close(c);
    }
}

/* Start, then stop cleanly: confirmed bookings and cancellations are there. */
static void
test_restart_keeps_bookings(void **state)
{
    struct fixture *f;
    struct tconn *c;
    int i;

    f = durable_setup(state, NULL);
    fixture_start(f);
    for (i = 0; i < 5; i++) {
        c = fixture_login(f, h_str("u%d", i), h_str("pw%d", i));
        tc_sendf(c, "selection %d\n", 10 + i);
        tc_expectf(c, "doc%d %d", (10 + i) % 3, 41000 + (10 + i) % 3);
        told[i] = (uint32_t)(10 + i);
        tc_close(c);
    }
    c = fixture_login(f, "u2", "pw2");
    tc_sendf(c, "cancel\n");
    tc_expect(c, "cancelled 12");
    told[2] = 0;
    tc_close(c);
    fixture_stop(f);

    fixture_start(f);
    unsure[2] = 1; /* look at u2 too: it must hold nothing */
    asked[2] = 0;
    world_verify(f);
    c = fixture_login(f, "u7", "pw7");
    tc_sendf(c, "selection 11\n");
    tc_expect(c, "notavailable");
    tc_sendf(c, "selection 12\n");
    tc_expect(c, "doc0 41000");
    tc_close(c);
    fixture_stop(f);
}

/* Kill hcs with SIGKILL at random moments while patients book and cancel. */
static void
test_sigkill_rounds(void **state)
{
    struct tconn *c[PER_ROUND];
    int who[PER_ROUND];
    unsigned seed = (unsigned)h_now_ms();
    struct fixture *f;
    int r, i, answered;

    srand(seed);
    print_message("seed %u\n", seed);
    f = durable_setup(state, NULL);
    for (r = 0; r < ROUNDS; r++) {
        int stop_after = rand() % (PER_ROUND + 1);

        fixture_start(f);
        world_verify(f);
        /* Log everyone in first, then fire all requests at once. */
        for (i = 0; i < PER_ROUND; i++) {
            who[i] = (r * PER_ROUND + i * 7) % NUSERS;
            c[i] = fixture_login(f, h_str("u%d", who[i]), h_str("pw%d", who[i]));
        }
        for (i = 0; i < PER_ROUND; i++) {
            int u = who[i];
            unsure[u] = 1;
            if (told[u] != 0) {
                asked[u] = 0;
                tc_sendf(c[i], "cancel\n");
            } else {
                asked[u] = (uint32_t)(1 + rand() % NSLOTS);
                tc_sendf(c[i], "selection %u\n", asked[u]);
            }
        }
        /* Read answers until stop_after of them came, then kill. */
        for (answered = 0, i = 0; i < PER_ROUND && answered < stop_after; i++) {
            const char *line = tc_line(c[i], h_timeout_ms);
            int u = who[i];
            unsigned n;

            if (line == NULL)
                h_fail("round %d: u%d got no answer", r, u);
            answered++;
            if (strncmp(line, "cancelled ", 10) == 0) {
                told[u] = 0;
            } else if (strcmp(line, "notavailable") == 0) {
                asked[u] = 0;
            } else if (sscanf(line, "doc%u ", &n) == 1) {
                told[u] = asked[u];
            } else {
                h_fail("round %d: u%d: unexpected \"%s\"", r, u, line);
            }
            unsure[u] = 0;
        }
        kill(f->hcs->pid, SIGKILL);
        assert_int_equal(h_wait(f->hcs), 128 + SIGKILL);
        for (i = 0; i < PER_ROUND; i++)
            tc_close(c[i]);
    }
    fixture_start(f);
    world_verify(f);
    fixture_stop(f);
}

/* A file that is not a state store stops the center; the file is left alone. */
static void
test_corrupt_store_refused(void **state)
{
    struct fixture *f;
    struct stat before, after;
    const char *path;

    f = durable_setup(state, NULL);
    path = h_file(f->dir, "state.db", "this is not a database, and it must stay as it is\n");
    assert_int_equal(stat(path, &before), 0);
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    assert_int_equal(h_wait(f->hcs), 1);
    if (strstr(h_stderr(f->hcs), "state.db: not an hcs state file") == NULL)
        h_fail("no clear message about the state file");
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
}

/* A store of another version stops the center with a clear message; the file stays. */
static void
test_other_version_refused(void **state)
{
    struct fixture *f;
    struct stat before, after;
    const char *path;
    sqlite3 *db;

    f = durable_setup(state, NULL);
    path = h_path(f->dir, "state.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE bookings (slot INTEGER PRIMARY KEY, user TEXT);"
                                  "INSERT INTO bookings VALUES (3, 'u1');"
                                  "PRAGMA application_id = 1751348017;"
                                  "PRAGMA user_version = 3;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(stat(path, &before), 0);
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    assert_int_equal(h_wait(f->hcs), 1);
    if (strstr(h_stderr(f->hcs), "state.db: state file of version 3, this hcs reads version 2") ==
        NULL)
        h_fail("no clear message about the store's version");
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
}

/* Write availabilities.txt with every slot but skip (0: all of them). */
static void
write_slots(struct fixture *f, int skip)
{
    FILE *fp = fopen(h_path(f->dir, "availabilities.txt"), "w");
    int i;

    assert_non_null(fp);
    for (i = 1; i <= NSLOTS; i++)
        if (i != skip)
            fprintf(fp, "%d Mon 10am doc%d %d\n", i, i % 3, 41000 + i % 3);
    fclose(fp);
}

/* Users holding more than one row of the store (must be none), as "user:n ..." text. */
static const char *
double_holders(struct fixture *f)
{
    static char out[256];
    sqlite3_stmt *st;
    sqlite3 *db;
    size_t len = 0;

    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(h_path(f->dir, "state.db"), &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT user, count(*) FROM bookings GROUP BY user "
                                        "HAVING count(*) > 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && len < sizeof out - 80)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s:%d ", sqlite3_column_text(st, 0),
                                sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/*
 * The swap of issue 9: u1 books slot 400; the row leaves the file and hcs
 * restarts; u1 must not get a second slot, nor anyone slot 400; the row
 * comes back and hcs restarts; u1 still holds exactly slot 400, slot 3 is
 * free and u2 books it. No user ever holds two rows of the store.
 */
static void
test_booking_never_swapped(void **state)
{
    struct fixture *f;
    struct tconn *c, *d;
    struct stat st;

    f = durable_setup(state, "durability = full\n");
    fixture_start(f);
    assert_int_equal(stat(h_path(f->dir, "state.db"), &st), 0);
    if ((st.st_mode & 077) != 0)
        h_fail("state.db has mode %03o, not 0600", (unsigned)(st.st_mode & 0777));
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "selection %d\n", NSLOTS);
    tc_expectf(c, "doc%d %d", NSLOTS % 3, 41000 + NSLOTS % 3);
    tc_close(c);
    fixture_stop(f);

    write_slots(f, NSLOTS);
    fixture_start(f);
    /* The warning comes before the start-up line, so it is already there. */
    if (strstr(h_stderr(f->hcs), "slot 400 booked by u1 is no longer in") == NULL)
        h_fail("the vanished booking was not reported");
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment %d Mon 10am doc%d %d", NSLOTS, NSLOTS % 3, 41000 + NSLOTS % 3);
    tc_sendf(c, "selection 3\n");
    tc_expectf(c, "error already-booked %d", NSLOTS);
    d = fixture_login(f, "u2", "pw2");
    tc_sendf(d, "selection %d\n", NSLOTS);
    tc_expect(d, "notavailable");
    tc_close(d);
    tc_close(c);
    fixture_stop(f);
    assert_string_equal(double_holders(f), "");

    write_slots(f, 0);
    fixture_start(f);
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment %d Mon 10am doc%d %d", NSLOTS, NSLOTS % 3, 41000 + NSLOTS % 3);
    d = fixture_login(f, "u2", "pw2");
    tc_sendf(d, "selection 3\n");
    tc_expectf(d, "doc%d %d", 3 % 3, 41000 + 3 % 3);
    tc_close(d);
    /* Given back, the slot is free again and u1 may book another. */
    tc_sendf(c, "cancel\n");
    tc_expectf(c, "cancelled %d", NSLOTS);
    tc_sendf(c, "selection 4\n");
    tc_expectf(c, "doc%d %d", 4 % 3, 41000 + 4 % 3);
    tc_close(c);
    fixture_stop(f);
    assert_string_equal(double_holders(f), "");
}

/* Write a version 1 store (slot and user only) with the given rows. */
static void
write_v1(struct fixture *f, const char *rows)
{
    char sql[512];
    sqlite3 *db;

    snprintf(sql, sizeof sql,
             "CREATE TABLE bookings (slot INTEGER PRIMARY KEY, user TEXT NOT NULL);"
             "%s PRAGMA user_version = 1;",
             rows);
    assert_int_equal(sqlite3_open(h_path(f->dir, "state.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A version 1 store is upgraded in place and its bookings kept. */
static void
test_v1_store_upgraded(void **state)
{
    struct fixture *f;
    struct tconn *c;

    f = durable_setup(state, NULL);
    write_v1(f, "INSERT INTO bookings VALUES (3, 'u1'); INSERT INTO bookings VALUES (5, 'u2');");
    fixture_start(f);
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment 3 Mon 10am doc%d %d", 3 % 3, 41000 + 3 % 3);
    tc_sendf(c, "selection 5\n");
    tc_expect(c, "error already-booked 3");
    tc_close(c);
    fixture_stop(f);
    /* A second start reads it as version 2. */
    fixture_start(f);
    c = fixture_login(f, "u2", "pw2");
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment 5 Mon 10am doc%d %d", 5 % 3, 41000 + 5 % 3);
    tc_close(c);
    fixture_stop(f);
}

/* A version 1 store in which a user holds two slots is refused and left as it was. */
static void
test_v1_double_refused(void **state)
{
    struct fixture *f;
    struct stat before, after;

    f = durable_setup(state, NULL);
    write_v1(f, "INSERT INTO bookings VALUES (2, 'u1'); INSERT INTO bookings VALUES (3, 'u1');");
    assert_int_equal(stat(h_path(f->dir, "state.db"), &before), 0);
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    assert_int_equal(h_wait(f->hcs), 1);
    if (strstr(h_stderr(f->hcs), "user u1 holds slots 2 3") == NULL)
        h_fail("no clear message about the double booking");
    assert_int_equal(stat(h_path(f->dir, "state.db"), &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
}

/* hcs --check creates no state file, and changes none that exists. */
static void
test_check_changes_nothing(void **state)
{
    struct fixture *f;
    struct hproc *p;
    struct stat before, after;

    f = durable_setup(state, NULL);
    p = h_start("check", NULL, "hcs", "--check", "--config", f->conf, NULL);
    h_wait_prefix(p, f->conf);
    assert_int_equal(h_wait(p), 0);
    if (access(h_path(f->dir, "state.db"), F_OK) == 0)
        h_fail("hcs --check created the state file");
    /* An empty file (as a start leaves it before SQLite writes) is checked as a new store. */
    h_file(f->dir, "state.db", "%s", "");
    p = h_start("check", NULL, "hcs", "--check", "--config", f->conf, NULL);
    h_wait_prefix(p, f->conf);
    assert_int_equal(h_wait(p), 0);
    assert_int_equal(stat(h_path(f->dir, "state.db"), &after), 0);
    assert_int_equal(after.st_size, 0);
    unlink(h_path(f->dir, "state.db"));
    write_v1(f, "INSERT INTO bookings VALUES (3, 'u1');");
    assert_int_equal(stat(h_path(f->dir, "state.db"), &before), 0);
    p = h_start("check", NULL, "hcs", "--check", "--config", f->conf, NULL);
    h_wait_prefix(p, f->conf);
    assert_int_equal(h_wait(p), 0);
    assert_int_equal(stat(h_path(f->dir, "state.db"), &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
    if (access(h_str("%s-wal", h_path(f->dir, "state.db")), F_OK) == 0)
        h_fail("hcs --check left a WAL file");
}

/*
 * Issue 10, item 6: the state file deleted while hcs runs stops the center
 * loudly instead of confirming bookings into a file nobody will read; the
 * booking asked for afterwards is never confirmed.
 */
static void
test_deleted_store_stops(void **state)
{
    struct fixture *f;
    struct tconn *c, *d;
    const char *line;

    f = durable_setup(state, NULL);
    fixture_start(f);
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "selection 1\n");
    tc_expectf(c, "doc%d %d", 1 % 3, 41000 + 1 % 3);
    d = fixture_login(f, "u2", "pw2");
    unlink(h_path(f->dir, "state.db"));
    unlink(h_path(f->dir, "state.db-wal"));
    unlink(h_path(f->dir, "state.db-shm"));
    tc_sendf(d, "selection 2\n");
    if ((line = tc_line(d, H_TIMEOUT_MS)) != NULL)
        h_fail("a booking was confirmed into a deleted state file: \"%s\"", line);
    assert_int_equal(h_wait(f->hcs), 1);
    if (strstr(h_stderr(f->hcs), "state.db was deleted or replaced while hcs ran") == NULL)
        h_fail("hcs did not say why it stopped");
    tc_close(c);
    tc_close(d);
}

/*
 * Issue 10, item 7: another process holding the store's lock is a
 * transient failure: the booking in flight waits and is confirmed once
 * the lock is gone, a new selection meanwhile is answered "error
 * unavailable", and the center carries on.
 */
static void
test_locked_store_is_unavailable(void **state)
{
    struct fixture *f;
    struct tconn *c, *d;
    sqlite3 *db;
    const char *line;
    long long t0;

    f = durable_setup(state, NULL);
    fixture_start(f);
    assert_int_equal(sqlite3_open(h_path(f->dir, "state.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    c = fixture_login(f, "u1", "pw1");
    tc_sendf(c, "selection 1\n");
    d = fixture_login(f, "u2", "pw2");
    /* The writer waits 1 s for the lock, then says so: from then on changes are refused. */
    h_wait_stderr(f->hcs, 0, "database is locked");
    tc_sendf(d, "selection 2\n");
    tc_expect(d, "error unavailable");
    if (tc_line(c, 100) != NULL)
        h_fail("a booking was confirmed while the store was locked");
    tc_sendf(d, "appointment\n");
    tc_expect(d, "appointment none");
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    tc_expectf(c, "doc%d %d", 1 % 3, 41000 + 1 % 3);
    /* Written, the store takes changes again. */
    t0 = h_now_ms();
    for (;;) {
        tc_sendf(d, "selection 2\n");
        line = tc_line(d, H_TIMEOUT_MS);
        if (line != NULL && strcmp(line, "doc2 41002") == 0)
            break;
        if (line == NULL || strcmp(line, "error unavailable") != 0 || h_now_ms() - t0 > 5000)
            h_fail("the store did not take changes again (\"%s\")", line != NULL ? line : "");
        tc_line(c, 100); /* wait a moment for the next attempt */
    }
    tc_close(c);
    tc_close(d);
    fixture_stop(f);
    if (strstr(h_stderr(f->hcs), "database is locked") == NULL ||
        strstr(h_stderr(f->hcs), "store available again") == NULL)
        h_fail("hcs did not say the store was locked and then available again");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_restart_keeps_bookings, fixture_teardown),
        cmocka_unit_test_teardown(test_sigkill_rounds, fixture_teardown),
        cmocka_unit_test_teardown(test_corrupt_store_refused, fixture_teardown),
        cmocka_unit_test_teardown(test_other_version_refused, fixture_teardown),
        cmocka_unit_test_teardown(test_booking_never_swapped, fixture_teardown),
        cmocka_unit_test_teardown(test_v1_store_upgraded, fixture_teardown),
        cmocka_unit_test_teardown(test_v1_double_refused, fixture_teardown),
        cmocka_unit_test_teardown(test_check_changes_nothing, fixture_teardown),
        cmocka_unit_test_teardown(test_deleted_store_stops, fixture_teardown),
        cmocka_unit_test_teardown(test_locked_store_is_unavailable, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
