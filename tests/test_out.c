/* test_out.c: unit tests of out.c: lines in order, never blocking on a stalled pipe, whole
 * lines dropped and counted and told once, a bounded flush and stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out.h"

#define NOTICE "of output dropped: the reader did not keep up"

/* The two pipes a test gives out.c in place of stdout and stderr. */
struct pipes {
    int out[2];
    int err[2];
};

/* Milliseconds of a monotonic clock. */
static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make both pipes, their read ends non-blocking. */
static void
pipes_open(struct pipes *p)
{
    assert_int_equal(pipe(p->out), 0);
    assert_int_equal(pipe(p->err), 0);
    assert_int_not_equal(fcntl(p->out[0], F_SETFL, O_NONBLOCK), -1);
    assert_int_not_equal(fcntl(p->err[0], F_SETFL, O_NONBLOCK), -1);
}

/* Close every end still open. */
static void
pipes_close(struct pipes *p)
{
    close(p->out[0]);
    close(p->out[1]);
    close(p->err[0]);
    close(p->err[1]);
}

/* Fill a pipe from its write end until it holds no more (as for a reader that stopped). */
static void
pipe_fill(int fd)
{
    static const char filler[] = "filler\n";
    int fl = fcntl(fd, F_GETFL);

    assert_int_not_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), -1);
    while (write(fd, filler, sizeof filler - 1) > 0)
        ;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_not_equal(fcntl(fd, F_SETFL, fl), -1);
}

/* Teardown: stop out.c even after a failed assertion, so the next test can start it. */
static int
out_teardown(void **state)
{
    (void)state;
    out_stop();
    return 0;
}

/* Read fd until it has been quiet for quiet_ms (at most 10 s); returns a malloc'd string. */
static char *
drain(int fd, int quiet_ms)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    long long end = now_ms() + 10000;

    assert_non_null(buf);
    while (now_ms() < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, quiet_ms) <= 0)
            break;
        if (len + 65536 + 1 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        n = read(fd, buf + len, 65536);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* text must start with the lines "word 0" to "word n-1"; returns what follows them. */
static const char *
expect_numbered(const char *text, const char *word, int n)
{
    char want[64];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(want, sizeof want, "%s %d\n", word, i);
        assert_memory_equal(text, want, strlen(want));
        text += strlen(want);
    }
    return text;
}

/* Lines reach the pipes in order, one stream independent of the other, each promptly. */
static void
test_order(void **state)
{
    struct pipes p;
    char *out, *err;
    int i;

    (void)state;
    pipes_open(&p);
    assert_int_equal(out_start_fds("t", p.out[1], p.err[1], 65536), 0);
    out_line(OUT_STDOUT, "first");
    /* A line is written at once: no timer, no buffering until a newline or a flush. */
    out = drain(p.out[0], 2000);
    assert_string_equal(out, "first\n");
    free(out);
    for (i = 0; i < 500; i++) {
        out_line(OUT_STDOUT, "line %d", i);
        out_line(OUT_STDERR, "log %d", i);
    }
    out_write(OUT_STDOUT, "two\nlines\n", 10);
    assert_int_equal(out_flush(2000), 0);
    out = drain(p.out[0], 100);
    err = drain(p.err[0], 100);
    assert_string_equal(expect_numbered(out, "line", 500), "two\nlines\n");
    assert_string_equal(expect_numbered(err, "log", 500), "");
    assert_int_equal(out_dropped(OUT_STDOUT), 0);
    out_stop();
    free(out);
    free(err);
    pipes_close(&p);
}

/* A long line (over the formatting buffer and PIPE_BUF) arrives whole. */
static void
test_long_line(void **state)
{
    struct pipes p;
    char *big = malloc(10001), *out;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    pipes_open(&p);
    assert_int_equal(out_start_fds("t", p.out[1], p.err[1], 65536), 0);
    out_line(OUT_STDOUT, "%s", big);
    out_line(OUT_STDOUT, "after");
    out = drain(p.out[0], 500);
    assert_int_equal(strlen(out), 10000 + 1 + 6);
    assert_memory_equal(out, big, 10000);
    assert_string_equal(out + 10000, "\nafter\n");
    out_stop();
    free(out);
    free(big);
    pipes_close(&p);
}

/*
 * Nobody reads stdout: lines never block, whole lines are dropped and
 * counted, and once the writer catches up one line says how many; everything
 * kept plus the counts is everything written, in order.
 */
static void
test_stalled_reader(void **state)
{
    struct pipes p;
    long long t0;
    char *out, *line, *save = NULL;
    unsigned long long told = 0, kept = 0;
    int i, last = -1, notices = 0, total = 20000;

    (void)state;
    pipes_open(&p);
    pipe_fill(p.out[1]);
    assert_int_equal(out_start_fds("hcs", p.out[1], p.err[1], 8192), 0);
    t0 = now_ms();
    for (i = 0; i < total; i++)
        out_line(OUT_STDOUT, "screen line %06d with some padding to make it longer", i);
    /* 20,000 lines of 55 bytes (1.1 MB) onto a full pipe nobody reads, at once. */
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(out_flush(100), -1);
    assert_true(out_dropped(OUT_STDOUT) > 0);
    assert_int_equal(out_dropped(OUT_STDERR), 0);
    out = drain(p.out[0], 300);
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        int n;

        if (strcmp(line, "filler") == 0)
            continue;
        if (strstr(line, NOTICE) != NULL) {
            assert_memory_equal(line, "hcs: ", 5);
            told += strtoull(line + 5, NULL, 10);
            notices++;
            continue;
        }
        assert_int_equal(sscanf(line, "screen line %d", &n), 1);
        assert_true(n > last);
        assert_string_equal(line + 18, " with some padding to make it longer");
        last = n;
        kept++;
    }
    /* One notice per stretch of drops (the writer may catch up half-way while lines come). */
    assert_true(notices >= 1);
    assert_int_equal(told, out_dropped(OUT_STDOUT));
    assert_int_equal(kept + told, (unsigned long long)total);
    assert_int_equal(out_flush(1000), 0);
    out_stop();
    free(out);
    pipes_close(&p);
}

/* A reader that never comes back: out_stop gives up after OUT_FLUSH_MS, and later lines go
 * straight to stdio. */
static void
test_stop_bounded(void **state)
{
    struct pipes p;
    long long t0;
    int i;

    (void)state;
    pipes_open(&p);
    pipe_fill(p.err[1]);
    assert_int_equal(out_start_fds("t", p.out[1], p.err[1], 8192), 0);
    for (i = 0; i < 5000; i++)
        out_line(OUT_STDERR, "log line %d that nobody reads", i);
    t0 = now_ms();
    out_stop();
    assert_true(now_ms() - t0 >= OUT_FLUSH_MS - 50);
    assert_true(now_ms() - t0 < OUT_FLUSH_MS + 1000);
    out_stop();
    /* The abandoned writer is still blocked on its pipe; a new start is independent. */
    assert_int_equal(out_start_fds("t", p.out[1], p.err[1], 8192), 0);
    out_line(OUT_STDOUT, "again");
    assert_int_equal(out_flush(2000), 0);
    out_stop();
    free(drain(p.out[0], 100));
    /* Reading the stalled pipe lets the abandoned writer finish and free its queue. */
    free(drain(p.err[0], 300));
    pipes_close(&p);
}

/* A descriptor that fails (the reader closed the pipe) discards lines without blocking. */
static void
test_broken_pipe(void **state)
{
    struct pipes p;
    int i;

    (void)state;
    pipes_open(&p);
    close(p.out[0]);
    p.out[0] = -1;
    assert_int_equal(out_start_fds("t", p.out[1], p.err[1], 8192), 0);
    for (i = 0; i < 2000; i++)
        out_line(OUT_STDOUT, "to nobody %d", i);
    assert_int_equal(out_flush(2000), 0);
    out_stop();
    pipes_close(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_order, out_teardown),
        cmocka_unit_test_teardown(test_long_line, out_teardown),
        cmocka_unit_test_teardown(test_stalled_reader, out_teardown),
        cmocka_unit_test_teardown(test_stop_bounded, out_teardown),
        cmocka_unit_test_teardown(test_broken_pipe, out_teardown),
    };

    /* The broken pipe must come back as EPIPE, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
