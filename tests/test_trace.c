/* test_trace.c: trace lines formatted from strings: direction, peer, phase, masking, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

/* Format msg as one line and return it (a static buffer). */
static const char *
fmt(enum trace_dir dir, unsigned phase, const char *msg)
{
    static char buf[TRACE_LINEMAX];
    size_t n = trace_format(buf, sizeof buf, dir, "127.0.0.1:21000", phase, msg, strlen(msg));

    assert_int_equal(n, strlen(buf));
    return buf;
}

/* Direction, phase and peer come first, then the message as it went. */
static void
test_format_plain(void **state)
{
    (void)state;
    assert_string_equal(fmt(TRACE_OUT, 2, "available"),
                        "trace: phase 2 > 127.0.0.1:21000 available");
    assert_string_equal(fmt(TRACE_IN, 2, "slots 6"), "trace: phase 2 < 127.0.0.1:21000 slots 6");
    assert_string_equal(fmt(TRACE_IN, 2, "* reserved 3"),
                        "trace: phase 2 < 127.0.0.1:21000 * reserved 3");
    assert_string_equal(fmt(TRACE_OUT, 3, "insurance1"),
                        "trace: phase 3 > 127.0.0.1:21000 insurance1");
    assert_string_equal(fmt(TRACE_IN, 2, ""), "trace: phase 2 < 127.0.0.1:21000 ");
}

/* The password of authenticate is never shown, whatever its length or spacing. */
static void
test_format_masks_password(void **state)
{
    static const char *const lines[] = {
        "authenticate patient1 password111",
        "authenticate patient1 p",
        "authenticate patient1 password111 extra words",
        "authenticate patient1 ",
        "AUTHENTICATE patient1 password111",
        "Authenticate patient1 password111",
    };
    size_t i;

    (void)state;
    assert_string_equal(fmt(TRACE_OUT, 1, lines[0]),
                        "trace: phase 1 > 127.0.0.1:21000 authenticate patient1 ********");
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        const char *t = fmt(TRACE_IN, 1, lines[i]);

        assert_null(strstr(t, "password111"));
        assert_string_equal(t + strlen(t) - 8, "********");
        assert_non_null(strstr(t, "patient1 ********"));
        assert_null(strstr(t, "extra"));
    }
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate patient1 p"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate patient1 ********");
    /* No password field: nothing to mask, nothing hidden. */
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate patient1"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate patient1");
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate");
    /* A word that only starts like it is not a login. */
    assert_string_equal(fmt(TRACE_IN, 1, "authenticated a b"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticated a b");
}

/*
 * Logins the center refuses (a byte before the word, blanks other than one
 * space) are traced before their error: their password is masked too.
 */
static void
test_format_masks_refused_logins(void **state)
{
    char buf[TRACE_LINEMAX];
    static const char nul[] = "\0authenticate alice SECRET10";

    (void)state;
    assert_string_equal(fmt(TRACE_IN, 1, " authenticate alice SECRET1"),
                        "trace: phase 1 < 127.0.0.1:21000  authenticate alice ********");
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate\talice\tSECRET8"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate ********");
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate alice\tSECRET9"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate alice ********");
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate  alice SECRET2"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate  ********");
    assert_string_equal(fmt(TRACE_IN, 1, "hello AUTHENTICATE alice SECRET3"),
                        "trace: phase 1 < 127.0.0.1:21000 hello AUTHENTICATE alice ********");
    trace_format(buf, sizeof buf, TRACE_IN, "p:1", 1, nul, sizeof nul - 1);
    assert_string_equal(buf, "trace: phase 1 < p:1 \\x00authenticate alice ********");
}

/* Control bytes, backslashes and malformed UTF-8 are escaped, in the user name too. */
static void
test_format_escapes(void **state)
{
    (void)state;
    assert_string_equal(fmt(TRACE_IN, 2, "a\033[2Jb\\c"),
                        "trace: phase 2 < 127.0.0.1:21000 a\\x1b[2Jb\\x5cc");
    assert_string_equal(fmt(TRACE_IN, 1, "authenticate \033x secret"),
                        "trace: phase 1 < 127.0.0.1:21000 authenticate \\x1bx ********");
    assert_string_equal(fmt(TRACE_IN, 3, "\xff\r"), "trace: phase 3 < 127.0.0.1:21000 \\xff\\x0d");
    assert_string_equal(fmt(TRACE_IN, 2, "caf\xc3\xa9"),
                        "trace: phase 2 < 127.0.0.1:21000 caf\xc3\xa9");
}

/* A message too long for the buffer is cut with "...", never past it; a login stays masked. */
static void
test_format_cut(void **state)
{
    char buf[48], msg[600];
    size_t n;

    (void)state;
    memset(msg, 'x', sizeof msg);
    n = trace_format(buf, sizeof buf, TRACE_IN, "1.2.3.4:5", 2, msg, sizeof msg);
    assert_int_equal(n, strlen(buf));
    assert_true(n < sizeof buf);
    assert_string_equal(buf + n - 3, "...");
    memcpy(msg, "authenticate ", 13);
    memcpy(msg + 30, " secretsecret", 13);
    n = trace_format(buf, sizeof buf, TRACE_IN, "1.2.3.4:5", 1, msg, sizeof msg);
    assert_int_equal(n, strlen(buf));
    assert_null(strstr(buf, "secret"));
    assert_int_equal(trace_format(buf, 0, TRACE_IN, "p", 1, "x", 1), 0);
}

/* The phase of a TCP message: logins and their answers are phase 1, the rest phase 2. */
static void
test_tcp_phase(void **state)
{
    (void)state;
    assert_int_equal(trace_tcp_phase("authenticate a b", 16, 0), 1);
    assert_int_equal(trace_tcp_phase("success", 7, 1), 1);
    assert_int_equal(trace_tcp_phase("success\n", 8, 1), 1); /* a queued reply */
    assert_int_equal(trace_tcp_phase("failure\r\n", 9, 0), 1);
    assert_int_equal(trace_tcp_phase("failure", 7, 0), 1);
    assert_int_equal(trace_tcp_phase("error not-authenticated", 23, 0), 1);
    assert_int_equal(trace_tcp_phase("available", 9, 1), 2);
    assert_int_equal(trace_tcp_phase("successful", 10, 1), 2);
    assert_int_equal(trace_tcp_phase("* reserved 3", 12, 1), 2);
    assert_int_equal(trace_tcp_phase("error already-authenticated", 27, 1), 2);
}

/* An IPv6 peer is bracketed, so its port stays readable. */
static void
test_peer(void **state)
{
    char p[TRACE_PEERLEN];

    (void)state;
    assert_string_equal(trace_peer(p, sizeof p, "127.0.0.1", 21000), "127.0.0.1:21000");
    assert_string_equal(trace_peer(p, sizeof p, "::1", 41000), "[::1]:41000");
}

/* What trace_lines handed on, one line per call, joined with "|". */
static char got[4096];

/* A sink that records each line. */
static void
record(const char *line, size_t len, void *arg)
{
    size_t at = strlen(got);

    assert_ptr_equal(arg, got);
    assert_int_equal(len, strlen(line));
    snprintf(got + at, sizeof got - at, "%s%s", at > 0 ? "|" : "", line);
}

/* A counted block is one trace line per wire line; a last line without "\n" counts too. */
static void
test_lines(void **state)
{
    static const char block[] = "slots 2\n1 Tue 01pm\n2 Mon 03pm\n";

    (void)state;
    got[0] = '\0';
    trace_lines(TRACE_OUT, "p:1", 2, block, strlen(block), record, got);
    assert_string_equal(got, "trace: phase 2 > p:1 slots 2|trace: phase 2 > p:1 1 Tue 01pm|"
                             "trace: phase 2 > p:1 2 Mon 03pm");
    got[0] = '\0';
    trace_lines(TRACE_IN, "p:1", 3, "30", 2, record, got);
    assert_string_equal(got, "trace: phase 3 < p:1 30");
    got[0] = '\0';
    trace_lines(TRACE_OUT, "p:1", 1, "authenticate u pw\nauthenticate v pw2\n", 37, record, got);
    assert_string_equal(got, "trace: phase 1 > p:1 authenticate u ********|"
                             "trace: phase 1 > p:1 authenticate v ********");
    got[0] = '\0';
    trace_lines(TRACE_OUT, "p:1", 1, "", 0, record, got);
    assert_string_equal(got, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_plain),
        cmocka_unit_test(test_format_masks_password),
        cmocka_unit_test(test_format_masks_refused_logins),
        cmocka_unit_test(test_format_escapes),
        cmocka_unit_test(test_format_cut),
        cmocka_unit_test(test_tcp_phase),
        cmocka_unit_test(test_peer),
        cmocka_unit_test(test_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
