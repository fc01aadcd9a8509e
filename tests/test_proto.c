/* test_proto.c: splitting request lines, parsing every reply of the center, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

/* Split a NUL-terminated line; -1 or the number of fields. */
static int
split(const char *line, struct proto_fields *pf)
{
    if (proto_split(line, strlen(line), pf) == -1)
        return -1;
    return pf->n;
}

/* Check that field i of pf is exactly w. */
static void
check_field(const struct proto_fields *pf, int i, const char *w)
{
    assert_true(i < pf->n);
    assert_int_equal(pf->len[i], strlen(w));
    assert_memory_equal(pf->f[i], w, strlen(w));
}

/* Fields are separated by exactly one space and point into the line. */
static void
test_split_fields(void **state)
{
    static const char line[] = "authenticate alice s3cret";
    struct proto_fields pf;

    (void)state;
    assert_int_equal(split(line, &pf), 3);
    check_field(&pf, 0, "authenticate");
    check_field(&pf, 1, "alice");
    check_field(&pf, 2, "s3cret");
    assert_ptr_equal(pf.f[0], line);
    assert_ptr_equal(pf.f[1], line + 13);
    assert_int_equal(split("available", &pf), 1);
    check_field(&pf, 0, "available");
    assert_int_equal(split("x", &pf), 1);
    check_field(&pf, 0, "x");
    assert_int_equal(split("1 2 3 4 5 6", &pf), 6);
    check_field(&pf, 5, "6");
    /* More fields than are stored: all are counted, the first ones kept. */
    assert_int_equal(split("1 2 3 4 5 6 7 8 9 10", &pf), 10);
    check_field(&pf, 5, "6");
    assert_false(proto_field_is(&pf, 6, "7"));
    /* Only spaces separate: tabs and CR stay inside fields. */
    assert_int_equal(split("a\tb c\r", &pf), 2);
    check_field(&pf, 0, "a\tb");
    check_field(&pf, 1, "c\r");
}

/* Only len bytes are split. */
static void
test_split_length(void **state)
{
    struct proto_fields pf;

    (void)state;
    assert_int_equal(proto_split("selection 12 junk", 12, &pf), 0);
    assert_int_equal(pf.n, 2);
    check_field(&pf, 1, "12");
    assert_int_equal(proto_split("a b", 2, &pf), -1); /* "a " */
}

/* Empty lines, spaces at either end and double spaces are refused. */
static void
test_split_rejects(void **state)
{
    static const char *const bad[] = {
        "",     " ",    "  ",   " available", "available ",   "selection  1",
        "a  b", " a b", "a b ", "a b  c",     "a b c d e f ", "1 2 3 4 5 6 7 8 9  10",
    };
    struct proto_fields pf;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (split(bad[i], &pf) != -1)
            fail_msg("accepted bad[%zu]", i);
}

/* proto_field_is compares whole fields, case included, and checks bounds. */
static void
test_field_is(void **state)
{
    struct proto_fields pf;

    (void)state;
    assert_int_equal(split("selection 3", &pf), 2);
    assert_int_equal(proto_field_is(&pf, 0, "selection"), 1);
    assert_int_equal(proto_field_is(&pf, 1, "3"), 1);
    assert_int_equal(proto_field_is(&pf, 0, "select"), 0);
    assert_int_equal(proto_field_is(&pf, 0, "selections"), 0);
    assert_int_equal(proto_field_is(&pf, 0, "Selection"), 0);
    assert_int_equal(proto_field_is(&pf, 0, ""), 0);
    assert_int_equal(proto_field_is(&pf, 2, "3"), 0);
    assert_int_equal(proto_field_is(&pf, 5, ""), 0);
}

/* Parse the only field of s as an index; -1 or the index. */
static int64_t
index_of(const char *s)
{
    struct proto_fields pf;
    uint32_t v = 77;

    assert_int_equal(split(s, &pf), 1);
    if (proto_field_index(&pf, 0, &v) == -1) {
        assert_int_equal(v, 77);
        return -1;
    }
    return v;
}

/* Indexes run from 1 to 4294967295, plain decimal only. */
static void
test_field_index(void **state)
{
    struct proto_fields pf;
    uint32_t v = 5;

    (void)state;
    assert_int_equal(index_of("1"), 1);
    assert_int_equal(index_of("42"), 42);
    assert_int_equal(index_of("007"), 7);
    assert_int_equal(index_of("4294967295"), 4294967295u);
    assert_int_equal(index_of("4294967296"), -1);
    assert_int_equal(index_of("0"), -1);
    assert_int_equal(index_of("00"), -1);
    assert_int_equal(index_of("-1"), -1);
    assert_int_equal(index_of("+1"), -1);
    assert_int_equal(index_of("1x"), -1);
    assert_int_equal(index_of("x"), -1);
    assert_int_equal(index_of("0x1"), -1);
    assert_int_equal(index_of("1\r"), -1);
    assert_int_equal(index_of("99999999999999999999"), -1);
    assert_int_equal(index_of("18446744073709551617"), -1);
    assert_int_equal(split("selection", &pf), 1);
    assert_int_equal(proto_field_index(&pf, 1, &v), -1);
    assert_int_equal(v, 5);
}

/* Parse a NUL-terminated line from the center into r; returns the result. */
static int
parse(const char *line, struct proto_reply *r)
{
    memset(r, 0x5a, sizeof *r);
    return proto_parse_reply(line, strlen(line), r);
}

/* Check that a line parses to exactly want, every field not of its kind zero. */
static void
check_reply(const char *line, const struct proto_reply *want)
{
    struct proto_reply r;

    if (parse(line, &r) != 0)
        fail_msg("refused \"%s\"", line);
    assert_int_equal(r.kind, want->kind);
    assert_int_equal(r.index, want->index);
    assert_int_equal(r.count, want->count);
    assert_int_equal(r.port, want->port);
    assert_string_equal(r.day, want->day);
    assert_string_equal(r.time, want->time);
    assert_string_equal(r.doctor, want->doctor);
    assert_string_equal(r.reason, want->reason);
}

/* The one-word replies. */
static void
test_reply_words(void **state)
{
    (void)state;
    check_reply("success", &(struct proto_reply){.kind = PROTO_SUCCESS});
    check_reply("failure", &(struct proto_reply){.kind = PROTO_FAILURE});
    check_reply("notavailable", &(struct proto_reply){.kind = PROTO_NOTAVAILABLE});
    check_reply("appointment none", &(struct proto_reply){.kind = PROTO_APPOINTMENT_NONE});
}

/* slots <n> and the slot lines that follow it. */
static void
test_reply_slots(void **state)
{
    (void)state;
    check_reply("slots 0", &(struct proto_reply){.kind = PROTO_SLOTS, .count = 0});
    check_reply("slots 3", &(struct proto_reply){.kind = PROTO_SLOTS, .count = 3});
    check_reply("slots 4294967295",
                &(struct proto_reply){.kind = PROTO_SLOTS, .count = 4294967295u});
    check_reply("1 Mon 10:00", &(struct proto_reply){
                                   .kind = PROTO_SLOT, .index = 1, .day = "Mon", .time = "10:00"});
    check_reply("4294967295 Wednesday 23:59",
                &(struct proto_reply){
                    .kind = PROTO_SLOT, .index = 4294967295u, .day = "Wednesday", .time = "23:59"});
    /* Fifteen bytes is the longest day or time. */
    check_reply(
        "2 ddddddddddddddd ttttttttttttttt",
        &(struct proto_reply){
            .kind = PROTO_SLOT, .index = 2, .day = "ddddddddddddddd", .time = "ttttttttttttttt"});
}

/* <doctor> <port>, the answer to a selection. */
static void
test_reply_booked(void **state)
{
    (void)state;
    check_reply("doc1 21000",
                &(struct proto_reply){.kind = PROTO_BOOKED, .doctor = "doc1", .port = 21000});
    check_reply("doc2 1", &(struct proto_reply){.kind = PROTO_BOOKED, .doctor = "doc2", .port = 1});
    check_reply("d 65535",
                &(struct proto_reply){.kind = PROTO_BOOKED, .doctor = "d", .port = 65535});
    check_reply("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn 41000", /* 31 bytes, the longest */
                &(struct proto_reply){.kind = PROTO_BOOKED,
                                      .doctor = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
                                      .port = 41000});
}

/* appointment <index> <day> <time> <doctor> <port>, and cancelled <index>. */
static void
test_reply_appointment(void **state)
{
    (void)state;
    check_reply("appointment 2 Tue 09:00 doc2 42000",
                &(struct proto_reply){.kind = PROTO_APPOINTMENT,
                                      .index = 2,
                                      .day = "Tue",
                                      .time = "09:00",
                                      .doctor = "doc2",
                                      .port = 42000});
    check_reply("cancelled 4", &(struct proto_reply){.kind = PROTO_CANCELLED, .index = 4});
    check_reply("cancelled 4294967295",
                &(struct proto_reply){.kind = PROTO_CANCELLED, .index = 4294967295u});
}

/* error <reason...>: the reason is the rest of the line. */
static void
test_reply_error(void **state)
{
    static const char *const reasons[] = {
        "unknown-command",
        "wrong-arguments",
        "bad-index",
        "bad-spacing",
        "not-authenticated",
        "already-authenticated",
        "already-booked 3",
        "no-appointment",
        "line-too-long",
        "bad-line",
        "busy",
        "idle-timeout",
        "auth-timeout",
    };
    char line[128];
    struct proto_reply want = {.kind = PROTO_ERROR};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        snprintf(line, sizeof line, "error %s", reasons[i]);
        strcpy(want.reason, reasons[i]);
        check_reply(line, &want);
    }
    /* Sixty-three bytes is the longest reason. */
    memset(want.reason, 'r', 63);
    want.reason[63] = '\0';
    snprintf(line, sizeof line, "error %s", want.reason);
    check_reply(line, &want);
}

/* Pushes: reserved, released, added and removed. */
static void
test_reply_push(void **state)
{
    struct proto_reply r;

    (void)state;
    check_reply("* reserved 5", &(struct proto_reply){.kind = PROTO_PUSH_RESERVED, .index = 5});
    check_reply("* released 2 Mon 10:00",
                &(struct proto_reply){
                    .kind = PROTO_PUSH_RELEASED, .index = 2, .day = "Mon", .time = "10:00"});
    check_reply(
        "* added 9 Tue 11am",
        &(struct proto_reply){.kind = PROTO_PUSH_ADDED, .index = 9, .day = "Tue", .time = "11am"});
    check_reply("* removed 4294967295",
                &(struct proto_reply){.kind = PROTO_PUSH_REMOVED, .index = 4294967295u});
    assert_int_equal(proto_parse_reply("* added 9 Tue", 13, &r), -1);
    assert_int_equal(proto_parse_reply("* removed 0", 11, &r), -1);
    assert_int_equal(proto_parse_reply("* removed 3 Mon 10am", 20, &r), -1);
}

/* The push lines the center formats parse back as what they say. */
static void
test_fmt_push(void **state)
{
    char buf[64];
    struct proto_reply r;
    size_t n;

    (void)state;
    n = proto_fmt_reserved(buf, sizeof buf, 7);
    assert_string_equal(buf, "* reserved 7\n");
    assert_int_equal(n, 13);
    n = proto_fmt_released(buf, sizeof buf, 7, "Mon", "9am");
    assert_string_equal(buf, "* released 7 Mon 9am\n");
    assert_int_equal(n, strlen(buf));
    n = proto_fmt_added(buf, sizeof buf, 12, "Fri", "4pm");
    assert_string_equal(buf, "* added 12 Fri 4pm\n");
    assert_int_equal(proto_parse_reply(buf, n - 1, &r), 0);
    assert_int_equal(r.kind, PROTO_PUSH_ADDED);
    n = proto_fmt_removed(buf, sizeof buf, 12);
    assert_string_equal(buf, "* removed 12\n");
    assert_int_equal(proto_parse_reply(buf, n - 1, &r), 0);
    assert_int_equal(r.kind, PROTO_PUSH_REMOVED);
    assert_int_equal(proto_fmt_removed(buf, 5, 12), 4);
}

/* The error table: each line is "error <reason>\n" with the length counted, and reasons are found.
 */
static void
test_error_table(void **state)
{
    size_t i;
    char want[96];

    (void)state;
    for (i = 0; i < PROTO_NERRORS; i++) {
        snprintf(want, sizeof want, "error %s\n", proto_errors[i].reason);
        assert_string_equal(proto_errors[i].line, want);
        assert_int_equal(proto_errors[i].linelen, strlen(want));
        assert_int_equal(proto_error_find(proto_errors[i].reason, strlen(proto_errors[i].reason)),
                         (int)i);
    }
    assert_int_equal(proto_error_find("already-booked 12", 17), PROTO_ERR_ALREADY_BOOKED);
    assert_int_equal(proto_error_find("busyness", 8), -1);
    assert_int_equal(proto_error_find("bus", 3), -1);
    assert_true(proto_errors[PROTO_ERR_BUSY].closes);
    assert_false(proto_errors[PROTO_ERR_UNAVAILABLE].closes);
}

/* Anything else is refused as PROTO_INVALID. */
static void
test_reply_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " success",
        "success ",
        "success extra",
        "Success",
        "success\r",
        "failure 1 2",
        "notavailable x",
        "hello",
        "slots",
        "slots x",
        "slots -1",
        "slots 1x",
        "slots 4294967296",
        "slots 1 2",
        "0 Mon 10:00",
        "x Mon 10:00",
        "-1 Mon 10:00",
        "1 Mon",
        "1 Mon 10:00 extra x",
        "1 dddddddddddddddd 10:00", /* day of 16 bytes */
        "1 Mon tttttttttttttttt",
        "1 Mon\x01 10:00",
        "1 Mon 10:00\r",
        "doc1 0",
        "doc1 65536",
        "doc1 x",
        "doc1 -1",
        "doc1 80x",
        "doc\x7f 80",
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn 41000", /* doctor of 32 bytes */
        "appointment",
        "appointment 1 Mon",
        "appointment 1 Mon 10:00 doc1",
        "appointment none x",
        "appointment None",
        "appointment 0 Mon 10:00 doc1 41000",
        "appointment 1 Mon 10:00 doc1 0",
        "appointment 1 Mon 10:00 doc1 65536",
        "appointment x Mon 10:00 doc1 41000",
        "appointment 1 Mon 10:00 doc\x1b 41000",
        "cancelled",
        "cancelled 0",
        "cancelled x",
        "cancelled 1 2",
        "error",
        "error ",
        "error  busy",
        "error busy\r",
        "error busy \x1b[2J",
        "error already-booked 3\r",
        "error\tbusy",
        "error rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr", /* 64 bytes */
        "*",
        "* reserved",
        "* reserved 0",
        "* reserved x",
        "* reserved 1 2",
        "* released 2 Mon",
        "* released 2 Mon 10:00 x",
        "* released 0 Mon 10:00",
        "* other 1",
        "* Reserved 1",
        "a b c d e f g",
    };
    struct proto_reply r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &r) != -1)
            fail_msg("accepted bad[%zu] as kind %d", i, (int)r.kind);
        assert_int_equal(r.kind, PROTO_INVALID);
    }
}

/* Only len bytes of the line are parsed. */
static void
test_reply_length(void **state)
{
    struct proto_reply r;

    (void)state;
    assert_int_equal(proto_parse_reply("success\n", 7, &r), 0);
    assert_int_equal(r.kind, PROTO_SUCCESS);
    assert_int_equal(proto_parse_reply("error busy\r\n", 10, &r), 0);
    assert_string_equal(r.reason, "busy");
    assert_int_equal(proto_parse_reply("slots 12", 7, &r), 0);
    assert_int_equal(r.count, 1);
}

/* A slot line: "<index> <day> <time>\n", cut to the buffer. */
static void
test_fmt_slot(void **state)
{
    char buf[64];
    struct proto_reply r;

    (void)state;
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(proto_fmt_slot(buf, sizeof buf, 3, "Mon", "10:00"), 12);
    assert_string_equal(buf, "3 Mon 10:00\n");
    assert_int_equal(proto_parse_reply(buf, 11, &r), 0);
    assert_int_equal(r.kind, PROTO_SLOT);
    assert_int_equal(r.index, 3);
    assert_string_equal(r.day, "Mon");
    assert_string_equal(r.time, "10:00");
    assert_int_equal(proto_fmt_slot(buf, sizeof buf, 4294967295u, "Sun", "23:59"), 21);
    assert_string_equal(buf, "4294967295 Sun 23:59\n");
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(proto_fmt_slot(buf, 8, 3, "Mon", "10:00"), 7);
    assert_string_equal(buf, "3 Mon 1");
    assert_int_equal(buf[8], 'Z');
}

/* The answer to a selection: "<doctor> <port>\n", cut to the buffer. */
static void
test_fmt_booked(void **state)
{
    char buf[64];
    struct proto_reply r;

    (void)state;
    assert_int_equal(proto_fmt_booked(buf, sizeof buf, "doc1", 41000), 11);
    assert_string_equal(buf, "doc1 41000\n");
    assert_int_equal(proto_parse_reply(buf, 10, &r), 0);
    assert_int_equal(r.kind, PROTO_BOOKED);
    assert_string_equal(r.doctor, "doc1");
    assert_int_equal(r.port, 41000);
    assert_int_equal(proto_fmt_booked(buf, 5, "doc1", 41000), 4);
    assert_string_equal(buf, "doc1");
    assert_int_equal(proto_fmt_booked(buf, 1, "doc1", 41000), 0);
    assert_string_equal(buf, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_fields),      cmocka_unit_test(test_split_length),
        cmocka_unit_test(test_split_rejects),     cmocka_unit_test(test_field_is),
        cmocka_unit_test(test_field_index),       cmocka_unit_test(test_reply_words),
        cmocka_unit_test(test_reply_slots),       cmocka_unit_test(test_reply_booked),
        cmocka_unit_test(test_reply_appointment), cmocka_unit_test(test_reply_error),
        cmocka_unit_test(test_reply_push),        cmocka_unit_test(test_fmt_push),
        cmocka_unit_test(test_error_table),       cmocka_unit_test(test_reply_malformed),
        cmocka_unit_test(test_reply_length),      cmocka_unit_test(test_fmt_slot),
        cmocka_unit_test(test_fmt_booked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
