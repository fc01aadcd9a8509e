/* test_log.c: unit tests of log.c: the journal's "<N>" priorities, timestamps for a plain
 * file, $JOURNAL_STREAM matched against the descriptor, the screen lines' prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "out.h"

/* $JOURNAL_STREAM is "DEV:INO" in decimal, nothing more, and must name the very file. */
static void
test_journal_match(void **state)
{
    (void)state;
    assert_true(log_journal_match("12:34", 12, 34));
    assert_true(log_journal_match("0:7", 0, 7));
    assert_false(log_journal_match("12:34", 12, 35));
    assert_false(log_journal_match("12:34", 13, 34));
    assert_false(log_journal_match(NULL, 12, 34));
    assert_false(log_journal_match("", 0, 0));
    assert_false(log_journal_match("12:34x", 12, 34));
    assert_false(log_journal_match("12:34:5", 12, 34));
    assert_false(log_journal_match(":34", 0, 34));
    assert_false(log_journal_match("12:", 12, 0));
    assert_false(log_journal_match("-12:34", 12, 34));
    assert_false(log_journal_match("12:-34", 12, 34));
    assert_false(log_journal_match(" 12:34", 12, 34));
    assert_false(log_journal_match("99999999999999999999999:1", 0, 1));
}

/* Compare log_format's result with want, and free it. */
static void
expect_format(enum log_dest dest, enum log_prio prio, const char *text, const char *want)
{
    struct timespec ts = {0, 123456789};
    char *got = log_format(dest, prio, text, &ts);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Every line gets its priority in the journal, the time in a file, nothing on a terminal. */
static void
test_format(void **state)
{
    (void)state;
    assert_int_equal(setenv("TZ", "UTC", 1), 0);
    tzset();
    expect_format(LOG_JOURNAL, LOGP_ERR, "hcs: cannot listen", "<3>hcs: cannot listen\n");
    expect_format(LOG_JOURNAL, LOGP_WARNING, "w", "<4>w\n");
    expect_format(LOG_JOURNAL, LOGP_INFO, "i\n", "<6>i\n");
    expect_format(LOG_JOURNAL, LOGP_DEBUG, "d", "<7>d\n");
    expect_format(LOG_JOURNAL, LOGP_ERR, "a.conf:1: bad\na.conf:2: worse\n",
                  "<3>a.conf:1: bad\n<3>a.conf:2: worse\n");
    expect_format(LOG_JOURNAL, LOGP_INFO, "a\n\nb", "<6>a\n<6>\n<6>b\n");
    expect_format(LOG_JOURNAL, LOGP_INFO, "", "<6>\n");
    expect_format(LOG_PLAIN, LOGP_ERR, "a\nb\n", "a\nb\n");
    expect_format(LOG_PLAIN, LOGP_WARNING, "hcs: w", "hcs: w\n");
    expect_format(LOG_FILE, LOGP_WARNING, "hcs: w\nmore",
                  "1970-01-01T00:00:00.123+0000 hcs: w\n1970-01-01T00:00:00.123+0000 more\n");
}

/* out.c puts a stream's prefix before each line that has no priority of its own. */
static void
test_prefixed(void **state)
{
    const char *text = "Phase 1: a\n<4>warned\nPhase 2: b\n<9>not one\n";
    size_t len;
    char *got;

    (void)state;
    got = out_prefixed("<6>", text, strlen(text), &len);
    assert_non_null(got);
    assert_string_equal(got, "<6>Phase 1: a\n<4>warned\n<6>Phase 2: b\n<6><9>not one\n");
    assert_int_equal(len, strlen(got));
    free(got);
}

/* Point descriptor fd at the write end of a new pipe; return its read end (non-blocking). */
static int
redirect_to_pipe(int fd, int *saved)
{
    int p[2];

    fflush(stdout);
    fflush(stderr);
    assert_int_equal(pipe(p), 0);
    *saved = dup(fd);
    assert_true(*saved >= 0);
    assert_int_equal(dup2(p[1], fd), fd);
    close(p[1]);
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    return p[0];
}

/* What the pipe holds now, NUL-terminated (at most size - 1 bytes). */
static const char *
drain(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Set $JOURNAL_STREAM to the dev:ino of descriptor fd. */
static void
set_journal_stream(int fd)
{
    struct stat st;
    char v[64];

    assert_int_equal(fstat(fd, &st), 0);
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

/* Restore descriptor fd from saved. */
static void
restore(int fd, int saved)
{
    fflush(fd == STDOUT_FILENO ? stdout : stderr);
    assert_int_equal(dup2(saved, fd), fd);
    close(saved);
}

/*
 * With $JOURNAL_STREAM naming stderr, each log function gives its priority;
 * stdout, another file, keeps its lines as they are. Naming stdout too gives
 * the screen lines the info priority.
 */
static void
test_journal_lines(void **state)
{
    int se, so, er, ou;
    char buf[1024];

    (void)state;
    er = redirect_to_pipe(STDERR_FILENO, &se);
    ou = redirect_to_pipe(STDOUT_FILENO, &so);
    set_journal_stream(STDERR_FILENO);
    log_init("t", 1);
    assert_int_equal(log_destination(), LOG_JOURNAL);
    log_warnx("w %d", 1);
    log_info("i");
    log_debug("d");
    log_text(LOGP_ERR, "f.conf:3: bad\nf.conf:4: bad too");
    out_line(OUT_STDOUT, "Phase 1: screen");
    assert_string_equal(drain(er, buf, sizeof buf),
                        "<4>t: w 1\n<6>t: i\n<7>t: d\n<3>f.conf:3: bad\n<3>f.conf:4: bad too\n");
    assert_string_equal(drain(ou, buf, sizeof buf), "Phase 1: screen\n");

    set_journal_stream(STDOUT_FILENO);
    log_init("t", 0);
    assert_int_equal(log_destination(), LOG_PLAIN);
    out_line(OUT_STDOUT, "Phase 1: screen");
    log_warnx("plain");
    log_debug("not shown");
    assert_string_equal(drain(ou, buf, sizeof buf), "<6>Phase 1: screen\n");
    assert_string_equal(drain(er, buf, sizeof buf), "t: plain\n");

    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    log_init("t", 0);
    out_line(OUT_STDOUT, "Phase 1: screen");
    assert_string_equal(drain(ou, buf, sizeof buf), "Phase 1: screen\n");
    restore(STDOUT_FILENO, so);
    restore(STDERR_FILENO, se);
    close(er);
    close(ou);
}

/* Stderr on a regular file: each line starts with the local date and time. */
static void
test_file_lines(void **state)
{
    char path[] = "/tmp/test_log.XXXXXX", buf[512];
    int fd, se;
    ssize_t n;

    (void)state;
    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    assert_true((fd = mkstemp(path)) >= 0);
    unlink(path);
    fflush(stderr);
    se = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_init("t", 0);
    assert_int_equal(log_destination(), LOG_FILE);
    log_warnx("to a file");
    restore(STDERR_FILENO, se);
    n = pread(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    /* 2026-12-01T13:48:00.123+0000 t: to a file */
    assert_int_equal(strlen(buf), 29 + strlen("t: to a file\n"));
    assert_true(buf[4] == '-' && buf[7] == '-' && buf[10] == 'T' && buf[13] == ':' &&
                buf[19] == '.' && (buf[23] == '+' || buf[23] == '-') && buf[28] == ' ');
    assert_string_equal(buf + 29, "t: to a file\n");
    close(fd);
    log_init("t", 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_match), cmocka_unit_test(test_format),
        cmocka_unit_test(test_prefixed),      cmocka_unit_test(test_journal_lines),
        cmocka_unit_test(test_file_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
