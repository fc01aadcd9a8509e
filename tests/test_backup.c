/* test_backup.c: an online backup of the SQLite state taken with the sqlite3 shell
 * (".backup") while patients book through the real hcs holds every booking that was
 * confirmed before the backup began, nothing that was not confirmed, and a center started
 * on the restored file answers those bookings as told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define BK_USERS 300  /* users, slots and connections: user i books slot i */
#define BK_BEFORE 100 /* bookings confirmed before the backup begins */
#define BK_BURST 100  /* bookings sent at once as the backup begins */
#define BK_SQLITE3 "/usr/bin/sqlite3"

/* What the test knows of each booking. */
enum bk_state { BK_NONE, BK_BEFORE_BACKUP, BK_DURING_BACKUP };

/* Read the reply to user i's selection of slot i: it must be the booking. */
static void
expect_booked(struct tconn *c, unsigned i)
{
    tc_expectf(c, "doc%u %u", i % 3, 41000 + i % 3);
}

/* The rows of the bookings table of file path: states[slot] must say the booking was
 * confirmed, with the user of that slot. Returns the number of rows. */
static unsigned
read_backup(const char *path, const enum bk_state *states)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    unsigned n = 0;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT slot, user FROM bookings", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        unsigned slot = (unsigned)sqlite3_column_int(st, 0);
        const char *user = (const char *)sqlite3_column_text(st, 1);

        if (slot < 1 || slot > BK_USERS || states[slot] == BK_NONE)
            h_fail("the backup holds slot %u, never confirmed", slot);
        assert_string_equal(user, h_str("u%u", slot));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Whether the backup's rows include slot: a bitmap filled by read_slots. */
static void
read_slots(const char *path, unsigned char *has)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT slot FROM bookings", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int slot = sqlite3_column_int(st, 0);

        if (slot >= 1 && slot <= BK_USERS)
            has[slot] = 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/*
 * 300 patients logged in; 100 book and are answered; then the backup starts, 100 more
 * bookings are sent at that instant and the rest follow one by one while it runs. The
 * backup holds all of the first 100, and only confirmed bookings; hcs on the restored file
 * answers each of the first 100 with its appointment.
 */
static void
test_backup_during_storm(void **state)
{
    static struct fixture_user users[BK_USERS];
    static struct fixture_slot slots[BK_USERS];
    static struct tconn *conns[BK_USERS + 1];
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    enum bk_state *states = h_alloc((BK_USERS + 1) * sizeof *states);
    unsigned char *has = h_alloc(BK_USERS + 1);
    struct fixture_opts o = {0}, ro = {0};
    struct fixture *f, *r;
    struct hproc *bk;
    const char *backup;
    unsigned i, next, during = 0, rows;

    if (access(BK_SQLITE3, X_OK) != 0)
        h_fail("%s is missing (scripts/deps.sh installs sqlite3)", BK_SQLITE3);
    for (i = 0; i < BK_USERS; i++) {
        users[i].name = h_str("u%u", i + 1);
        users[i].password = h_str("pw-u%u", i + 1);
        slots[i].index = i + 1;
        slots[i].day = days[i % 6];
        slots[i].time = "09am";
        slots[i].doctor = h_str("doc%u", (i + 1) % 3);
        slots[i].port = 41000 + (i + 1) % 3;
    }
    o.users = users;
    o.nusers = BK_USERS;
    o.slots = slots;
    o.nslots = BK_USERS;
    o.config = "state = state.db\nmax_clients_per_address = 1000\n";
    o.flag = "-q";
    f = fixture_setup(state, &o);
    for (i = 1; i <= BK_USERS; i++)
        conns[i] = fixture_login(f, h_str("u%u", i), h_str("pw-u%u", i));

    /* Confirmed before the backup begins. */
    for (i = 1; i <= BK_BEFORE; i++)
        tc_sendf(conns[i], "selection %u\n", i);
    for (i = 1; i <= BK_BEFORE; i++) {
        expect_booked(conns[i], i);
        states[i] = BK_BEFORE_BACKUP;
    }

    /* The backup begins, with a burst of bookings in flight. */
    backup = h_path(f->dir, "backup.db");
    for (i = BK_BEFORE + 1; i <= BK_BEFORE + BK_BURST; i++)
        tc_sendf(conns[i], "selection %u\n", i);
    bk = h_start("sqlite3", NULL, BK_SQLITE3, h_path(f->dir, "state.db"),
                 h_str(".backup %s", backup), NULL);
    for (i = BK_BEFORE + 1; i <= BK_BEFORE + BK_BURST; i++) {
        expect_booked(conns[i], i);
        states[i] = BK_DURING_BACKUP;
    }
    /* The rest one by one, counting those answered while the backup still runs. */
    for (next = BK_BEFORE + BK_BURST + 1; next <= BK_USERS; next++) {
        tc_sendf(conns[next], "selection %u\n", next);
        expect_booked(conns[next], next);
        states[next] = BK_DURING_BACKUP;
        h_pump(0);
        if (bk->out != -1)
            during++;
    }
    assert_int_equal(h_wait(bk), 0);
    assert_string_equal(h_stderr(bk), "");

    rows = read_backup(backup, states);
    read_slots(backup, has);
    for (i = 1; i <= BK_BEFORE; i++)
        if (!has[i])
            h_fail("slot %u, confirmed before the backup began, is not in it", i);
    printf("backup: %u rows (%u confirmed before it began, %u bookings answered while it ran)\n",
           rows, BK_BEFORE, during);
    fixture_stop(f);

    /* Restore: a center on a copy of the backup answers the bookings as told. */
    ro = o;
    ro.files_only = 1;
    ro.flag = NULL;
    r = fixture_setup(state, &ro);
    {
        const char *data;
        FILE *in = fopen(backup, "rb"), *out = fopen(h_path(r->dir, "state.db"), "wb");
        char buf[8192];
        size_t n;

        assert_non_null(in);
        assert_non_null(out);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        assert_int_equal(fclose(out), 0);
        data = h_path(r->dir, "state.db");
        assert_int_equal(access(data, R_OK), 0);
    }
    fixture_start(r);
    for (i = 1; i <= BK_BEFORE; i++) {
        struct tconn *c = fixture_login(r, h_str("u%u", i), h_str("pw-u%u", i));

        tc_sendf(c, "appointment\n");
        tc_expectf(c, "appointment %u %s 09am doc%u %u", i, days[(i - 1) % 6], i % 3,
                   41000 + i % 3);
        tc_close(c);
    }
    fixture_stop(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_backup_during_storm, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
