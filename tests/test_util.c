/* test_util.c: strict numbers, secret comparison, config paths, escaping and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "util.h"

/* Parse a NUL-terminated string with util_parse_uint_str; -1 or the value. */
static int64_t
parse(const char *s, uint64_t min, uint64_t max)
{
    uint64_t v = 12345;

    if (util_parse_uint_str(s, min, max, &v) == -1) {
        assert_int_equal(v, 12345); /* *out is left alone on failure */
        return -1;
    }
    return (int64_t)v;
}

/* Signs, spaces, junk, hex, the bytes around '0'..'9' and "" are all refused. */
static void
test_parse_uint_rejects_non_digits(void **state)
{
    static const char *const bad[] = {
        "",    "-1",  "+1",  " 1",  "1 ",  "1x",       "x1",           "0x10",
        "1.0", "1e3", "1,0", "\t1", "1\n", "\xd9\xa3", "\xef\xbc\x91", "--",
        "+",   "-",   " ",   ":",   "1:",  "/",        "1/",           "\xb0",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 99;
        if (util_parse_uint_str(bad[i], 0, UINT64_MAX, &v) != -1)
            fail_msg("accepted bad[%zu]", i);
        assert_int_equal(v, 99);
    }
}

/* Plain decimals are accepted, leading zeros included. */
static void
test_parse_uint_accepts_decimals(void **state)
{
    (void)state;
    assert_int_equal(parse("0", 0, 10), 0);
    assert_int_equal(parse("7", 0, 10), 7);
    assert_int_equal(parse("007", 0, 10), 7);
    assert_int_equal(parse("000", 0, 10), 0);
    assert_int_equal(parse("65535", 0, 65535), 65535);
    assert_int_equal(parse("4294967295", 1, 4294967295u), 4294967295u);
    /* Twenty digits is the most accepted, even with leading zeros. */
    assert_int_equal(parse("00000000000000000007", 0, 10), 7);
    assert_int_equal(parse("000000000000000000007", 0, 10), -1);
}

/* The largest 64-bit value parses; one more overflows and is refused. */
static void
test_parse_uint_overflow(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(util_parse_uint_str("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(util_parse_uint_str("18446744073709551614", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX - 1);
    assert_int_equal(util_parse_uint_str("18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_uint_str("18446744073709551620", 0, UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_uint_str("99999999999999999999", 0, UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_uint_str("184467440737095516150", 0, UINT64_MAX, &v), -1);
    assert_true(v == UINT64_MAX - 1);
}

/* Values outside [min, max] are refused; the bounds themselves are accepted. */
static void
test_parse_uint_range(void **state)
{
    (void)state;
    assert_int_equal(parse("0", 1, 65535), -1);
    assert_int_equal(parse("1", 1, 65535), 1);
    assert_int_equal(parse("65535", 1, 65535), 65535);
    assert_int_equal(parse("65536", 1, 65535), -1);
    assert_int_equal(parse("4294967296", 1, 4294967295u), -1);
    assert_int_equal(parse("5", 5, 5), 5);
    assert_int_equal(parse("4", 5, 5), -1);
    assert_int_equal(parse("6", 5, 5), -1);
}

/* Only len bytes are read: what follows them does not count, a NUL inside does. */
static void
test_parse_uint_length(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(util_parse_uint("12x", 2, 0, 100, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(util_parse_uint("12 34", 5, 0, 100000, &v), -1);
    assert_int_equal(util_parse_uint("1\0"
                                     "2",
                                     3, 0, 1000, &v),
                     -1);
    assert_int_equal(util_parse_uint("5", 0, 0, 100, &v), -1);
    assert_int_equal(v, 12);
}

/* Secrets are equal only with the same length and the same bytes. */
static void
test_secret_equal(void **state)
{
    (void)state;
    assert_int_equal(util_secret_equal("hunter2", 7, "hunter2", 7), 1);
    assert_int_equal(util_secret_equal("hunter2", 7, "hunter3", 7), 0);
    assert_int_equal(util_secret_equal("hunter2", 7, "Hunter2", 7), 0);
    assert_int_equal(util_secret_equal("hunter2", 7, "hunter", 6), 0);
    assert_int_equal(util_secret_equal("hunter", 6, "hunter2", 7), 0);
    /* b repeated to a's length must not match a shorter b. */
    assert_int_equal(util_secret_equal("abab", 4, "ab", 2), 0);
    assert_int_equal(util_secret_equal("ab", 2, "abab", 4), 0);
    assert_int_equal(util_secret_equal("", 0, "", 0), 1);
    assert_int_equal(util_secret_equal("", 0, "x", 1), 0);
    assert_int_equal(util_secret_equal("x", 1, "", 0), 0);
    assert_int_equal(util_secret_equal("\0"
                                       "a",
                                       2,
                                       "\0"
                                       "b",
                                       2),
                     0);
    assert_int_equal(util_secret_equal("\0"
                                       "a",
                                       2,
                                       "\0"
                                       "a",
                                       2),
                     1);
}

/* Check one util_path_relative result and free it. */
static void
check_relative(const char *base, const char *path, const char *want)
{
    char *got = util_path_relative(base, path);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Relative paths join the config file's folder; absolute ones are kept. */
static void
test_path_relative(void **state)
{
    (void)state;
    check_relative("config/center.conf", "users.txt", "config/users.txt");
    check_relative("config/center.conf", "data/users.txt", "config/data/users.txt");
    check_relative("/etc/hcs/center.conf", "users.txt", "/etc/hcs/users.txt");
    check_relative("a/b/c/doctor1.conf", "../doc1.txt", "a/b/c/../doc1.txt");
    check_relative("/center.conf", "users.txt", "/users.txt");
    check_relative("config/center.conf", "/srv/users.txt", "/srv/users.txt");
    check_relative("center.conf", "users.txt", "users.txt");
    check_relative("center.conf", "/srv/users.txt", "/srv/users.txt");
    check_relative("./center.conf", "users.txt", "./users.txt");
}

/* Check util_escape into a buffer of dstlen bytes (guarded against overruns). */
static void
check_escape(size_t dstlen, const char *src, size_t len, const char *want)
{
    char buf[512];

    assert_true(dstlen + 1 <= sizeof buf);
    memset(buf, 'Z', sizeof buf);
    assert_ptr_equal(util_escape(buf, dstlen, src, len), buf);
    assert_string_equal(buf, want);
    assert_true(strlen(buf) < dstlen);
    assert_int_equal(buf[dstlen], 'Z');
}

/* Control bytes, DEL and backslash become \xNN; other bytes are kept. */
static void
test_escape_bytes(void **state)
{
    (void)state;
    check_escape(64, "alice", 5, "alice");
    check_escape(64, "", 0, "");
    check_escape(64, "a\nb", 3, "a\\x0ab");
    check_escape(64, "\r\n", 2, "\\x0d\\x0a");
    check_escape(64, "\0", 1, "\\x00");
    check_escape(64, "\x1b[2J", 4, "\\x1b[2J");
    check_escape(64, "\x7f", 1, "\\x7f");
    check_escape(64, "a\\b", 3, "a\\x5cb");
    check_escape(64, "\t \x1f", 3, "\\x09 \\x1f");
    check_escape(64, "~ !", 3, "~ !");
    /* Well-formed UTF-8 from U+00A0 up passes through as it is. */
    check_escape(64, "caf\xc3\xa9", 5, "caf\xc3\xa9");
    check_escape(64, "\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                 "\xc2\xa0\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Only len bytes are read. */
    check_escape(64, "abcdef", 3, "abc");
}

/*
 * C1 controls (a raw 0x9b is CSI to a terminal; U+009B as UTF-8 too) and
 * malformed UTF-8 are escaped byte by byte (issue 10, item 8).
 */
static void
test_escape_c1_and_bad_utf8(void **state)
{
    (void)state;
    check_escape(64,
                 "\x9b"
                 "2J",
                 3, "\\x9b2J");
    check_escape(64,
                 "\xc2\x9b"
                 "2J",
                 4, "\\xc2\\x9b2J");
    check_escape(64, "\x80\x9f", 2, "\\x80\\x9f");
    check_escape(64, "\xc3", 1, "\\xc3");                            /* cut short */
    check_escape(64, "\xc3(", 2, "\\xc3(");                          /* bad continuation */
    check_escape(64, "\xc0\xaf", 2, "\\xc0\\xaf");                   /* overlong "/" */
    check_escape(64, "\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");          /* overlong */
    check_escape(64, "\xed\xa0\x80", 3, "\\xed\\xa0\\x80");          /* a surrogate */
    check_escape(64, "\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"); /* over U+10FFFF */
    check_escape(64, "\xff\xfe", 2, "\\xff\\xfe");
    /* A character is never cut in the middle: "é" needs 2 bytes, only 1 is left. */
    check_escape(7,
                 "ab\xc3\xa9"
                 "cdef",
                 8, "ab...");
    check_escape(8, "abc\xc3\xa9", 5, "abc\xc3\xa9");
}

/*
 * Invisible characters that change how a line reads (a line separator, a
 * right-to-left override, a bidi isolate, a zero-width space, the byte
 * order mark) are escaped too; the characters beside them are not.
 */
static void
test_escape_invisible(void **state)
{
    (void)state;
    check_escape(64,
                 "a\xe2\x80\xa8"
                 "b",
                 5, "a\\xe2\\x80\\xa8b"); /* U+2028 */
    check_escape(64,
                 "\xe2\x80\xae"
                 "cba",
                 6, "\\xe2\\x80\\xaecba");                  /* U+202E */
    check_escape(64, "\xe2\x81\xa6", 3, "\\xe2\\x81\\xa6"); /* U+2066 */
    check_escape(64, "\xe2\x80\x8b", 3, "\\xe2\\x80\\x8b"); /* U+200B */
    check_escape(64, "\xef\xbb\xbf", 3, "\\xef\\xbb\\xbf"); /* U+FEFF */
    check_escape(64, "\xe2\x80\xa7\xe2\x80\xaf", 6,
                 "\xe2\x80\xa7\xe2\x80\xaf"); /* U+2027, U+202F */
}

/* Text that does not fit is cut and ends in "..."; text that fits is whole. */
static void
test_escape_truncation(void **state)
{
    (void)state;
    /* Exactly fits: 5 bytes and the NUL. */
    check_escape(6, "abcde", 5, "abcde");
    check_escape(5, "\x01", 1, "\\x01");
    check_escape(9, "a\x01\x02", 3, "a\\x01...");
    check_escape(10, "a\x01\x02", 3, "a\\x01\\x02");
    check_escape(13, "a\x01\x02", 3, "a\\x01\\x02");
    /* One byte short. */
    check_escape(6, "abcdef", 6, "ab...");
    check_escape(4, "\x01", 1, "...");
    check_escape(7, "abcdefgh", 8, "abc...");
    check_escape(8, "ab\x01zzzz", 7, "ab...");
    /* Too small even for "...". */
    check_escape(3, "abcdef", 6, "");
    check_escape(1, "abc", 3, "");
    check_escape(1, "", 0, "");
}

/* A zero-sized buffer is not written at all. */
static void
test_escape_zero_size(void **state)
{
    char buf[1] = {'Z'};

    (void)state;
    assert_ptr_equal(util_escape(buf, 0, "abc", 3), buf);
    assert_int_equal(buf[0], 'Z');
}

/* Long input is bounded by the buffer whatever its bytes. */
static void
test_escape_long(void **state)
{
    char src[300], want[80];
    int i;

    (void)state;
    memset(src, '\x01', sizeof src);
    /* 64 bytes: 15 escapes of 4 bytes, "..." and the NUL. */
    strcpy(want, "");
    for (i = 0; i < 15; i++)
        strcat(want, "\\x01");
    strcat(want, "...");
    check_escape(64, src, sizeof src, want);
    memset(src, 'q', sizeof src);
    memset(want, 'q', 60);
    strcpy(want + 60, "...");
    check_escape(64, src, sizeof src, want);
}

/* Tokens are non-empty runs of bytes above space, DEL excluded. */
static void
test_token_ok(void **state)
{
    (void)state;
    assert_int_equal(util_token_ok("alice", 5), 1);
    assert_int_equal(util_token_ok("!~", 2), 1);
    assert_int_equal(util_token_ok("caf\xc3\xa9", 5), 1);
    assert_int_equal(util_token_ok("", 0), 0);
    assert_int_equal(util_token_ok("a b", 3), 0);
    assert_int_equal(util_token_ok("a\tb", 3), 0);
    assert_int_equal(util_token_ok("ab\r", 3), 0);
    assert_int_equal(util_token_ok("a\0b", 3), 0);
    assert_int_equal(util_token_ok("a\x7f", 2), 0);
    assert_int_equal(util_token_ok("\x1b", 1), 0);
    /* Only len bytes are looked at. */
    assert_int_equal(util_token_ok("ab cd", 2), 1);
}

/* Well-formed UTF-8 passes; a stray, cut, overlong, surrogate or too large sequence does not. */
static void
test_utf8_ok(void **state)
{
    (void)state;
    assert_int_equal(util_utf8_ok("", 0), 1);
    assert_int_equal(util_utf8_ok("alice", 5), 1);
    assert_int_equal(util_utf8_ok("j\xc3\xb6rg", 5), 1);
    assert_int_equal(util_utf8_ok("\xe2\x82\xac\xf0\x9f\x98\x80", 7), 1);
    assert_int_equal(util_utf8_ok("x\x9b", 2), 0);            /* a continuation byte alone */
    assert_int_equal(util_utf8_ok("\xc3", 1), 0);             /* cut short */
    assert_int_equal(util_utf8_ok("\xc3\xb6", 1), 0);         /* cut by len */
    assert_int_equal(util_utf8_ok("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(util_utf8_ok("\xe0\x80\xaf", 3), 0);     /* overlong */
    assert_int_equal(util_utf8_ok("\xed\xa0\x80", 3), 0);     /* a surrogate */
    assert_int_equal(util_utf8_ok("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    assert_int_equal(util_utf8_ok("\xff", 1), 0);
}

/* util_wipe zeroes exactly the bytes it is given. */
static void
test_wipe(void **state)
{
    char buf[8] = "secret!";

    (void)state;
    util_wipe(buf + 1, 5);
    assert_int_equal(buf[0], 's');
    assert_memory_equal(buf + 1, "\0\0\0\0\0", 5);
    assert_int_equal(buf[6], '!');
}

/* --config-dir wins, then a non-empty $HCS_CONFIG_DIR, then HCS_DEFAULT_CONFIG_DIR. */
static void
test_config_dir(void **state)
{
    (void)state;
    assert_int_equal(setenv("HCS_CONFIG_DIR", "/env/dir", 1), 0);
    assert_string_equal(util_config_dir("/opt/dir"), "/opt/dir");
    assert_string_equal(util_config_dir(NULL), "/env/dir");
    assert_int_equal(setenv("HCS_CONFIG_DIR", "", 1), 0);
    assert_string_equal(util_config_dir(NULL), HCS_DEFAULT_CONFIG_DIR);
    assert_int_equal(unsetenv("HCS_CONFIG_DIR"), 0);
    assert_string_equal(util_config_dir(NULL), HCS_DEFAULT_CONFIG_DIR);
    assert_string_equal(util_config_dir(""), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uint_rejects_non_digits),
        cmocka_unit_test(test_parse_uint_accepts_decimals),
        cmocka_unit_test(test_parse_uint_overflow),
        cmocka_unit_test(test_parse_uint_range),
        cmocka_unit_test(test_parse_uint_length),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_path_relative),
        cmocka_unit_test(test_escape_bytes),
        cmocka_unit_test(test_escape_truncation),
        cmocka_unit_test(test_escape_c1_and_bad_utf8),
        cmocka_unit_test(test_escape_invisible),
        cmocka_unit_test(test_escape_zero_size),
        cmocka_unit_test(test_escape_long),
        cmocka_unit_test(test_token_ok),
        cmocka_unit_test(test_utf8_ok),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_config_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
