/* test_client.c: unit tests of the patient's line-driven session (no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

/* Start a session in mode with --slot slot, echo on, and log in. */
static void
start(struct client *c, enum client_mode mode, uint32_t slot, int echo)
{
    struct client_params p = {7, "alice", "s3cret", "gold", mode, slot, echo, 2};

    assert_int_equal(client_init(c, &p), 0);
    client_connected(c, "127.0.0.1", 5555);
    assert_int_equal(c->state, CLIENT_AUTH);
    assert_string_equal(c->wire.data, "authenticate alice s3cret\n");
    assert_null(strstr(c->screen.data, "s3cret"));
    c->wire.len = 0;
    c->screen.len = 0;
}

/* Feed a center line (a literal). */
static void
line(struct client *c, const char *s)
{
    client_center_line(c, s, strlen(s));
}

/* Take the screen text so far as a string (valid until the next call). */
static const char *
screen(struct client *c)
{
    static char buf[8192];
    size_t n = c->screen.len < sizeof buf - 1 ? c->screen.len : sizeof buf - 1;

    memcpy(buf, c->screen.data == NULL ? "" : c->screen.data, n);
    buf[n] = '\0';
    c->screen.len = 0;
    return buf;
}

/* Take the wire text so far. */
static const char *
wire(struct client *c)
{
    static char buf[1024];
    size_t n = c->wire.len;

    memcpy(buf, c->wire.data == NULL ? "" : c->wire.data, n);
    buf[n] = '\0';
    c->wire.len = 0;
    return buf;
}

/* Log in and get a list "5 Mon 01pm, 2 Tue 02pm, 9 Wed 03pm" (not ascending). */
static void
to_prompt(struct client *c, int echo)
{
    start(c, CLIENT_BOOK, 0, echo);
    line(c, "success");
    assert_string_equal(wire(c), "available\n");
    line(c, "slots 3");
    line(c, "5 Mon 01pm");
    line(c, "2 Tue 02pm");
    line(c, "9 Wed 03pm");
    assert_int_equal(c->state, CLIENT_PROMPT);
    assert_string_equal(screen(c),
                        "Phase 1: Patient 7 authentication result: success.\n"
                        "Phase 1: End of Phase 1 for Patient 7.\n"
                        "Phase 2: The following appointments are available for Patient 7:\n"
                        "5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n"
                        "Please enter the preferred appointment index and press enter: ");
}

/* The exit statuses are the README's numbers. */
static void
test_exit_statuses(void **state)
{
    (void)state;
    assert_int_equal(PATIENT_EXIT_OK, 0);
    assert_int_equal(PATIENT_EXIT_CONFIG, 1);
    assert_int_equal(PATIENT_EXIT_AUTH, 2);
    assert_int_equal(PATIENT_EXIT_NOBOOKING, 3);
    assert_int_equal(PATIENT_EXIT_NOPRICE, 4);
    assert_int_equal(PATIENT_EXIT_CENTER, 5);
}

static void
test_failure(void **state)
{
    struct client c;

    (void)state;
    start(&c, CLIENT_BOOK, 0, 1);
    line(&c, "failure");
    assert_int_equal(c.state, CLIENT_DONE);
    assert_int_equal(c.status, PATIENT_EXIT_AUTH);
    assert_string_equal(screen(&c), "Phase 1: Patient 7 authentication result: failure.\n");
    client_free(&c);
}

static void
test_input(void **state)
{
    struct client c;

    (void)state;
    to_prompt(&c, 1);
    client_input_line(&c, "3", 1);
    assert_string_equal(screen(&c), "3\nPhase 2: 3 is not one of the available appointment "
                                    "indices.\nPlease enter the preferred appointment index "
                                    "and press enter: ");
    client_input_line(&c, "+2", 2);
    assert_int_equal(c.state, CLIENT_PROMPT);
    screen(&c);
    client_input_line(&c, "2\r", 2);
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(screen(&c), "2\n");
    assert_string_equal(wire(&c), "selection 2\n");
    line(&c, "* reserved 5");          /* applied silently */
    line(&c, "* released 3 Thu 04pm"); /* applied silently */
    assert_string_equal(screen(&c), "");
    line(&c, "notavailable");
    assert_string_equal(screen(&c),
                        "Phase 2: The requested appointment from Patient 7 is not available.\n"
                        "Phase 2: The following appointments are available for Patient 7:\n"
                        "3 Thu 04pm\n9 Wed 03pm\n"
                        "Please enter the preferred appointment index and press enter: ");
    client_input_line(&c, "9", 1);
    assert_string_equal(screen(&c), "9\n");
    line(&c, "doc1 41000");
    assert_int_equal(c.state, CLIENT_DOCTOR);
    assert_string_equal(c.doctor, "doc1");
    assert_int_equal(c.port, 41000);
    client_doctor_ready(&c, "127.0.0.1", 6000);
    client_doctor_sent(&c, "127.0.0.1");
    assert_int_equal(client_doctor_timeout(&c), 1);
    client_doctor_sent(&c, "127.0.0.1");
    client_doctor_reply(&c, "30\n", 3, 0);
    assert_int_equal(c.status, PATIENT_EXIT_OK);
    assert_string_equal(screen(&c),
                        "Phase 2: The requested appointment is available and reserved to Patient "
                        "7. The assigned doctor port number is 41000.\n"
                        "Phase 3: Patient 7 has a dynamic UDP port number 6000 and IP address "
                        "127.0.0.1.\n"
                        "Phase 3: The cost estimation request from Patient 7 with insurance plan "
                        "gold has been sent to the doctor with port number 41000 and IP address "
                        "127.0.0.1.\n"
                        "Phase 3: Patient 7 receives 30$ estimation cost from doctor with port "
                        "number 41000 and name doc1.\n"
                        "Phase 3: End of Phase 3 for Patient 7.\n");
    client_free(&c);
}

static void
test_pushes_at_prompt(void **state)
{
    struct client c;

    (void)state;
    to_prompt(&c, 0);
    line(&c, "* reserved 77");
    assert_string_equal(screen(&c), "");
    line(&c, "* reserved 2");
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 2 was just taken by another patient.\n"
                        "Phase 2: The following appointments are available for Patient 7:\n"
                        "5 Mon 01pm\n9 Wed 03pm\n"
                        "Please enter the preferred appointment index and press enter: ");
    line(&c, "* released 7 Fri 10am");
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 7 Fri 10am has just become available.\n"
                        "Phase 2: The following appointments are available for Patient 7:\n"
                        "5 Mon 01pm\n7 Fri 10am\n9 Wed 03pm\n"
                        "Please enter the preferred appointment index and press enter: ");
    line(&c, "* released 1 Fri 09am");
    assert_non_null(strstr(screen(&c), "1 Fri 09am\n5 Mon 01pm\n7 Fri 10am\n9 Wed 03pm\n"));
    line(&c, "* released 7 Fri 10am");
    assert_string_equal(screen(&c), "");
    client_input_line(&c, "2", 1); /* no echo: stdin is a terminal */
    assert_string_equal(screen(&c), "Phase 2: 2 is not one of the available appointment indices.\n"
                                    "Please enter the preferred appointment index and press "
                                    "enter: ");
    line(&c, "* reserved 1");
    line(&c, "* reserved 5");
    line(&c, "* reserved 7");
    screen(&c);
    line(&c, "* reserved 9");
    assert_int_equal(c.state, CLIENT_DONE);
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 9 was just taken by another patient.\n"
                        "Phase 2: No appointments are available for Patient 7. Exiting...\n");
    client_free(&c);
}

static void
test_slot_option(void **state)
{
    struct client c;

    (void)state;
    start(&c, CLIENT_BOOK, 9, 1);
    line(&c, "success");
    line(&c, "slots 2");
    line(&c, "5 Mon 01pm");
    line(&c, "9 Wed 03pm");
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(wire(&c), "available\nselection 9\n");
    assert_non_null(strstr(screen(&c), "press enter: 9\n"));
    line(&c, "notavailable");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(
        screen(&c),
        "Phase 2: The requested appointment from Patient 7 is not available. Exiting...\n");
    client_free(&c);

    start(&c, CLIENT_BOOK, 4, 1);
    line(&c, "success");
    line(&c, "slots 1");
    line(&c, "5 Mon 01pm");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_non_null(strstr(screen(&c), "press enter: 4\nPhase 2: Appointment 4 is not in the list "
                                       "of available appointments for Patient 7. Exiting...\n"));
    client_free(&c);
}

static void
test_protocol_errors(void **state)
{
    static const char *bad[] = {"slots",      "slots -1", "slots 1 ", "hello", "error",
                                "* reserved", "success",  "5 Mon",    "doc1 0"};
    struct client c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(&c, CLIENT_BOOK, 0, 1);
        line(&c, "success");
        line(&c, bad[i]);
        assert_int_equal(c.state, CLIENT_DONE);
        assert_int_equal(c.status, PATIENT_EXIT_CENTER);
        assert_memory_equal(c.diag, "phase 2: ", 9);
        client_free(&c);
    }
    start(&c, CLIENT_BOOK, 0, 1);
    line(&c, "error busy");
    assert_int_equal(c.status, PATIENT_EXIT_CENTER);
    assert_string_equal(c.diag,
                        "phase 1: the center is busy (too many patients at once); try again later");
    client_free(&c);
    to_prompt(&c, 1);
    client_center_closed(&c, NULL);
    assert_int_equal(c.status, PATIENT_EXIT_CENTER);
    assert_string_equal(c.diag, "phase 2: the center closed the connection");
    assert_string_equal(screen(&c), "\n");
    client_free(&c);
    to_prompt(&c, 1);
    client_center_timeout(&c, 100); /* not waiting on the center at the prompt */
    assert_int_equal(c.state, CLIENT_PROMPT);
    client_input_eof(&c);
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    client_free(&c);
}

static void
test_doctor(void **state)
{
    struct client c;

    (void)state;
    start(&c, CLIENT_BOOK, 2, 1);
    line(&c, "success");
    line(&c, "slots 1");
    line(&c, "2 Mon 01pm");
    line(&c, "doc2 42000");
    screen(&c);
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 1);
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 1);
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_non_null(strstr(screen(&c), "Phase 3: The doctor at port 42000 did not answer Patient "
                                       "7 after 3 tries. Exiting...\n"));
    client_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_statuses), cmocka_unit_test(test_failure),
        cmocka_unit_test(test_input),         cmocka_unit_test(test_pushes_at_prompt),
        cmocka_unit_test(test_slot_option),   cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_doctor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
