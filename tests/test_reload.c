/* test_reload.c: kill -HUP makes the real hcs re-read users.txt and availabilities.txt while
 * patients stay connected; waiting patients are told of the difference; bookings stand. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

static const struct fixture_user users[] = {
    {"ann", "pw-ann-1"},
    {"ben", "pw-ben-2"},
    {"cat", "pw-cat-3"},
};

static const struct fixture_slot slots[] = {
    {2, "Mon", "09am", "house", 41001},
    {3, "Tue", "10am", "grey", 41002},
    {5, "Wed", "11am", "house", 41001},
};

/* A center on the test data, started. */
static struct fixture *
start(void **state, const char *config)
{
    struct fixture_opts o = {0};

    o.users = users;
    o.nusers = sizeof users / sizeof users[0];
    o.slots = slots;
    o.nslots = sizeof slots / sizeof slots[0];
    o.config = config;
    return fixture_setup(state, &o);
}

/* Send SIGHUP and wait until hcs has written a line containing what on stderr. */
static void
reload(struct fixture *f, const char *what)
{
    size_t before = strlen(h_stderr(f->hcs));

    assert_int_equal(kill(f->hcs->pid, SIGHUP), 0);
    h_wait_stderr(f->hcs, before, what);
}

/* Replace availabilities.txt. */
static void
write_slots(struct fixture *f, const char *text)
{
    h_file(f->dir, "availabilities.txt", "%s", text);
}

/*
 * A new slot, a removed free slot and a changed free slot reach a waiting
 * patient as pushes (removed first, then added), and the list is the new
 * one; hcs says what changed in one line.
 */
static void
test_slots_change(void **state)
{
    struct fixture *f = start(state, NULL);
    struct tconn *w =
        fixture_waiter(f, "ann", "pw-ann-1", "slots 3\n2 Mon 09am\n3 Tue 10am\n5 Wed 11am\n");
    struct tconn *c;

    write_slots(f, "3 Tue 03pm grey 41002\n5 Wed 11am house 41001\n9 Fri 01pm grey 41002\n");
    reload(f, "reload: 1 slot added, 1 removed, 1 changed; 0 users added, 0 removed");
    tc_expect(w, "* removed 2");
    tc_expect(w, "* removed 3");
    tc_expect(w, "* added 3 Tue 03pm");
    tc_expect(w, "* added 9 Fri 01pm");
    c = fixture_login(f, "ben", "pw-ben-2");
    tc_sendf(c, "available\n");
    tc_expect(c, "slots 3");
    tc_expect(c, "3 Tue 03pm");
    tc_expect(c, "5 Wed 11am");
    tc_expect(c, "9 Fri 01pm");
    tc_sendf(c, "selection 9\n");
    tc_expect(c, "grey 41002");
    tc_expect(w, "* reserved 9");
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "error already-booked 9");
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment 9 Fri 01pm grey 41002");
    tc_close(c);
    tc_close(w);
    fixture_stop(f);
}

/* A bad file changes nothing: hcs names the line, patients hear nothing, the list stays. */
static void
test_bad_file_changes_nothing(void **state)
{
    struct fixture *f = start(state, NULL);
    struct tconn *w =
        fixture_waiter(f, "ann", "pw-ann-1", "slots 3\n2 Mon 09am\n3 Tue 10am\n5 Wed 11am\n");
    struct tconn *c;

    write_slots(f, "2 Mon 09am house 41001\n9 Fri\n");
    reload(f, "availabilities.txt:2: expected 5 fields");
    if (strstr(h_stderr(f->hcs), "nothing changed") == NULL)
        h_fail("hcs did not say that nothing changed");
    c = fixture_login(f, "ben", "pw-ben-2");
    tc_sendf(c, "selection 3\n");
    tc_expect(c, "grey 41002");
    /* The first line w reads after the bad reload is the push of that booking. */
    tc_expect(w, "* reserved 3");
    tc_close(c);
    tc_close(w);
    fixture_stop(f);
}

/*
 * A booked slot that leaves the file, or changes there, stays exactly as
 * its patient was told until it is cancelled; then it is gone, or becomes
 * the new row (told as added).
 */
static void
test_booked_slot_kept(void **state)
{
    struct fixture *f = start(state, NULL);
    struct tconn *a = fixture_login(f, "ann", "pw-ann-1");
    struct tconn *b = fixture_login(f, "ben", "pw-ben-2");
    struct tconn *w;

    tc_sendf(a, "selection 2\n");
    tc_expect(a, "house 41001");
    tc_sendf(b, "selection 3\n");
    tc_expect(b, "grey 41002");
    w = fixture_waiter(f, "cat", "pw-cat-3", "slots 1\n5 Wed 11am\n");
    /* Slot 2 leaves; slot 3 moves to another day. */
    write_slots(f, "3 Sat 08am grey 41002\n5 Wed 11am house 41001\n");
    reload(f, "reload: 0 slots added, 0 removed, 0 changed");
    if (strstr(h_stderr(f->hcs), "slot 2 booked by ann is no longer in the file") == NULL ||
        strstr(h_stderr(f->hcs), "slot 3 booked by ben is changed in the file") == NULL)
        h_fail("hcs did not name the bookings it kept");
    tc_sendf(a, "appointment\n");
    tc_expect(a, "appointment 2 Mon 09am house 41001");
    tc_sendf(b, "appointment\n");
    tc_expect(b, "appointment 3 Tue 10am grey 41002");
    /* Cancelled, slot 2 is gone and slot 3 is the new row. */
    tc_sendf(a, "cancel\n");
    tc_expect(a, "cancelled 2");
    tc_sendf(a, "selection 2\n");
    tc_expect(a, "notavailable");
    tc_sendf(b, "cancel\n");
    tc_expect(b, "cancelled 3");
    tc_expect(w, "* added 3 Sat 08am");
    tc_sendf(b, "available\n");
    tc_expect(b, "slots 2");
    tc_expect(b, "5 Wed 11am");
    tc_expect(b, "3 Sat 08am");
    tc_close(a);
    tc_close(b);
    tc_close(w);
    fixture_stop(f);
}

/* A user who leaves users.txt cannot log in again but keeps its booking; a new one can. */
static void
test_users_change(void **state)
{
    struct fixture *f = start(state, NULL);
    struct tconn *a = fixture_login(f, "ann", "pw-ann-1");
    struct tconn *c;

    tc_sendf(a, "selection 5\n");
    tc_expect(a, "house 41001");
    h_file(f->dir, "users.txt", "ben pw-ben-2\ncat pw-cat-3\ndan pw-dan-4\n");
    reload(f, "0 slots added, 0 removed, 0 changed; 1 user added, 1 removed");
    /* ann's session goes on, with its booking. */
    tc_sendf(a, "appointment\n");
    tc_expect(a, "appointment 5 Wed 11am house 41001");
    c = tc_connect(f->port);
    tc_sendf(c, "authenticate ann pw-ann-1\n");
    tc_expect(c, "failure");
    tc_expect_eof(c);
    tc_close(c);
    h_wait_stderr(f->hcs, 0, "failed login for ann from 127.0.0.1");
    c = fixture_login(f, "dan", "pw-dan-4");
    tc_sendf(c, "selection 5\n");
    tc_expect(c, "notavailable");
    tc_close(c);
    tc_close(a);
    fixture_stop(f);
}

/* With a store, a reload keeps every booking and a restart after it finds them. */
static void
test_reload_with_store(void **state)
{
    struct fixture *f = start(state, "state = state.db\n");
    struct tconn *a = fixture_login(f, "ann", "pw-ann-1");

    tc_sendf(a, "selection 3\n");
    tc_expect(a, "grey 41002");
    write_slots(f, "3 Tue 10am grey 41002\n7 Thu 02pm grey 41002\n");
    reload(f, "reload: 1 slot added, 2 removed, 0 changed");
    tc_close(a);
    fixture_stop(f);
    fixture_start(f);
    a = fixture_login(f, "ann", "pw-ann-1");
    tc_sendf(a, "appointment\n");
    tc_expect(a, "appointment 3 Tue 10am grey 41002");
    tc_sendf(a, "available\n");
    tc_expect(a, "slots 1");
    tc_expect(a, "7 Thu 02pm");
    tc_close(a);
    fixture_stop(f);
}

#define PROMPT "Please enter the preferred appointment index and press enter: "

/*
 * Done means of issue 9: the real patient program waits at its prompt,
 * availabilities.txt gains a slot, kill -HUP, and the patient shows the new
 * slot and books it.
 */
static void
test_patient_sees_new_slot(void **state)
{
    struct fixture *f = start(state, NULL);
    const char *conf = fixture_patient(f->dir, 1, f->port, "ann", "pw-ann-1", "acme\n",
                                       "timeout_ms = 300\nudp_retries = 0\n");
    struct hproc *p = h_start("patient1", NULL, "patient", "--config", conf, NULL);

    h_wait_prefix(p, "Phase 2: The following appointments are available for Patient 1:");
    h_expect(p, "2 Mon 09am");
    h_expect(p, "3 Tue 10am");
    h_expect(p, "5 Wed 11am");
    h_expect_text(p, PROMPT);
    write_slots(f, "2 Mon 09am house 41001\n3 Tue 10am grey 41002\n5 Wed 11am house 41001\n"
                   "9 Fri 01pm grey 41002\n");
    reload(f, "reload: 1 slot added, 0 removed, 0 changed");
    h_wait_prefix(p, "Phase 2: Appointment 9 Fri 01pm has just been added to the schedule.");
    h_send(p, "9\n");
    h_wait_prefix(p, "Phase 2: The requested appointment is available and reserved to Patient 1. "
                     "The assigned doctor port number is 41002.");
    h_close_in(p);
    h_wait(p);
    fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_slots_change, fixture_teardown),
        cmocka_unit_test_teardown(test_bad_file_changes_nothing, fixture_teardown),
        cmocka_unit_test_teardown(test_booked_slot_kept, fixture_teardown),
        cmocka_unit_test_teardown(test_users_change, fixture_teardown),
        cmocka_unit_test_teardown(test_reload_with_store, fixture_teardown),
        cmocka_unit_test_teardown(test_patient_sees_new_slot, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
