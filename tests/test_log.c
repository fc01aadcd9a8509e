/* test_log.c: unit tests of log.c: the journal's "<N>" priorities, timestamps for a plain
 * file, $JOURNAL_STREAM matched against the descriptor, the screen lines' prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* The next datagram on fd within a second, NUL-terminated in buf; its length, or -1. */
static ssize_t
next_datagram(int fd, char *buf, size_t size)
{
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;

    if (poll(&p, 1, 1000) != 1 || (n = recv(fd, buf, size - 1, 0)) < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/*
 * --syslog: one RFC 3164 datagram per line, facility daemon, the program
 * and its pid; a socket that takes nothing more (its reader stopped) never
 * makes the caller wait: the lines are dropped and counted, and the count
 * comes first once the socket takes lines again. Last: it stays LOG_SYSLOG.
 */
static void
test_syslog_socket(void **state)
{
    char dir[] = "/tmp/test_log.XXXXXX", path[64], buf[4096], want[128];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd, i, n = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log", dir);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    assert_true((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    log_init("t", 0);
    log_syslog_at(path);
    assert_int_equal(log_destination(), LOG_SYSLOG);
    log_warnx("to syslog");
    assert_true(next_datagram(fd, buf, sizeof buf) > 0);
    /* <28>Dec  6 08:30:00 t[123]: to syslog (daemon 3 << 3, warning 4) */
    assert_int_equal(strncmp(buf, "<28>", 4), 0);
    assert_true(buf[7] == ' ' && buf[10] == ' ' && buf[13] == ':' && buf[16] == ':');
    snprintf(want, sizeof want, " t[%ld]: to syslog", (long)getpid());
    assert_string_equal(buf + 19, want);
    log_text(LOGP_ERR, "a.conf:1: one\na.conf:2: two\n");
    assert_true(next_datagram(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "<27>", 4), 0);
    assert_non_null(strstr(buf, "]: a.conf:1: one"));
    assert_true(next_datagram(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "]: a.conf:2: two"));

    /* Nobody reads: far more lines than the socket's queue holds, none waited for. */
    alarm(20);
    for (i = 0; i < 5000; i++)
        log_info("line %d", i);
    alarm(0);
    while (next_datagram(fd, buf, sizeof buf) > 0)
        n++;
    assert_true(n > 0 && n < 5000);
    log_info("after");
    assert_true(next_datagram(fd, buf, sizeof buf) > 0);
    snprintf(want, sizeof want, "]: %d log lines dropped: the syslog socket did not take them",
             5000 - n);
    assert_non_null(strstr(buf, want));
    assert_int_equal(strncmp(buf, "<28>", 4), 0);
    assert_true(next_datagram(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "]: after"));
    close(fd);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_match),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_prefixed),
        cmocka_unit_test(test_journal_lines),
        cmocka_unit_test(test_file_lines),
        cmocka_unit_test(test_syslog_socket), /* last: the log stays on syslog */
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
