/* test_prices.c: unit tests of the doctor's price table and request answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "prices.h"

/* Load a price table from a string, asserting that it loads. */
static void
load_ok(struct prices *p, const char *text)
{
    char err[256] = "";
    int rc = prices_load_mem(p, "doc.txt", text, strlen(text), err, sizeof err);

    if (rc != 0)
        print_error("unexpected load error: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Assert that a string fails to load with exactly the message want. */
static void
load_fails(const char *text, size_t len, const char *want)
{
    struct prices p;
    char err[256] = "";

    assert_int_equal(prices_load_mem(&p, "doc.txt", text, len, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_int_equal(p.count, 0);
    assert_null(p.items);
    prices_free(&p);
}

/* load_fails for a string literal, which may hold NUL bytes. */
#define LOAD_FAILS(lit, want) load_fails(lit, sizeof lit - 1, want)

/* The sample file loads and every plan has its cost. */
static void
test_load_sample(void **state)
{
    struct prices p;

    (void)state;
    load_ok(&p, "insurance1 30\ninsurance2 20\ninsurance3 50\n");
    assert_int_equal(p.count, 3);
    assert_int_equal(prices_find(&p, "insurance1", 10), 30);
    assert_int_equal(prices_find(&p, "insurance2", 10), 20);
    assert_int_equal(prices_find(&p, "insurance3", 10), 50);
    prices_free(&p);
    assert_int_equal(p.count, 0);
}

/* CRLF lines, no final newline, blank lines, tabs and repeated spaces are accepted. */
static void
test_load_layouts(void **state)
{
    struct prices p;

    (void)state;
    load_ok(&p, "insurance1 40\r\n\r\n  insurance2 \t  60  \r\n\n\ninsurance3\t10");
    assert_int_equal(p.count, 3);
    assert_int_equal(prices_find(&p, "insurance1", 10), 40);
    assert_int_equal(prices_find(&p, "insurance2", 10), 60);
    assert_int_equal(prices_find(&p, "insurance3", 10), 10);
    assert_int_equal(p.items[2].line, 6);
    prices_free(&p);
}

/* Costs 0 and 1000000 are the limits; a 63-byte name is the longest. */
static void
test_load_limits(void **state)
{
    char name[PRICES_NAMEMAX + 1], text[128];
    struct prices p;

    (void)state;
    memset(name, 'n', PRICES_NAMEMAX);
    name[PRICES_NAMEMAX] = '\0';
    snprintf(text, sizeof text, "free 0\ndear 1000000\n%s 7\n", name);
    load_ok(&p, text);
    assert_int_equal(prices_find(&p, "free", 4), 0);
    assert_int_equal(prices_find(&p, "dear", 4), 1000000);
    assert_int_equal(prices_find(&p, name, PRICES_NAMEMAX), 7);
    prices_free(&p);
}

/* Lookups are exact: no prefixes, no case folding, no unknown plans. */
static void
test_find(void **state)
{
    struct prices p;

    (void)state;
    load_ok(&p, "insurance1 30\nInsurance1 31\n");
    assert_int_equal(prices_find(&p, "insurance1", 10), 30);
    assert_int_equal(prices_find(&p, "Insurance1", 10), 31);
    assert_int_equal(prices_find(&p, "insurance", 9), -1);
    assert_int_equal(prices_find(&p, "insurance1x", 11), -1);
    assert_int_equal(prices_find(&p, "insurance1x", 10), 30);
    assert_int_equal(prices_find(&p, "", 0), -1);
    assert_int_equal(prices_find(&p, "insurance4", 10), -1);
    prices_free(&p);
}

/* Many rows load, and each is found with its own cost. */
static void
test_find_many(void **state)
{
    size_t i, n = 20000, off = 0, size = n * 24;
    char *text = malloc(size), name[32];
    struct prices p;

    (void)state;
    assert_non_null(text);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, size - off, "plan%zu %zu\n", i, i % 1000001);
    load_ok(&p, text);
    assert_int_equal(p.count, n);
    for (i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "plan%zu", i);
        assert_int_equal(prices_find(&p, name, (size_t)len), (int64_t)(i % 1000001));
    }
    assert_int_equal(prices_find(&p, "plan20000", 9), -1);
    prices_free(&p);
    free(text);
}

/* Rows with the wrong number of fields name their file and line. */
static void
test_load_field_count(void **state)
{
    (void)state;
    LOAD_FAILS("insurance1 30\ninsurance2\n",
               "doc.txt:2: expected 2 fields (insurance cost), found 1");
    LOAD_FAILS("insurance1 30\r\n\r\ninsurance2 20 extra\r\n",
               "doc.txt:3: expected 2 fields (insurance cost), found 3");
}

/* Costs must be plain whole numbers from 0 to 1000000. */
static void
test_load_bad_cost(void **state)
{
    static const char *const bad[] = {"-1",  "+5",   "1000001", "3.5",
                                      "30$", "0x10", "thirty",  "99999999999999999999999"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], want[256];
        snprintf(text, sizeof text, "ok 1\n\nplan %s", bad[i]);
        snprintf(want, sizeof want,
                 "doc.txt:3: bad cost '%s' (expected a whole number from 0 to 1000000)", bad[i]);
        load_fails(text, strlen(text), want);
    }
}

/* A plan name over 63 bytes is refused. */
static void
test_load_long_name(void **state)
{
    char text[128];

    (void)state;
    memset(text, 'x', PRICES_NAMEMAX + 1);
    strcpy(text + PRICES_NAMEMAX + 1, " 10\n");
    load_fails(text, strlen(text), "doc.txt:1: insurance name is 64 bytes (at most 63)");
}

/* A second row for the same plan names both lines. */
static void
test_load_duplicate(void **state)
{
    static const char text[] = "insurance1 30\n\ninsurance2 20\ninsurance1 35\n";

    (void)state;
    load_fails(text, strlen(text), "doc.txt:4: duplicate insurance 'insurance1' (first on line 1)");
}

/* An empty file, or one of blank lines only, has no prices. */
static void
test_load_empty(void **state)
{
    (void)state;
    LOAD_FAILS("", "doc.txt:1: no prices in file");
    LOAD_FAILS("\n\r\n  \n\t\n", "doc.txt:1: no prices in file");
}

/* Control bytes and NUL inside a row are reported by the data file reader. */
static void
test_load_control(void **state)
{
    (void)state;
    LOAD_FAILS("insurance1 30\nins\0urance2 20\n",
               "doc.txt:2: control character (byte 0x00) in row");
    LOAD_FAILS("insurance1 3\x01"
               "0\n",
               "doc.txt:1: control character (byte 0x01) in row");
}

/* A missing file is an error naming the file. */
static void
test_load_missing_file(void **state)
{
    struct prices p;
    char err[256] = "";

    (void)state;
    assert_int_equal(prices_load(&p, "/nonexistent/doc1.txt", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/doc1.txt: cannot open: No such file or directory");
    prices_free(&p);
}

/* A file on disk loads the same as from memory. */
static void
test_load_file(void **state)
{
    char path[] = "/tmp/test_prices_XXXXXX", err[256] = "";
    static const char text[] = "insurance1 30\r\ninsurance2 20";
    struct prices p;
    int fd;

    (void)state;
    assert_true((fd = mkstemp(path)) != -1);
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(prices_load(&p, path, err, sizeof err), 0);
    assert_int_equal(prices_find(&p, "insurance2", 10), 20);
    prices_free(&p);
    unlink(path);
}

/* Answer req (a NUL-terminated string) with the sample table. */
static void
answer(const char *req, size_t len, int truncated, struct prices_answer *a)
{
    struct prices p;

    load_ok(&p, "insurance1 30\ninsurance2 20\nzero 0\n");
    memset(a, 0x55, sizeof *a);
    prices_answer(&p, req, len, truncated, a);
    prices_free(&p);
    assert_int_equal(a->len, strlen(a->reply));
}

/* A known plan gets its cost, with or without a line ending. */
static void
test_answer_price(void **state)
{
    struct prices_answer a;

    (void)state;
    answer("insurance1", 10, 0, &a);
    assert_int_equal(a.status, PRICES_PRICE);
    assert_int_equal(a.cost, 30);
    assert_string_equal(a.reply, "30");
    assert_string_equal(a.plan, "insurance1");

    answer("insurance2\n", 11, 0, &a);
    assert_string_equal(a.reply, "20");
    assert_string_equal(a.plan, "insurance2");

    answer("insurance2\r\n", 12, 0, &a);
    assert_string_equal(a.reply, "20");
    assert_string_equal(a.plan, "insurance2");

    answer("zero", 4, 0, &a);
    assert_int_equal(a.status, PRICES_PRICE);
    assert_string_equal(a.reply, "0");

    /* The patient's padding (PROTO_PRICE_PAD), with or without a line ending. */
    answer("insurance1              ", 24, 0, &a);
    assert_string_equal(a.reply, "30");
    assert_string_equal(a.plan, "insurance1");
    answer("insurance2  \n", 13, 0, &a);
    assert_string_equal(a.reply, "20");
    assert_string_equal(a.plan, "insurance2");
}

/* A plan the table lacks gets error unknown-insurance. */
static void
test_answer_unknown(void **state)
{
    struct prices_answer a;

    (void)state;
    answer("abc                     ", 24, 0, &a);
    assert_int_equal(a.status, PRICES_UNKNOWN);
    assert_string_equal(a.plan, "abc");
    answer("insurance9\n", 11, 0, &a);
    assert_int_equal(a.status, PRICES_UNKNOWN);
    assert_int_equal(a.cost, -1);
    assert_string_equal(a.reply, "error unknown-insurance");
    assert_int_equal(a.len, 23);
    assert_string_equal(a.plan, "insurance9");
}

/* Nothing, or only a line ending, gets error empty. */
static void
test_answer_empty(void **state)
{
    struct prices_answer a;

    (void)state;
    answer("", 0, 0, &a);
    assert_int_equal(a.status, PRICES_EMPTY);
    assert_string_equal(a.reply, "error empty");
    assert_string_equal(a.plan, "");
    answer("\n", 1, 0, &a);
    assert_string_equal(a.reply, "error empty");
    answer("\r\n", 2, 0, &a);
    assert_string_equal(a.reply, "error empty");
    answer("   ", 3, 0, &a);
    assert_string_equal(a.reply, "error empty");
}

/* A datagram cut by the receive buffer gets error too-long. */
static void
test_answer_too_long(void **state)
{
    char req[512];
    struct prices_answer a;

    (void)state;
    memset(req, 'a', sizeof req);
    answer(req, sizeof req, 1, &a);
    assert_int_equal(a.status, PRICES_TOO_LONG);
    assert_int_equal(a.cost, -1);
    assert_string_equal(a.reply, "error too-long");
    assert_string_equal(a.plan, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...");
    /* Even a known plan at the start is refused when the datagram was cut. */
    answer("insurance1", 10, 1, &a);
    assert_string_equal(a.reply, "error too-long");
    assert_string_equal(a.plan, "insurance1...");
}

/* Spaces, control bytes, NUL, extra line endings and long names get error bad-request. */
static void
test_answer_bad_request(void **state)
{
    static const struct {
        const char *req;
        size_t len;
        const char *plan;
    } cases[] = {
        {" insurance1", 11, " insurance1"},
        {"insurance1 \n ", 13, "insurance1 \\x0a"},
        {"insurance 1", 11, "insurance 1"},
        {"insurance1\t", 11, "insurance1\\x09"},
        {"insur\0ance1", 11, "insur\\x00ance1"},
        {"insurance1\r", 11, "insurance1\\x0d"},
        {"insurance1\n\n", 12, "insurance1\\x0a"},
        {"insurance1\r\n\r\n", 14, "insurance1\\x0d\\x0a"},
        {"insurance1\x7f", 11, "insurance1\\x7f"},
        {"\n\n", 2, "\\x0a"},
    };
    struct prices_answer a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        answer(cases[i].req, cases[i].len, 0, &a);
        assert_int_equal(a.status, PRICES_BAD_REQUEST);
        assert_int_equal(a.cost, -1);
        assert_string_equal(a.reply, "error bad-request");
        assert_string_equal(a.plan, cases[i].plan);
    }
}

/* A name of 63 bytes is looked up; 64 bytes is a bad request, shown cut. */
static void
test_answer_length_limit(void **state)
{
    char req[PRICES_NAMEMAX + 2];
    struct prices_answer a;

    (void)state;
    memset(req, 'q', sizeof req);
    answer(req, PRICES_NAMEMAX, 0, &a);
    assert_string_equal(a.reply, "error unknown-insurance");
    req[PRICES_NAMEMAX] = '\n';
    answer(req, PRICES_NAMEMAX + 1, 0, &a);
    assert_string_equal(a.reply, "error unknown-insurance");
    req[PRICES_NAMEMAX] = 'q';
    answer(req, PRICES_NAMEMAX + 1, 0, &a);
    assert_string_equal(a.reply, "error bad-request");
    assert_string_equal(a.plan, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...");
}

/* Diff old to new (both as text) and check the counts and the reload line. */
static void
check_diff(const char *old_text, const char *new_text, size_t added, size_t removed, size_t changed,
           const char *line)
{
    struct prices old, new;
    struct prices_diff d;
    char buf[128];

    load_ok(&old, old_text);
    load_ok(&new, new_text);
    prices_diff(&old, &new, &d);
    assert_int_equal(d.added, added);
    assert_int_equal(d.removed, removed);
    assert_int_equal(d.changed, changed);
    prices_diff_line(&d, buf, sizeof buf);
    assert_string_equal(buf, line);
    prices_free(&old);
    prices_free(&new);
}

/* A reload counts plans added, removed and changed, whatever the order of the rows. */
static void
test_diff(void **state)
{
    (void)state;
    check_diff("a 1\nb 2\n", "a 1\nb 2\n", 0, 0, 0, "reload: 0 prices added, 0 removed, 0 changed");
    check_diff("a 1\nb 2\n", "b 2\na 1\n", 0, 0, 0, "reload: 0 prices added, 0 removed, 0 changed");
    check_diff("a 1\nb 2\nc 3\n", "a 1\nc 4\nd 5\ne 6\n", 2, 1, 1,
               "reload: 2 prices added, 1 removed, 1 changed");
    check_diff("a 1\n", "a 1\nb 2\n", 1, 0, 0, "reload: 1 price added, 0 removed, 0 changed");
    check_diff("a 1\nb 2\n", "c 1\n", 1, 2, 0, "reload: 1 price added, 2 removed, 0 changed");
    /* Names are compared byte for byte; a cost of 0 is a cost like any other. */
    check_diff("a 1\nb 0\n", "A 1\nb 1\n", 1, 1, 1, "reload: 1 price added, 1 removed, 1 changed");
    check_diff("a 7\nb 0\n", "a 0\nb 0\n", 0, 0, 1, "reload: 0 prices added, 0 removed, 1 changed");
}

/* A table of many plans against its shifted self. */
static void
test_diff_many(void **state)
{
    static char old_text[20000], new_text[20000];
    struct prices old, new;
    struct prices_diff d;
    size_t o = 0, n = 0;
    int i;

    (void)state;
    for (i = 0; i < 1000; i++)
        o += (size_t)snprintf(old_text + o, sizeof old_text - o, "plan%d %d\n", i, i);
    /* Plans 0-99 go, 1000-1199 come, every tenth of the rest costs one more. */
    for (i = 100; i < 1200; i++)
        n += (size_t)snprintf(new_text + n, sizeof new_text - n, "plan%d %d\n", i,
                              i < 1000 && i % 10 == 0 ? i + 1 : i);
    load_ok(&old, old_text);
    load_ok(&new, new_text);
    prices_diff(&old, &new, &d);
    assert_int_equal(d.added, 200);
    assert_int_equal(d.removed, 100);
    assert_int_equal(d.changed, 90);
    prices_free(&old);
    prices_free(&new);
}

/* Run every test. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_sample),         cmocka_unit_test(test_load_layouts),
        cmocka_unit_test(test_load_limits),         cmocka_unit_test(test_find),
        cmocka_unit_test(test_find_many),           cmocka_unit_test(test_load_field_count),
        cmocka_unit_test(test_load_bad_cost),       cmocka_unit_test(test_load_long_name),
        cmocka_unit_test(test_load_duplicate),      cmocka_unit_test(test_load_empty),
        cmocka_unit_test(test_load_control),        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_file),           cmocka_unit_test(test_answer_price),
        cmocka_unit_test(test_answer_unknown),      cmocka_unit_test(test_answer_empty),
        cmocka_unit_test(test_answer_too_long),     cmocka_unit_test(test_answer_bad_request),
        cmocka_unit_test(test_answer_length_limit), cmocka_unit_test(test_diff),
        cmocka_unit_test(test_diff_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
