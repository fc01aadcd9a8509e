/* test_datafile.c: whitespace rows from memory and from files, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "datafile.h"

/*
 * Read every row of data as "line:field|field ..." into out; returns what the
 * last datafile_next returned (0 at the end, -1 with the message in err).
 */
static int
rows(const char *data, size_t len, char *out, size_t outlen, char *err, size_t errlen)
{
    struct datafile df;
    size_t o = 0;
    int rc, i;

    err[0] = '\0';
    out[0] = '\0';
    assert_int_equal(datafile_open_mem(&df, "avail.txt", data, len, err, errlen), 0);
    while ((rc = datafile_next(&df, err, errlen)) == 1) {
        o += (size_t)snprintf(out + o, outlen - o, "%s%u:", o ? " " : "", df.line);
        for (i = 0; i < df.nfields; i++) {
            assert_int_equal(df.len[i], strlen(df.field[i]));
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "|" : "", df.field[i]);
        }
        assert_true(o < outlen);
    }
    datafile_close(&df);
    return rc;
}

/* Check the rows of a NUL-terminated text: they end cleanly with want. */
static void
check_rows(const char *text, const char *want)
{
    char out[4096], err[256];

    assert_int_equal(rows(text, strlen(text), out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, want);
    assert_string_equal(err, "");
}

/* Check that data (len bytes) fails with message after the rows in want. */
static void
check_error(const char *data, size_t len, const char *want, const char *message)
{
    char out[4096], err[256];

    assert_int_equal(rows(data, len, out, sizeof out, err, sizeof err), -1);
    assert_string_equal(out, want);
    assert_string_equal(err, message);
}

/* Check that a NUL-terminated text fails with message after the rows in want. */
static void
check_error_text(const char *text, const char *want, const char *message)
{
    check_error(text, strlen(text), want, message);
}

/* Rows split into fields with their line numbers. */
static void
test_plain_rows(void **state)
{
    (void)state;
    check_rows("alice 1234\nbob secret\n", "1:alice|1234 2:bob|secret");
    check_rows("a\n", "1:a");
    check_rows("doc1 Mon 10:00 extra\n", "1:doc1|Mon|10:00|extra");
    check_rows("caf\xc3\xa9 \xe2\x82\xac"
               "5\n",
               "1:caf\xc3\xa9|\xe2\x82\xac"
               "5");
}

/* "\r\n" ends a line as "\n" does, also on the last line. */
static void
test_crlf(void **state)
{
    (void)state;
    check_rows("a b\r\nc\r\n", "1:a|b 2:c");
    check_rows("a b\r\nc\nd\r\n", "1:a|b 2:c 3:d");
    check_rows("x\r", "1:x");
    check_rows("x y\r\n\r\n", "1:x|y");
}

/* The last line needs no newline. */
static void
test_missing_final_newline(void **state)
{
    (void)state;
    check_rows("a b\nc", "1:a|b 2:c");
    check_rows("only", "1:only");
    check_rows("a\n\n\nlast one", "1:a 4:last|one");
}

/* Blank lines, including whitespace-only ones, are skipped but counted. */
static void
test_blank_lines(void **state)
{
    (void)state;
    check_rows("\n\na\n \t \n\r\nb\n\n", "3:a 6:b");
    check_rows("\n", "");
    check_rows("\n\n\n \n\t\n", "");
    check_rows("   ", "");
}

/* Runs of spaces and tabs, leading and trailing, separate fields like one space. */
static void
test_spaces_and_tabs(void **state)
{
    (void)state;
    check_rows("  a \t\t b   c\t\n", "1:a|b|c");
    check_rows("\ta\tb\t\r\n", "1:a|b");
    check_rows("a  b\n   c    d   \n", "1:a|b 2:c|d");
}

/* Eight fields are allowed; a ninth is an error on its line. */
static void
test_field_limit(void **state)
{
    (void)state;
    check_rows("1 2 3 4 5 6 7 8\n", "1:1|2|3|4|5|6|7|8");
    check_rows("1 2 3 4 5 6 7 8   \n", "1:1|2|3|4|5|6|7|8");
    check_error_text("ok\n\n1 2 3 4 5 6 7 8 9\nnext\n", "1:ok", "avail.txt:3: too many fields");
}

/* A NUL byte inside a row is an error on the right line. */
static void
test_nul_byte(void **state)
{
    static const char data[] = "a 1\nb\0c 2\nd 3\n";

    (void)state;
    check_error(data, sizeof data - 1, "1:a|1",
                "avail.txt:2: control character (byte 0x00) in row");
    check_error("\0", 1, "", "avail.txt:1: control character (byte 0x00) in row");
    check_error("a\n\n \0\n", 6, "1:a", "avail.txt:3: control character (byte 0x00) in row");
}

/* Other control bytes and DEL are errors too; a lone CR is one. */
static void
test_control_bytes(void **state)
{
    (void)state;
    check_error_text("ok 1\nbad\x01x 2\n", "1:ok|1",
                     "avail.txt:2: control character (byte 0x01) in row");
    check_error_text("a\rb\n", "", "avail.txt:1: control character (byte 0x0d) in row");
    check_error_text("a\r\r\n", "", "avail.txt:1: control character (byte 0x0d) in row");
    check_error_text("a\x7f\n", "", "avail.txt:1: control character (byte 0x7f) in row");
    check_error_text("a\vb\n", "", "avail.txt:1: control character (byte 0x0b) in row");
    check_error_text("a\fb\n", "", "avail.txt:1: control character (byte 0x0c) in row");
    check_error_text("x\n\x1b[2J\n", "1:x", "avail.txt:2: control character (byte 0x1b) in row");
    check_error_text("\n\n\n\x1f", "", "avail.txt:4: control character (byte 0x1f) in row");
}

/* An empty file has no rows and is not an error. */
static void
test_empty(void **state)
{
    char out[64], err[64];

    (void)state;
    assert_int_equal(rows("", 0, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "");
    assert_string_equal(err, "");
}

/* Line numbers stay right over many lines; lines up to the limit are read whole. */
static void
test_many_and_long_lines(void **state)
{
    size_t size = 200000, o = 0;
    char *text = malloc(size), err[256];
    struct datafile df;
    unsigned i;

    (void)state;
    assert_non_null(text);
    for (i = 1; i < 1000; i++)
        o += (size_t)snprintf(text + o, size - o, "%s%u\n", i % 2 ? "row " : "", i);
    memset(text + o, 'x', DATAFILE_MAXLINE - 2);
    o += DATAFILE_MAXLINE - 2;
    memcpy(text + o, " y\n\x02", 4);
    o += 4;
    assert_int_equal(datafile_open_mem(&df, "big.txt", text, o, err, sizeof err), 0);
    for (i = 1; i < 1000; i++) {
        assert_int_equal(datafile_next(&df, err, sizeof err), 1);
        assert_int_equal(df.line, i);
        assert_int_equal(df.nfields, i % 2 ? 2 : 1);
    }
    assert_int_equal(datafile_next(&df, err, sizeof err), 1);
    assert_int_equal(df.line, 1000);
    assert_int_equal(df.nfields, 2);
    assert_int_equal(df.len[0], DATAFILE_MAXLINE - 2);
    assert_string_equal(df.field[1], "y");
    assert_int_equal(datafile_next(&df, err, sizeof err), -1);
    assert_string_equal(err, "big.txt:1001: control character (byte 0x02) in row");
    datafile_close(&df);
    free(text);
}

/* datafile_error names the file and the current line; the end stays the end. */
static void
test_error_format(void **state)
{
    static const char data[] = "a\n\nb c\n";
    struct datafile df;
    char err[256], small[12];

    (void)state;
    assert_int_equal(datafile_open_mem(&df, "users.txt", data, sizeof data - 1, err, sizeof err),
                     0);
    assert_int_equal(datafile_next(&df, err, sizeof err), 1);
    assert_int_equal(datafile_next(&df, err, sizeof err), 1);
    assert_int_equal(datafile_error(&df, err, sizeof err, "duplicate user '%s' (first on line %d)",
                                    df.field[0], 1),
                     -1);
    assert_string_equal(err, "users.txt:3: duplicate user 'b' (first on line 1)");
    assert_int_equal(datafile_error(&df, small, sizeof small, "%s", "truncated message"), -1);
    assert_string_equal(small, "users.txt:3");
    assert_int_equal(datafile_next(&df, err, sizeof err), 0);
    assert_int_equal(datafile_next(&df, err, sizeof err), 0);
    datafile_close(&df);
    datafile_close(&df);
}

/* A missing file cannot be opened, and says why. */
static void
test_open_missing(void **state)
{
    struct datafile df;
    char err[256];

    (void)state;
    assert_int_equal(datafile_open(&df, "/nonexistent-hcs-dir/users.txt", err, sizeof err), -1);
    assert_string_equal(err,
                        "/nonexistent-hcs-dir/users.txt: cannot open: No such file or directory");
    assert_null(df.fp);
    datafile_close(&df);
}

/* A real file reads like memory, and its path names it in messages. */
static void
test_open_file(void **state)
{
    static const char data[] = "doc1 Mon 10:00\r\n\tdoc2  Tue 11:00\n\x7f";
    char path[] = "/tmp/hcs-test-datafile-XXXXXX", err[256], want[300];
    struct datafile df;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, sizeof data - 1), sizeof data - 1);
    assert_int_equal(close(fd), 0);
    assert_int_equal(datafile_open(&df, path, err, sizeof err), 0);
    assert_int_equal(unlink(path), 0); /* the open file stays readable */
    assert_int_equal(datafile_next(&df, err, sizeof err), 1);
    assert_int_equal(df.nfields, 3);
    assert_string_equal(df.field[2], "10:00");
    assert_int_equal(datafile_next(&df, err, sizeof err), 1);
    assert_int_equal(df.line, 2);
    assert_string_equal(df.field[0], "doc2");
    assert_string_equal(df.field[1], "Tue");
    assert_int_equal(datafile_next(&df, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: control character (byte 0x7f) in row", path);
    assert_string_equal(err, want);
    datafile_close(&df);
}

/* A folder opens but cannot be read: a read error on line 1. */
static void
test_open_directory(void **state)
{
    char path[] = "/tmp/hcs-test-datafile-XXXXXX", err[256], want[300];
    struct datafile df;

    (void)state;
    assert_non_null(mkdtemp(path));
    assert_int_equal(datafile_open(&df, path, err, sizeof err), 0);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(datafile_next(&df, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:1: read error: Is a directory", path);
    assert_string_equal(err, want);
    datafile_close(&df);
}

/* A datafile_read_fn that counts rows into ctx, failing on a row "bad". */
static int
count_rows(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    int rc;

    while ((rc = datafile_next(df, err, errlen)) == 1) {
        if (strcmp(df->field[0], "bad") == 0)
            return datafile_error(df, err, errlen, "bad row");
        (*(int *)ctx)++;
    }
    return rc;
}

/* datafile_load opens from memory or disk, passes the file on, and closes it. */
static void
test_load(void **state)
{
    char err[256];
    int rows = 0;

    (void)state;
    assert_int_equal(datafile_load("mem", "a 1\n\nb 2", 8, count_rows, &rows, err, sizeof err), 0);
    assert_int_equal(rows, 2);
    rows = 0;
    assert_int_equal(datafile_load("mem", "", 0, count_rows, &rows, err, sizeof err), 0);
    assert_int_equal(rows, 0);
    assert_int_equal(datafile_load("mem", "a\nbad\n", 6, count_rows, &rows, err, sizeof err), -1);
    assert_string_equal(err, "mem:2: bad row");
    assert_int_equal(
        datafile_load("/nonexistent/rows.txt", NULL, 0, count_rows, &rows, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/rows.txt: cannot open: No such file or directory");
}

/* Callback of datafile_load that reads every row. */
static int
read_all(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    int rc;

    while ((rc = datafile_next(df, err, errlen)) == 1)
        ++*(int *)ctx;
    return rc;
}

/* A line of DATAFILE_MAXLINE bytes is read (with "\n" or "\r\n"); one byte more is an error. */
static void
test_line_limit(void **state)
{
    static char text[2 * DATAFILE_MAXLINE + 16];
    char err[256] = "";
    int rows = 0;

    (void)state;
    memset(text, 'a', DATAFILE_MAXLINE);
    memcpy(text + DATAFILE_MAXLINE, "\r\nb\n", 4);
    assert_int_equal(
        datafile_load("f", text, DATAFILE_MAXLINE + 4, read_all, &rows, err, sizeof err), 0);
    assert_int_equal(rows, 2);
    rows = 0;
    memset(text, 'a', DATAFILE_MAXLINE + 1);
    text[DATAFILE_MAXLINE + 1] = '\n';
    assert_int_equal(
        datafile_load("f", text, DATAFILE_MAXLINE + 2, read_all, &rows, err, sizeof err), -1);
    assert_string_equal(err, "f:1: line longer than 4096 bytes");
    /* Without any newline: a file that never ends a line (/dev/zero) is refused at once. */
    memcpy(text, "x y\n", 4);
    memset(text + 4, 'z', sizeof text - 4);
    rows = 0;
    assert_int_equal(datafile_load("g", text, sizeof text, read_all, &rows, err, sizeof err), -1);
    assert_string_equal(err, "g:2: line longer than 4096 bytes");
    assert_int_equal(rows, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_rows),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_missing_final_newline),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_spaces_and_tabs),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many_and_long_lines),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_open_file),
        cmocka_unit_test(test_open_directory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
