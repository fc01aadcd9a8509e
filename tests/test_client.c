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

#define PROMPT "Please enter the preferred appointment index and press enter: "
#define HEADER "Phase 2: The following appointments are available for Patient 7:\n"

/* Start a session with these parameters and log in. */
static void
start_with(struct client *c, const struct client_params *p)
{
    assert_int_equal(client_init(c, p), 0);
    client_connected(c, "127.0.0.1", 5555);
    assert_int_equal(c->state, CLIENT_AUTH);
    assert_string_equal(c->wire.data, "authenticate alice s3cret\n");
    assert_null(strstr(c->screen.data, "s3cret"));
    c->wire.len = 0;
    c->screen.len = 0;
}

/* Start a session in mode with --slot slot, echo on or off, and log in. */
static void
start(struct client *c, enum client_mode mode, uint32_t slot, int echo)
{
    struct client_params p = {.id = 7,
                              .user = "alice",
                              .password = "s3cret",
                              .plan = "gold",
                              .mode = mode,
                              .slot = slot,
                              .echo = echo,
                              .retries = 2};

    start_with(c, &p);
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

/* Log in as a user who holds nothing: after success, appointment none, then the list is asked. */
static void
login_free(struct client *c)
{
    line(c, "success");
    assert_int_equal(c->state, CLIENT_QUERY);
    assert_string_equal(wire(c), "appointment\n");
    line(c, "appointment none");
    assert_int_equal(c->state, CLIENT_LIST);
    assert_string_equal(wire(c), "available\n");
}

/* Log in and get a list "5 Mon 01pm, 2 Tue 02pm, 9 Wed 03pm" (not ascending). */
static void
to_prompt(struct client *c, int echo)
{
    start(c, CLIENT_BOOK, 0, echo);
    login_free(c);
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
    assert_int_equal(PATIENT_EXIT_TLS, 5);
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
    client_input_line(&c, "2", 1); /* no echo: stdin is a terminal; 2 was taken above */
    assert_string_equal(screen(&c), "Phase 2: Appointment 2 was just taken by another patient.\n"
                                    "Please enter the preferred appointment index and press "
                                    "enter: ");
    client_input_line(&c, "3", 1); /* never listed */
    assert_string_equal(screen(&c), "Phase 2: 3 is not one of the available appointment indices.\n"
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
    login_free(&c);
    line(&c, "slots 2");
    line(&c, "5 Mon 01pm");
    line(&c, "9 Wed 03pm");
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(wire(&c), "selection 9\n");
    assert_non_null(strstr(screen(&c), "press enter: 9\n"));
    line(&c, "notavailable");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(
        screen(&c),
        "Phase 2: The requested appointment from Patient 7 is not available. Exiting...\n");
    client_free(&c);

    start(&c, CLIENT_BOOK, 4, 1);
    login_free(&c);
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
        login_free(&c);
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
    login_free(&c);
    line(&c, "slots 1");
    line(&c, "2 Mon 01pm");
    line(&c, "doc2 42000");
    screen(&c);
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 1);
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 1);
    assert_non_null(strstr(screen(&c), "Phase 3: The cost estimation request from Patient 7"));
    client_doctor_sent(&c, "::1");
    assert_int_equal(client_doctor_timeout(&c), 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_string_equal(screen(&c),
                        "Phase 3: The doctor at port 42000 did not answer Patient 7 after 3 tries. "
                        "Exiting...\n"
                        "Phase 3: Appointment 2 stays booked for Patient 7 without a cost "
                        "estimate; see it with: patient --id 7 --show\n");
    client_free(&c);
}

/* Book slot 2 of doctor doc2 with --slot; the screen and the wire are emptied. */
static void
to_doctor(struct client *c, unsigned retries)
{
    struct client_params p = {.id = 7,
                              .user = "alice",
                              .password = "s3cret",
                              .plan = "gold",
                              .mode = CLIENT_BOOK,
                              .slot = 2,
                              .echo = 1,
                              .retries = retries};

    start_with(c, &p);
    login_free(c);
    line(c, "slots 1");
    line(c, "2 Mon 01pm");
    line(c, "doc2 42000");
    assert_int_equal(c->state, CLIENT_DOCTOR);
    client_doctor_ready(c, "127.0.0.1", 6000);
    client_doctor_sent(c, "127.0.0.1");
    screen(c);
    wire(c);
}

/* One try without an answer is "1 try"; a refusal ends at once; every no-price end keeps the
 * booking on the screen. */
static void
test_doctor_no_price(void **state)
{
    static const char kept[] = "Phase 3: Appointment 2 stays booked for Patient 7 without a "
                               "cost estimate; see it with: patient --id 7 --show\n";
    struct client c;

    (void)state;
    to_doctor(&c, 0);
    assert_int_equal(client_doctor_timeout(&c), 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_non_null(strstr(screen(&c), "did not answer Patient 7 after 1 try. Exiting...\n"));
    client_free(&c);

    to_doctor(&c, 3);
    client_doctor_refused(&c);
    assert_int_equal(c.state, CLIENT_DONE);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_string_equal(screen(&c),
                        "Phase 3: The doctor at port 42000 refused the request of Patient 7: no "
                        "doctor is running there. Exiting...\n"
                        "Phase 3: Appointment 2 stays booked for Patient 7 without a cost "
                        "estimate; see it with: patient --id 7 --show\n");
    assert_int_equal(client_doctor_timeout(&c), 0); /* finished: nothing more */
    assert_string_equal(screen(&c), "");
    client_free(&c);

    to_doctor(&c, 3);
    client_doctor_reply(&c, "error unknown-insurance", 23, 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_non_null(strstr(screen(&c), kept));
    client_free(&c);

    to_doctor(&c, 3);
    client_doctor_reply(&c, "error bad-request\n", 18, 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_non_null(strstr(screen(&c), kept));
    client_free(&c);

    to_doctor(&c, 3);
    client_doctor_reply(&c, "12x", 3, 0);
    assert_int_equal(c.status, PATIENT_EXIT_NOPRICE);
    assert_non_null(strstr(screen(&c), kept));
    client_free(&c);
}

/* A user who already holds a booking is told so before any list, with or without --slot. */
static void
test_already_held(void **state)
{
    static const char held[] = "Phase 2: Patient 7 already holds appointment 3 Tue 11am with grey "
                               "(port 42000); cancel it first with: patient --id 7 --cancel\n";
    struct client c;

    (void)state;
    start(&c, CLIENT_BOOK, 0, 1);
    line(&c, "success");
    assert_string_equal(wire(&c), "appointment\n");
    screen(&c);
    line(&c, "appointment 3 Tue 11am grey 42000");
    assert_int_equal(c.state, CLIENT_DONE);
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c), held);
    assert_string_equal(wire(&c), "");
    assert_string_equal(c.diag, "");
    client_free(&c);

    start(&c, CLIENT_BOOK, 5, 1);
    line(&c, "success");
    wire(&c);
    screen(&c);
    line(&c, "appointment 3 Tue 11am grey 42000");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c), held);
    assert_string_equal(wire(&c), "");
    client_free(&c);

    /* A race: booked elsewhere after the check, the selection is refused by the center. */
    to_prompt(&c, 1);
    client_input_line(&c, "9", 1);
    wire(&c);
    screen(&c);
    line(&c, "error already-booked 4");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c), "Phase 2: Patient 7 already holds appointment 4; cancel it "
                                    "first with: patient --id 7 --cancel\n");
    client_free(&c);

    /* Without its index it is a broken protocol; so is a list for an answer to appointment. */
    to_prompt(&c, 1);
    client_input_line(&c, "9", 1);
    line(&c, "error already-booked");
    assert_int_equal(c.status, PATIENT_EXIT_CENTER);
    assert_string_equal(c.diag, "phase 2: the center answered: error already-booked");
    client_free(&c);
    start(&c, CLIENT_BOOK, 0, 1);
    line(&c, "success");
    line(&c, "slots 1");
    assert_int_equal(c.status, PATIENT_EXIT_CENTER);
    client_free(&c);
}

/* The reasons of proto.h's table are told apart exactly; another one is shown escaped. */
static void
test_error_reasons(void **state)
{
    static const struct {
        const char *line;
        const char *diag;
    } cases[] = {
        {"error busy", "phase 1: the center is busy (too many patients at once); try again later"},
        {"error idle-timeout",
         "phase 1: the center ended the session: no input for too long (error idle-timeout)"},
        {"error auth-timeout", "phase 1: the center ended the session: authentication took too "
                               "long (error auth-timeout)"},
        {"error busy now", "phase 1: the center answered: error busy now"},
        {"error no-appointment", "phase 1: the center answered: error no-appointment"},
        {"error what-is-this", "phase 1: the center answered: error what-is-this"},
    };
    struct client c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        start(&c, CLIENT_BOOK, 0, 1);
        line(&c, cases[i].line);
        assert_int_equal(c.status, PATIENT_EXIT_CENTER);
        assert_string_equal(c.diag, cases[i].diag);
        client_free(&c);
    }
    start(&c, CLIENT_CANCEL, 0, 1);
    line(&c, "success");
    assert_string_equal(wire(&c), "cancel\n");
    screen(&c);
    line(&c, "error no-appointment");
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c), "Patient 7 has no appointment to cancel.\n");
    client_free(&c);
}

/* Blanks around the index are accepted; an empty answer shows the list again. */
static void
test_answer_blanks(void **state)
{
    struct client c;

    (void)state;
    to_prompt(&c, 1);
    client_input_line(&c, "", 0);
    assert_int_equal(c.state, CLIENT_PROMPT);
    assert_string_equal(screen(&c), "\n" HEADER "5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n" PROMPT);
    client_input_line(&c, " \t ", 3);
    assert_string_equal(screen(&c),
                        " \\x09 \n" HEADER "5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n" PROMPT);
    client_input_line(&c, "2 2", 3);
    assert_int_equal(c.state, CLIENT_PROMPT);
    assert_string_equal(screen(&c), "2 2\nPhase 2: 2 2 is not one of the available appointment "
                                    "indices.\n" PROMPT);
    client_input_line(&c, " 2 \r", 4);
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(screen(&c), " 2 \n");
    assert_string_equal(wire(&c), "selection 2\n");
    client_free(&c);

    to_prompt(&c, 0);
    client_input_line(&c, "\t9 ", 3);
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(wire(&c), "selection 9\n");
    client_free(&c);
}

/* Log in and get a list of n slots "1 Mon 09am" ... "n Mon 09am"; the screen is emptied. */
static void
to_prompt_n(struct client *c, unsigned n)
{
    char row[32];
    unsigned i;

    start(c, CLIENT_BOOK, 0, 0);
    login_free(c);
    snprintf(row, sizeof row, "slots %u", n);
    line(c, row);
    for (i = 1; i <= n; i++) {
        snprintf(row, sizeof row, "%u Mon 09am", i);
        line(c, row);
    }
    assert_int_equal(c->state, CLIENT_PROMPT);
    screen(c);
}

/* Past CLIENT_SHORTLIST slots a change prints one line and the prompt; at most, the list too. */
static void
test_long_list(void **state)
{
    struct client c;
    const char *s;

    (void)state;
    assert_int_equal(CLIENT_SHORTLIST, 10);
    to_prompt_n(&c, 12);
    line(&c, "* reserved 12");
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 12 was just taken by another patient.\n" PROMPT);
    line(&c, "* added 20 Sun 08am");
    assert_string_equal(screen(&c), "\nPhase 2: Appointment 20 Sun 08am has just been added to the "
                                    "schedule.\n" PROMPT);
    line(&c, "* removed 20");
    assert_string_equal(
        screen(&c), "\nPhase 2: Appointment 20 has just been removed from the schedule.\n" PROMPT);
    /* 11 slots still: one line. Down to 10: the whole list again. */
    line(&c, "* reserved 11");
    s = screen(&c);
    assert_non_null(strstr(s, "Phase 2: Appointment 11 was just taken by another patient.\n" HEADER
                              "1 Mon 09am\n2 Mon 09am\n"));
    assert_non_null(strstr(s, "\n10 Mon 09am\n" PROMPT));
    line(&c, "* released 11 Mon 09am");
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 11 Mon 09am has just become available.\n" PROMPT);
    /* On request, an empty answer shows all 11. */
    client_input_line(&c, "", 0);
    s = screen(&c);
    assert_memory_equal(s, HEADER "1 Mon 09am\n", strlen(HEADER "1 Mon 09am\n"));
    assert_non_null(strstr(s, "\n10 Mon 09am\n11 Mon 09am\n" PROMPT));
    /* A refused selection does not print the long list either. */
    line(&c, "* added 30 Tue 10am");
    screen(&c);
    client_input_line(&c, "3", 1);
    assert_string_equal(wire(&c), "selection 3\n");
    line(&c, "notavailable");
    assert_string_equal(screen(&c),
                        "Phase 2: The requested appointment from Patient 7 is not available.\n"
                        "Please enter the preferred appointment index and press enter: ");
    client_free(&c);
}

/* Slots added to and removed from the schedule are shown like taken and released ones. */
static void
test_added_removed(void **state)
{
    struct client c;

    (void)state;
    to_prompt(&c, 0);
    line(&c, "* added 4 Thu 04pm");
    assert_int_equal(c.state, CLIENT_PROMPT);
    assert_string_equal(
        screen(&c),
        "\nPhase 2: Appointment 4 Thu 04pm has just been added to the schedule.\n" HEADER
        "4 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n" PROMPT);
    line(&c, "* added 4 Thu 04pm"); /* already listed */
    assert_string_equal(screen(&c), "");
    line(&c, "* removed 5");
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 5 has just been removed from the schedule.\n" HEADER
                        "4 Thu 04pm\n2 Tue 02pm\n9 Wed 03pm\n" PROMPT);
    line(&c, "* removed 5"); /* not listed */
    assert_string_equal(screen(&c), "");
    client_input_line(&c, "5", 1);
    assert_string_equal(screen(&c),
                        "Phase 2: Appointment 5 was removed from the schedule.\n" PROMPT);
    /* It comes back: it can be chosen again. */
    line(&c, "* added 5 Fri 01pm");
    screen(&c);
    client_input_line(&c, "5", 1);
    assert_int_equal(c.state, CLIENT_SELECT);
    assert_string_equal(wire(&c), "selection 5\n");
    /* Refused: it was taken. */
    line(&c, "notavailable");
    screen(&c);
    client_input_line(&c, "5", 1);
    assert_string_equal(screen(&c),
                        "Phase 2: Appointment 5 was just taken by another patient.\n" PROMPT);
    /* The last ones go: none left. */
    line(&c, "* removed 4");
    line(&c, "* reserved 2");
    screen(&c);
    line(&c, "* removed 9");
    assert_int_equal(c.state, CLIENT_DONE);
    assert_int_equal(c.status, PATIENT_EXIT_NOBOOKING);
    assert_string_equal(screen(&c),
                        "\nPhase 2: Appointment 9 has just been removed from the schedule.\n"
                        "Phase 2: No appointments are available for Patient 7. Exiting...\n");
    client_free(&c);
}

/* With the shell's line editor the client prints no prompt and no line break before news. */
static void
test_editor(void **state)
{
    struct client_params p = {.id = 7,
                              .user = "alice",
                              .password = "s3cret",
                              .plan = "gold",
                              .mode = CLIENT_BOOK,
                              .retries = 2,
                              .editor = 1};
    struct client c;

    (void)state;
    start_with(&c, &p);
    login_free(&c);
    line(&c, "slots 2");
    line(&c, "5 Mon 01pm");
    line(&c, "9 Wed 03pm");
    assert_int_equal(c.state, CLIENT_PROMPT);
    assert_string_equal(screen(&c), "Phase 1: Patient 7 authentication result: success.\n"
                                    "Phase 1: End of Phase 1 for Patient 7.\n" HEADER
                                    "5 Mon 01pm\n9 Wed 03pm\n");
    line(&c, "* reserved 5");
    assert_string_equal(screen(&c),
                        "Phase 2: Appointment 5 was just taken by another patient.\n" HEADER
                        "9 Wed 03pm\n");
    client_input_line(&c, "7", 1);
    assert_string_equal(screen(&c),
                        "Phase 2: 7 is not one of the available appointment indices.\n");
    client_input_line(&c, "", 0);
    assert_string_equal(screen(&c), HEADER "9 Wed 03pm\n");
    client_center_closed(&c, NULL);
    assert_int_equal(c.status, PATIENT_EXIT_CENTER);
    assert_string_equal(screen(&c), ""); /* no line to end: the shell clears the editor's */
    client_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_statuses), cmocka_unit_test(test_failure),
        cmocka_unit_test(test_input),         cmocka_unit_test(test_pushes_at_prompt),
        cmocka_unit_test(test_slot_option),   cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_doctor),        cmocka_unit_test(test_doctor_no_price),
        cmocka_unit_test(test_already_held),  cmocka_unit_test(test_error_reasons),
        cmocka_unit_test(test_answer_blanks), cmocka_unit_test(test_long_list),
        cmocka_unit_test(test_added_removed), cmocka_unit_test(test_editor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
