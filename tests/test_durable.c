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

#include "harness.h"
#include "tcpclient.h"

#define NUSERS 600
#define NSLOTS 400
#define ROUNDS 12
#define PER_ROUND 40 /* patients booking at once in a round */

/* The data folder of one test and the running center. */
struct world {
    const char *dir;
    const char *conf;
    struct hproc *hcs;
    unsigned port;
};

/* What the test knows of each user: what it was told it holds. */
static uint32_t told[NUSERS];  /* slot the center confirmed, 0 for none */
static uint32_t asked[NUSERS]; /* slot a selection without an answer asked for */
static int unsure[NUSERS];     /* a selection or cancel went unanswered */

/* Write users, slots and a center.conf with a state file. */
static void
world_make(struct world *w, const char *extra)
{
    FILE *fp;
    int i;

    memset(w, 0, sizeof *w);
    w->dir = h_tmpdir();
    fp = fopen(h_path(w->dir, "users.txt"), "w");
    assert_non_null(fp);
    for (i = 0; i < NUSERS; i++)
        fprintf(fp, "u%d pw%d\n", i, i);
    fclose(fp);
    chmod(h_path(w->dir, "users.txt"), 0600);
    fp = fopen(h_path(w->dir, "availabilities.txt"), "w");
    assert_non_null(fp);
    for (i = 1; i <= NSLOTS; i++)
        fprintf(fp, "%d Mon 10am doc%d %d\n", i, i % 3, 41000 + i % 3);
    fclose(fp);
    w->conf = h_file(w->dir, "center.conf",
                     "[center]\nport = 0\nusers = users.txt\navailabilities = availabilities.txt\n"
                     "state = state.db\n%s",
                     extra != NULL ? extra : "");
    memset(told, 0, sizeof told);
    memset(asked, 0, sizeof asked);
    memset(unsure, 0, sizeof unsure);
}

/* Start hcs on the folder's config and read its port. */
static void
world_start(struct world *w)
{
    w->hcs = h_start("hcs", NULL, "hcs", "-q", "--config", w->conf, NULL);
    w->port = h_port(h_expect_prefix(w->hcs, "Phase 1: The Health Center Server has port number "));
    assert_int_not_equal(w->port, 0);
}

/* A logged-in connection for user i. */
static struct tconn *
login(struct world *w, int i)
{
    struct tconn *c = tc_connect(w->port);

    tc_sendf(c, "authenticate u%d pw%d\n", i, i);
    tc_expect(c, "success");
    return c;
}

/*
 * Every user's appointment must match what the test was told: a confirmed
 * booking is there; an unanswered request may or may not have happened, but
 * nothing else may appear; and no slot is held twice.
 */
static void
world_verify(struct world *w)
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
        c = login(w, i);
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
    struct world w;
    struct tconn *c;
    int i;

    (void)state;
    world_make(&w, NULL);
    world_start(&w);
    for (i = 0; i < 5; i++) {
        c = login(&w, i);
        tc_sendf(c, "selection %d\n", 10 + i);
        tc_expectf(c, "doc%d %d", (10 + i) % 3, 41000 + (10 + i) % 3);
        told[i] = (uint32_t)(10 + i);
        tc_close(c);
    }
    c = login(&w, 2);
    tc_sendf(c, "cancel\n");
    tc_expect(c, "cancelled 12");
    told[2] = 0;
    tc_close(c);
    assert_int_equal(h_stop(w.hcs), 0);

    world_start(&w);
    unsure[2] = 1; /* look at u2 too: it must hold nothing */
    asked[2] = 0;
    world_verify(&w);
    c = login(&w, 7);
    tc_sendf(c, "selection 11\n");
    tc_expect(c, "notavailable");
    tc_sendf(c, "selection 12\n");
    tc_expect(c, "doc0 41000");
    tc_close(c);
    assert_int_equal(h_stop(w.hcs), 0);
}

/* Kill hcs with SIGKILL at random moments while patients book and cancel. */
static void
test_sigkill_rounds(void **state)
{
    struct tconn *c[PER_ROUND];
    int who[PER_ROUND];
    unsigned seed = (unsigned)h_now_ms();
    struct world w;
    int r, i, answered;

    (void)state;
    srand(seed);
    print_message("seed %u\n", seed);
    world_make(&w, NULL);
    for (r = 0; r < ROUNDS; r++) {
        int stop_after = rand() % (PER_ROUND + 1);

        world_start(&w);
        world_verify(&w);
        /* Log everyone in first, then fire all requests at once. */
        for (i = 0; i < PER_ROUND; i++) {
            who[i] = (r * PER_ROUND + i * 7) % NUSERS;
            c[i] = login(&w, who[i]);
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
        kill(w.hcs->pid, SIGKILL);
        assert_int_equal(h_wait(w.hcs), 128 + SIGKILL);
        for (i = 0; i < PER_ROUND; i++)
            tc_close(c[i]);
    }
    world_start(&w);
    world_verify(&w);
    assert_int_equal(h_stop(w.hcs), 0);
}

/* A file that is not a state store stops the center; the file is left alone. */
static void
test_corrupt_store_refused(void **state)
{
    struct world w;
    struct stat before, after;
    const char *path;

    (void)state;
    world_make(&w, NULL);
    path = h_file(w.dir, "state.db", "this is not a database, and it must stay as it is\n");
    assert_int_equal(stat(path, &before), 0);
    w.hcs = h_start("hcs", NULL, "hcs", "--config", w.conf, NULL);
    assert_int_equal(h_wait(w.hcs), 1);
    if (strstr(h_stderr(w.hcs), "state.db: not an hcs state file") == NULL)
        h_fail("no clear message about the state file");
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
}

/* A store of another version stops the center with a clear message; the file stays. */
static void
test_other_version_refused(void **state)
{
    struct world w;
    struct stat before, after;
    const char *path;
    sqlite3 *db;

    (void)state;
    world_make(&w, NULL);
    path = h_path(w.dir, "state.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE bookings (slot INTEGER PRIMARY KEY, user TEXT);"
                                  "INSERT INTO bookings VALUES (3, 'u1');"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(stat(path, &before), 0);
    w.hcs = h_start("hcs", NULL, "hcs", "--config", w.conf, NULL);
    assert_int_equal(h_wait(w.hcs), 1);
    if (strstr(h_stderr(w.hcs), "state.db: state file of version 2, this hcs reads version 1") ==
        NULL)
        h_fail("no clear message about the store's version");
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
}

/* A booking of a slot that left availabilities.txt is reported and kept. */
static void
test_vanished_slot_reported(void **state)
{
    struct world w;
    struct tconn *c;
    FILE *fp;
    int i;

    (void)state;
    world_make(&w, "durability = full\n");
    world_start(&w);
    c = login(&w, 1);
    tc_sendf(c, "selection %d\n", NSLOTS);
    tc_expectf(c, "doc%d %d", NSLOTS % 3, 41000 + NSLOTS % 3);
    tc_close(c);
    assert_int_equal(h_stop(w.hcs), 0);

    /* Drop the last slot from the file. */
    fp = fopen(h_path(w.dir, "availabilities.txt"), "w");
    assert_non_null(fp);
    for (i = 1; i < NSLOTS; i++)
        fprintf(fp, "%d Mon 10am doc%d %d\n", i, i % 3, 41000 + i % 3);
    fclose(fp);
    world_start(&w);
    if (strstr(h_stderr(w.hcs), "booking of slot 400 by u1: no such slot") == NULL) {
        /* The warning comes before the start-up line, so it is already there. */
        h_fail("the vanished booking was not reported");
    }
    assert_int_equal(h_stop(w.hcs), 0);

    /* Put it back: the booking was kept. */
    fp = fopen(h_path(w.dir, "availabilities.txt"), "a");
    assert_non_null(fp);
    fprintf(fp, "%d Mon 10am doc%d %d\n", NSLOTS, NSLOTS % 3, 41000 + NSLOTS % 3);
    fclose(fp);
    world_start(&w);
    c = login(&w, 1);
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment %d Mon 10am doc%d %d", NSLOTS, NSLOTS % 3, 41000 + NSLOTS % 3);
    tc_close(c);
    assert_int_equal(h_stop(w.hcs), 0);
}

static int
teardown(void **state)
{
    (void)state;
    tc_cleanup();
    h_cleanup();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_restart_keeps_bookings, teardown),
        cmocka_unit_test_teardown(test_sigkill_rounds, teardown),
        cmocka_unit_test_teardown(test_corrupt_store_refused, teardown),
        cmocka_unit_test_teardown(test_other_version_refused, teardown),
        cmocka_unit_test_teardown(test_vanished_slot_reported, teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
