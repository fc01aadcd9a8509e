/* test_conn.c: the connection state machine, fed from memory (no sockets); and its deadlines,
 * on socketpairs and a real event loop (the center's one heap of deadlines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "center.h"
#include "conn.h"
#include "out.h"
#include "trace.h"
#include "transport.h"

#define TEST_MAX_LINE 64

static const char test_users[] = "alice pw1\r\nbob pw2\n\ncarol pw3";
static const char test_slots[] = "10 Mon 09am docA 41001\n"
                                 "2 Tue 10am docB 41002\n"
                                 "11 Wed 11am docA 41001\n";

static const char test_conf[] = "[center]\n"
                                "users = users.txt\n"
                                "availabilities = availabilities.txt\n"
                                "max_line = 64\n"
                                "max_output = 4096\n"
                                "max_clients = 100\n";

/* A center with the test data, the memory store and no sockets. */
static int
setup(void **state)
{
    struct center *c = calloc(1, sizeof *c);
    char err[256];

    assert_non_null(c);
    if (center_init_text(c, test_conf, test_users, test_slots, 1, err, sizeof err) == -1)
        fail_msg("center_init_text: %s", err);
    assert_int_equal(c->cfg.max_line, TEST_MAX_LINE);
    assert_string_equal(store_name(c->store), "memory");
    *state = c;
    return 0;
}

/* Free the center and every connection left. */
static int
teardown(void **state)
{
    struct center *c = *state;

    center_free(c);
    free(c);
    return 0;
}

/* Take everything queued to c as a string (static buffer). */
static const char *
take(struct conn *c)
{
    static char buf[8192];
    size_t n = conn_outlen(c);

    assert_true(n < sizeof buf);
    if (n > 0)
        evbuffer_remove(c->out, buf, n);
    buf[n] = '\0';
    return buf;
}

/* Send a string and return what came back. */
static const char *
say(struct conn *c, const char *s)
{
    conn_feed(c, s, strlen(s));
    return take(c);
}

/* A new connection logged in as user (or not logged in if user is NULL). */
static struct conn *
login(struct center *center, const char *user, const char *pw)
{
    struct conn *c = conn_new(center, -1, NULL, NULL);
    char line[128];

    assert_non_null(c);
    if (user != NULL) {
        snprintf(line, sizeof line, "authenticate %s %s\n", user, pw);
        assert_string_equal(say(c, line), "success\n");
        assert_int_equal(c->state, CONN_READY);
    }
    return c;
}

static void
test_full_session(void **state)
{
    struct conn *c = login(*state, "alice", "pw1");

    assert_string_equal(say(c, "available\n"), "slots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\n");
    assert_string_equal(say(c, "appointment\n"), "appointment none\n");
    assert_string_equal(say(c, "selection 11\n"), "docA 41001\n");
    assert_string_equal(say(c, "appointment\n"), "appointment 11 Wed 11am docA 41001\n");
    assert_string_equal(say(c, "available\n"), "slots 2\n10 Mon 09am\n2 Tue 10am\n");
    assert_string_equal(say(c, "cancel\n"), "cancelled 11\n");
    assert_string_equal(say(c, "cancel\n"), "error no-appointment\n");
    assert_string_equal(say(c, "available\n"), "slots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\n");
}

static void
test_crlf_and_pipelining(void **state)
{
    struct conn *c = login(*state, NULL, NULL);

    assert_string_equal(say(c, "authenticate bob pw2\r\navailable\r\nselection 2\r\n"),
                        "success\nslots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\ndocB 41002\n");
}

static void
test_byte_by_byte(void **state)
{
    struct conn *c = login(*state, NULL, NULL);
    const char *s = "authenticate carol pw3\nselection 10\n";
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        conn_feed(c, s + i, 1);
    assert_string_equal(take(c), "success\ndocA 41001\n");
}

static void
test_failure_closes(void **state)
{
    struct conn *c = login(*state, NULL, NULL);

    assert_string_equal(say(c, "authenticate alice wrong\navailable\n"), "failure\n");
    assert_int_equal(c->state, CONN_CLOSING);
    assert_string_equal(say(c, "available\n"), "");
}

static void
test_unknown_user_fails(void **state)
{
    struct conn *c = login(*state, NULL, NULL);

    assert_string_equal(say(c, "authenticate mallory pw1\n"), "failure\n");
    assert_null(c->user);
}

static void
test_order(void **state)
{
    struct conn *c = login(*state, NULL, NULL);

    assert_string_equal(say(c, "available\n"), "error not-authenticated\n");
    assert_string_equal(say(c, "selection 2\n"), "error not-authenticated\n");
    assert_string_equal(say(c, "cancel\n"), "error not-authenticated\n");
    assert_string_equal(say(c, "authenticate alice pw1\n"), "success\n");
    assert_string_equal(say(c, "authenticate alice pw1\n"), "error already-authenticated\n");
    assert_int_equal(c->state, CONN_READY);
}

static void
test_malformed_stays_usable(void **state)
{
    struct conn *c = login(*state, "alice", "pw1");
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\n", "error empty-line\n"},
        {" available\n", "error bad-spacing\n"},
        {"available \n", "error bad-spacing\n"},
        {"selection  2\n", "error bad-spacing\n"},
        {"selection\t2\n", NULL}, /* a tab is a control byte: bad-line, tested below */
        {"available x\n", "error wrong-arguments\n"},
        {"selection\n", "error wrong-arguments\n"},
        {"selection 1 2\n", "error wrong-arguments\n"},
        {"selection -1\n", "error bad-index\n"},
        {"selection +1\n", "error bad-index\n"},
        {"selection 1x\n", "error bad-index\n"},
        {"selection 0\n", "error bad-index\n"},
        {"selection 99999999999999999999\n", "error bad-index\n"},
        {"selection 4294967296\n", "error bad-index\n"},
        {"AVAILABLE\n", "error unknown-command\n"},
        {"frobnicate\n", "error unknown-command\n"},
        {"selection 4294967295\n", "notavailable\n"},
        {"selection 3\n", "notavailable\n"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].out == NULL)
            continue;
        assert_string_equal(say(c, cases[i].in), cases[i].out);
        assert_int_equal(c->state, CONN_READY);
    }
    assert_string_equal(say(c, "selection 2\n"), "docB 41002\n");
}

static void
test_line_too_long(void **state)
{
    struct conn *c = login(*state, NULL, NULL);
    char line[TEST_MAX_LINE + 3];

    /* Exactly max_line bytes is fine (an unknown command). */
    memset(line, 'a', TEST_MAX_LINE);
    strcpy(line + TEST_MAX_LINE, "\n");
    assert_string_equal(say(c, line), "error unknown-command\n");
    /* One more byte is not. */
    memset(line, 'a', TEST_MAX_LINE + 1);
    strcpy(line + TEST_MAX_LINE + 1, "\n");
    assert_string_equal(say(c, line), "error line-too-long\n");
    assert_int_equal(c->state, CONN_CLOSING);
}

static void
test_partial_line_too_long(void **state)
{
    struct conn *c = login(*state, NULL, NULL);
    char line[TEST_MAX_LINE + 3];

    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    assert_string_equal(say(c, line), "error line-too-long\n");
    assert_int_equal(c->state, CONN_CLOSING);
}

static void
test_bad_bytes(void **state)
{
    struct center *center = *state;
    struct conn *c = login(center, NULL, NULL);
    static const char nul[] = "authenticate al\0ice pw1\n";

    conn_feed(c, nul, sizeof nul - 1);
    assert_string_equal(take(c), "error bad-line\n");
    assert_int_equal(c->state, CONN_CLOSING);

    c = login(center, NULL, NULL);
    assert_string_equal(say(c, "avail\rable\n"), "error bad-line\n");
    c = login(center, NULL, NULL);
    assert_string_equal(say(c, "selection\t2\n"), "error bad-line\n");
    /* Bytes from 0x80 up are allowed: a UTF-8 name is only unknown. */
    c = login(center, NULL, NULL);
    assert_string_equal(say(c, "authenticate J\xc3\xb6rg pw1\n"), "failure\n");
}

static void
test_one_slot_one_winner(void **state)
{
    struct center *center = *state;
    struct conn *a = login(center, "alice", "pw1");
    struct conn *b = login(center, "bob", "pw2");

    assert_string_equal(say(a, "selection 2\n"), "docB 41002\n");
    assert_string_equal(say(b, "selection 2\n"), "notavailable\n");
    assert_int_equal(center->sched.nfree, 2);
}

static void
test_one_appointment_per_user(void **state)
{
    struct center *center = *state;
    struct conn *a1 = login(center, "alice", "pw1");
    struct conn *a2 = login(center, "alice", "pw1");

    assert_string_equal(say(a1, "selection 10\n"), "docA 41001\n");
    assert_string_equal(say(a2, "selection 2\n"), "error already-booked 10\n");
    assert_string_equal(say(a2, "appointment\n"), "appointment 10 Mon 09am docA 41001\n");
    assert_string_equal(say(a2, "cancel\n"), "cancelled 10\n");
    assert_string_equal(say(a1, "appointment\n"), "appointment none\n");
    assert_string_equal(say(a1, "selection 2\n"), "docB 41002\n");
}

static void
test_booking_survives_disconnect(void **state)
{
    struct center *center = *state;
    struct conn *a = login(center, "alice", "pw1");

    assert_string_equal(say(a, "selection 10\n"), "docA 41001\n");
    conn_close(a);
    center_reap(center);
    a = login(center, "alice", "pw1");
    assert_string_equal(say(a, "appointment\n"), "appointment 10 Mon 09am docA 41001\n");
}

static void
test_pushes(void **state)
{
    struct center *center = *state;
    struct conn *w = login(center, "alice", "pw1");
    struct conn *b = login(center, "bob", "pw2");
    struct conn *quiet = login(center, "carol", "pw3");

    assert_string_equal(say(w, "available\n"), "slots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\n");
    /* b asks too, so it is subscribed, but is not told of its own booking. */
    say(b, "available\n");
    assert_string_equal(say(b, "selection 2\n"), "docB 41002\n");
    assert_string_equal(take(w), "* reserved 2\n");
    assert_string_equal(take(quiet), "");
    assert_string_equal(say(b, "cancel\n"), "cancelled 2\n");
    assert_string_equal(take(w), "* released 2 Tue 10am\n");
    /* A failed selection changes nothing and tells nobody. */
    assert_string_equal(say(b, "selection 99\n"), "notavailable\n");
    assert_string_equal(take(w), "");
    /* Once w has booked it hears no more. */
    assert_string_equal(say(w, "selection 11\n"), "docA 41001\n");
    assert_string_equal(say(b, "selection 10\n"), "docA 41001\n");
    assert_string_equal(take(w), "");
}

static void
test_push_overflow(void **state)
{
    struct center *center = *state;
    struct conn *w = login(center, "alice", "pw1");
    struct conn *b = login(center, "bob", "pw2");
    int i;

    say(w, "available\n");
    /* Far more than max_output in pushes is fine while the last flush wrote
     * everything (stalled stays 0): w reads as fast as pushes come. */
    for (i = 0; i < 400; i++) {
        assert_string_equal(say(b, "selection 2\n"), "docB 41002\n");
        assert_string_equal(say(b, "cancel\n"), "cancelled 2\n");
        assert_string_equal(take(w), "* reserved 2\n* released 2 Tue 10am\n");
    }
    assert_false(w->overflow);
    assert_true(w->sub.active);
    /* w stops reading: each flush leaves all of it unwritten (as conn_flush
     * records), until what is stalled passes max_output. */
    for (i = 0; i < 400 && !w->overflow; i++) {
        assert_string_equal(say(b, "selection 2\n"), "docB 41002\n");
        assert_string_equal(say(b, "cancel\n"), "cancelled 2\n");
        w->stalled = conn_outlen(w);
    }
    assert_true(w->overflow);
    assert_false(w->sub.active);
    assert_true(conn_outlen(w) <= center->cfg.max_output + 64);
}

static void
test_slots_zero(void **state)
{
    struct center *center = *state;
    struct conn *a = login(center, "alice", "pw1");
    struct conn *b = login(center, "bob", "pw2");
    struct conn *c = login(center, "carol", "pw3");

    assert_string_equal(say(a, "selection 10\n"), "docA 41001\n");
    assert_string_equal(say(b, "selection 2\n"), "docB 41002\n");
    assert_string_equal(say(c, "selection 11\n"), "docA 41001\n");
    assert_string_equal(say(a, "available\n"), "slots 0\n");
}

/* Everything queued to c, as a new string. */
static char *
take_all(struct conn *c)
{
    size_t n = conn_outlen(c);
    char *buf = malloc(n + 1);

    assert_non_null(buf);
    if (n > 0)
        evbuffer_remove(c->out, buf, n);
    buf[n] = '\0';
    return buf;
}

/* The "slots n" reply for slots 1..n of the big schedule, without those in taken. */
static char *
expected_list(unsigned n, const unsigned *taken, size_t ntaken)
{
    char *buf = malloc((size_t)n * 24 + 32), *p;
    unsigned i, nfree = n - (unsigned)ntaken;
    size_t k;

    assert_non_null(buf);
    p = buf + sprintf(buf, "slots %u\n", nfree);
    for (i = 1; i <= n; i++) {
        for (k = 0; k < ntaken && taken[k] != i; k++)
            ;
        if (k == ntaken)
            p += sprintf(p, "%u Mon 10am\n", i);
    }
    return buf;
}

/*
 * A schedule of several list blocks: the reply is right after changes in
 * any block, and a reply still queued keeps the list it was given even when
 * the blocks it refers to change before it is written.
 */
static void
test_big_list(void **state)
{
    enum { N = 3000 };
    struct center *center = *state;
    struct conn *w, *b;
    unsigned taken[3] = {5, 1500, 2999};
    char *text = malloc((size_t)N * 32), *p = text, err[256], *got, *want, *before;
    unsigned i;

    assert_non_null(text);
    for (i = 1; i <= N; i++)
        p += sprintf(p, "%u Mon 10am doc%u %u\n", i, i % 2, 41000 + i % 2);
    schedule_free(&center->sched);
    assert_int_equal(
        schedule_load_mem(&center->sched, "big", text, (size_t)(p - text), err, sizeof err), 0);
    free(text);
    w = login(center, "alice", "pw1");
    b = login(center, "bob", "pw2");
    conn_feed(w, "available\n", 10);
    before = take_all(w);
    want = expected_list(N, NULL, 0);
    assert_string_equal(before, want);
    free(want);
    /* w asks again and does not read yet; then b books in three blocks. */
    conn_feed(w, "available\n", 10);
    assert_string_equal(say(b, "selection 5\n"), "doc1 41001\n");
    /* b's list rebuilds the block w's queued reply refers to. */
    conn_feed(b, "available\n", 10);
    got = take_all(b);
    assert_non_null(strstr(got, "\n4 Mon 10am\n6 Mon 10am\n"));
    free(got);
    conn_feed(b, "cancel\n", 7);
    free(take_all(b));
    got = take_all(w);
    /* The queued reply is the list as it was; then the two pushes. */
    assert_memory_equal(got, before, strlen(before));
    assert_string_equal(got + strlen(before), "* reserved 5\n* released 5 Mon 10am\n");
    free(got);
    free(before);
    schedule_unsubscribe(&center->sched, &w->sub);
    for (i = 0; i < 3; i++) {
        struct conn *x = login(center,
                               i == 0   ? "alice"
                               : i == 1 ? "bob"
                                        : "carol",
                               i == 0   ? "pw1"
                               : i == 1 ? "pw2"
                                        : "pw3");
        char line[32];

        snprintf(line, sizeof line, "selection %u\n", taken[i]);
        conn_feed(x, line, strlen(line));
        free(take_all(x));
    }
    conn_feed(w, "available\n", 10);
    got = take_all(w);
    want = expected_list(N, taken, 3);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/*
 * A store that already holds a booking of a slot the schedule shows free
 * (another instance took it) refuses the selection: the patient is told
 * notavailable, the slot stays free in memory, the user holds nothing, and
 * the watchers are told nothing (memory changes only once the store took it).
 */
static void
test_store_refuses(void **state)
{
    struct center *center = *state;
    struct conn *a = login(center, "alice", "pw1");
    struct conn *w = login(center, "bob", "pw2");
    struct store_booking b = {2, "someone-else", "Tue", "10am", "docB", 41002};
    struct store_op op;
    char err[128];

    store_op_put(&op, &b, NULL);

    assert_int_equal(store_write(center->store, &op, 1, err, sizeof err), STORE_OK);
    assert_false(op.refused);
    say(w, "available\n");
    assert_string_equal(say(a, "selection 2\n"), "notavailable\n");
    assert_int_equal(center->users.v[0].booked, 0);
    assert_int_equal(schedule_find(&center->sched, 2)->holder, SCHEDULE_FREE);
    /* The watcher saw nothing of it; the slot is still listed. */
    assert_string_equal(take(w), "");
    assert_int_equal(center->stats.refused, 1);
    assert_string_equal(say(a, "selection 10\n"), "docA 41001\n");
}

/* The counters follow what happened. */
static void
test_stats(void **state)
{
    struct center *center = *state;
    struct conn *a = login(center, "alice", "pw1");
    struct conn *w = login(center, "bob", "pw2");
    struct conn *f = login(center, NULL, NULL);
    char *text;
    size_t len;
    FILE *fp;

    say(w, "available\n");
    say(a, "selection 2\n");
    say(a, "cancel\n");
    say(f, "authenticate carol nope\n");
    assert_int_equal(center->stats.logins_ok, 2);
    assert_int_equal(center->stats.logins_failed, 1);
    assert_int_equal(center->stats.bookings, 1);
    assert_int_equal(center->stats.cancels, 1);
    assert_int_equal(center->stats.pushes, 2);
    fp = open_memstream(&text, &len);
    assert_non_null(fp);
    center_print_stats(center, fp);
    fclose(fp);
    assert_non_null(strstr(text, "logins_ok 2\n"));
    assert_non_null(strstr(text, "bookings 1\n"));
    free(text);
}

/* What came down the pipe of fd so far (non-blocking; a static buffer). */
static const char *
drain(int fd)
{
    static char buf[8192];
    size_t len = 0;
    ssize_t n;

    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return buf;
}

/*
 * --trace: each line received and each reply, push and line of the list
 * queued is one trace line on stdout (with its phase, the login masked, a
 * bad byte escaped); with trace_on 0 nothing is printed.
 */
static void
test_trace(void **state)
{
    int out[2], err[2];
    struct conn *c, *w;

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    assert_int_equal(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(out_start_fds("hcs", out[1], err[1], 65536), 0);
    trace_on = 1;
    w = login(*state, "bob", "pw2");
    assert_string_equal(say(w, "available\n"), "slots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\n");
    c = login(*state, "alice", "pw1");
    assert_string_equal(say(c, "selection 2\n"), "docB 41002\n");
    assert_string_equal(take(w), "* reserved 2\n");
    assert_string_equal(say(c, "cancel\n"), "cancelled 2\n");
    assert_string_equal(take(w), "* released 2 Tue 10am\n");
    assert_string_equal(say(c, "x\001y\n"), "error bad-line\n");
    assert_int_equal(out_flush(2000), 0);
    assert_string_equal(drain(out[0]), "trace: phase 1 < none:0 authenticate bob ********\n"
                                       "trace: phase 1 > none:0 success\n"
                                       "trace: phase 2 < none:0 available\n"
                                       "trace: phase 2 > none:0 slots 3\n"
                                       "trace: phase 2 > none:0 10 Mon 09am\n"
                                       "trace: phase 2 > none:0 2 Tue 10am\n"
                                       "trace: phase 2 > none:0 11 Wed 11am\n"
                                       "trace: phase 1 < none:0 authenticate alice ********\n"
                                       "trace: phase 1 > none:0 success\n"
                                       "trace: phase 2 < none:0 selection 2\n"
                                       "trace: phase 2 > none:0 * reserved 2\n"
                                       "trace: phase 2 > none:0 docB 41002\n"
                                       "trace: phase 2 < none:0 cancel\n"
                                       "trace: phase 2 > none:0 * released 2 Tue 10am\n"
                                       "trace: phase 2 > none:0 cancelled 2\n"
                                       "trace: phase 2 < none:0 x\\x01y\n"
                                       "trace: phase 2 > none:0 error bad-line\n");
    trace_on = 0;
    assert_string_equal(say(w, "appointment\n"), "appointment none\n");
    assert_string_equal(say(w, "available\n"), "slots 3\n10 Mon 09am\n2 Tue 10am\n11 Wed 11am\n");
    assert_int_equal(out_flush(2000), 0);
    assert_string_equal(drain(out[0]), "");
    out_stop();
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
}

/* ---- deadlines: sockets and a loop ---- */

#define TIMER_PEERS 30 /* connections of the deadline test: three groups of ten */

static const char timer_conf[] = "[center]\n"
                                 "users = users.txt\n"
                                 "availabilities = availabilities.txt\n"
                                 "auth_timeout = 1\n"
                                 "idle_timeout = 2\n";

/* A center on a loop of its own (no listener). */
static int
setup_loop(void **state)
{
    struct center *c = calloc(1, sizeof *c);
    char err[256];

    assert_non_null(c);
    if (center_init_text(c, timer_conf, test_users, test_slots, 1, err, sizeof err) == -1)
        fail_msg("center_init_text: %s", err);
    assert_non_null(c->base = event_base_new());
    *state = c;
    return 0;
}

/* Free the center (and its connections), then its loop. */
static int
teardown_loop(void **state)
{
    struct center *c = *state;
    struct event_base *base = c->base;

    center_free(c);
    event_base_free(base);
    free(c);
    return 0;
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection through xprt over a socketpair; the other end in *peer. */
static struct conn *
sock_conn_via(struct center *center, const struct transport_ops *xprt, int *peer)
{
    struct conn *c;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    assert_non_null(c = conn_new(center, sv[0], NULL, xprt));
    *peer = sv[1];
    return c;
}

/* A connection on plain TCP over a socketpair; the other end in *peer. */
static struct conn *
sock_conn(struct center *center, int *peer)
{
    return sock_conn_via(center, &transport_tcp_ops, peer);
}

/*
 * The heap of deadlines is whole: every place holds a live connection that
 * knows its place, no parent is due after its children, and it holds every
 * armed connection of the center and nothing else.
 */
static void
expect_heap_ok(struct center *center)
{
    const struct conn_timers *t = &center->timers;
    struct conn *c;
    size_t i, armed = 0;

    for (i = 0; i < t->n; i++) {
        assert_int_equal(t->heap[i]->timeridx, i);
        assert_false(t->heap[i]->lost);
        if (i > 0)
            assert_true(t->heap[(i - 1) / 2]->deadline <= t->heap[i]->deadline);
    }
    TAILQ_FOREACH(c, &center->conns, entry)
    armed += c->timeridx != CONN_NO_TIMER;
    assert_int_equal(armed, t->n);
    TAILQ_FOREACH(c, &center->lost, entry)
    assert_int_equal(c->timeridx, CONN_NO_TIMER);
}

/* Run the loop for about 10 ms, checking the heap after it. */
static void
loop_tick(struct center *center)
{
    struct timeval tick = {0, 10000};

    event_base_loopexit(center->base, &tick);
    event_base_loop(center->base, EVLOOP_ONCE);
    expect_heap_ok(center);
    center_reap(center);
    expect_heap_ok(center);
}

/* Read what waits on peer into buf (NUL-terminated, appended at *len); 1 at end of file. */
static int
peer_read(int peer, char *buf, size_t size, size_t *len)
{
    ssize_t n;

    while ((n = recv(peer, buf + *len, size - 1 - *len, 0)) > 0)
        *len += (size_t)n;
    buf[*len] = '\0';
    return n == 0;
}

/*
 * Many connections, three deadlines: ten never log in (auth_timeout, 1 s),
 * ten log in and stay silent (idle_timeout, 2 s after the login), ten log
 * in and send a line once the first ten are gone (2 s after that line).
 * Each group is told its error and closed, in that order, none early.
 */
static void
test_deadlines(void **state)
{
    struct center *center = *state;
    int peer[TIMER_PEERS], i, open = TIMER_PEERS, sent = 0;
    long long start = now_ms(), closed[TIMER_PEERS];
    char buf[TIMER_PEERS][256];
    size_t len[TIMER_PEERS];

    for (i = 0; i < TIMER_PEERS; i++) {
        sock_conn(center, &peer[i]);
        len[i] = 0;
        closed[i] = -1;
        if (i >= 10) {
            const char *line = i % 2 ? "authenticate alice pw1\n" : "authenticate bob pw2\n";
            assert_int_equal(write(peer[i], line, strlen(line)), (ssize_t)strlen(line));
        }
    }
    expect_heap_ok(center);
    assert_int_equal(center->timers.n, TIMER_PEERS);
    while (open > 0) {
        loop_tick(center);
        assert_true(now_ms() - start < 6000);
        for (i = 0; i < TIMER_PEERS; i++) {
            if (closed[i] == -1 && peer_read(peer[i], buf[i], sizeof buf[i], &len[i])) {
                closed[i] = now_ms() - start;
                open--;
            }
        }
        /* The first group is gone: the third speaks, moving its deadline on. */
        if (!sent && closed[0] != -1 && closed[9] != -1) {
            for (i = 20; i < TIMER_PEERS; i++)
                assert_int_equal(write(peer[i], "appointment\n", 12), 12);
            sent = 1;
        }
    }
    for (i = 0; i < TIMER_PEERS; i++) {
        const char *want = i < 10   ? "error auth-timeout\n"
                           : i < 20 ? "success\nerror idle-timeout\n"
                                    : "success\nappointment none\nerror idle-timeout\n";
        long long lo = i < 10 ? 1000 : i < 20 ? 2000 : 3000;

        if (strcmp(buf[i], want) != 0)
            fail_msg("connection %d read \"%s\", expected \"%s\"", i, buf[i], want);
        if (closed[i] < lo - 50)
            fail_msg("connection %d closed after %lld ms, expected at least %lld", i, closed[i],
                     lo);
        if (i >= 10 && closed[i] < closed[i < 20 ? 0 : 10])
            fail_msg("connection %d closed before the group ahead of it", i);
    }
    /* Each lingers (its last deadline) until its peer closes too. */
    for (i = 0; i < TIMER_PEERS; i++)
        close(peer[i]);
    for (i = 0; i < 100 && center->timers.n > 0; i++)
        loop_tick(center);
    assert_int_equal(center->timers.n, 0);
    assert_true(TAILQ_EMPTY(&center->conns));
}

/*
 * Connections closed before their deadline (by their peer, or by an error)
 * leave nothing in the heap, wherever their place was, and once the last
 * one is gone the center's timer is not pending.
 */
static void
test_closed_leaves_no_timer(void **state)
{
    struct center *center = *state;
    int peer[64], i, k;

    for (i = 0; i < 64; i++) {
        sock_conn(center, &peer[i]);
        if (i % 3 == 0)
            assert_int_equal(write(peer[i], "authenticate alice pw1\n", 23), 23);
    }
    for (k = 0; k < 20; k++)
        loop_tick(center);
    assert_int_equal(center->timers.n, 64);
    assert_true(evtimer_pending(center->timers.ev, NULL));
    /* Every other goes: end of file from half of them, a closing error from the rest. */
    for (i = 0; i < 64; i += 2) {
        if (i % 4 == 0)
            close(peer[i]);
        else
            assert_int_equal(write(peer[i], "\x01\n", 2), 2);
    }
    for (k = 0; k < 100 && center->timers.n > 32; k++)
        loop_tick(center);
    /* Those that got an error linger (a deadline of their own) until their peer closes. */
    for (i = 2; i < 64; i += 4)
        close(peer[i]);
    for (k = 0; k < 100; k++) {
        loop_tick(center);
        if (center->timers.n == 32)
            break;
    }
    assert_int_equal(center->timers.n, 32);
    for (i = 1; i < 64; i += 2)
        close(peer[i]);
    for (k = 0; k < 100 && center->timers.n > 0; k++)
        loop_tick(center);
    assert_int_equal(center->timers.n, 0);
    assert_false(evtimer_pending(center->timers.ev, NULL));
}

/* ---- a transport that holds bytes (as TLS does): test_held_with_backlog ---- */

#define HELD_REQUESTS 20000 /* "available" lines sent at once: far more than a read buffer */
#define HELD_RECORD 16384   /* bytes one read returns at most, as one TLS record */

/* What the fake transport was given and did. */
static struct held {
    char *in;            /* the bytes "received": the login, then the requests */
    size_t inlen, off;   /* their length, and how many were read */
    int open;            /* the peer reads: writes succeed */
    int zero_reads;      /* reads asked for 0 bytes */
    int hs_done;         /* held_hs_ops: the handshake is over */
    unsigned long lists; /* "slots 3" replies written */
} held;

static ssize_t
held_read(struct conn *c, void *buf, size_t len, short *want)
{
    size_t n = held.inlen - held.off;

    (void)c;
    if (len == 0)
        held.zero_reads++;
    if (n == 0) {
        *want = EV_READ;
        errno = EAGAIN;
        return -1;
    }
    if (n > len)
        n = len;
    if (n > HELD_RECORD)
        n = HELD_RECORD;
    memcpy(buf, held.in + held.off, n);
    held.off += n;
    return (ssize_t)n;
}

/* The peer reads only once held.open is set; until then every write waits. */
static ssize_t
held_write(struct conn *c, struct evbuffer *out, short *want)
{
    struct evbuffer_ptr p;
    size_t n = evbuffer_get_length(out);

    (void)c;
    if (!held.open) {
        *want = EV_WRITE;
        errno = EAGAIN;
        return -1;
    }
    for (p = evbuffer_search(out, "slots 3\n", 8, NULL); p.pos != -1;
         p = evbuffer_search(out, "slots 3\n", 8, &p)) {
        held.lists++;
        evbuffer_ptr_set(out, &p, 1, EVBUFFER_PTR_ADD);
    }
    evbuffer_drain(out, n);
    return (ssize_t)n;
}

/* Bytes held: what is left of held.in, as TLS holds records read ahead. */
static size_t
held_pending(struct conn *c)
{
    (void)c;
    return held.inlen - held.off;
}

static void
held_shutdown(struct conn *c)
{
    (void)c;
}

static void
held_close(struct conn *c)
{
    close(c->fd);
}

static const struct transport_ops held_ops = {
    .name = "held",
    .read = held_read,
    .write = held_write,
    .pending = held_pending,
    .shutdown = held_shutdown,
    .close = held_close,
};

/*
 * A client that sends many requests and reads nothing, over a transport
 * that holds what it received (TLS): once the replies queued reach the high
 * mark, the center must stop taking the held bytes, not read them into its
 * buffer until none is left and then ask for 0 bytes (which OpenSSL answers
 * as an error, and the connection was closed). When the client reads, every
 * request is answered.
 */
static void
test_held_with_backlog(void **state)
{
    struct center *center = *state;
    static const char login[] = "authenticate alice pw1\n", req[] = "available\n";
    struct conn *c;
    int peer, k;
    size_t i;

    memset(&held, 0, sizeof held);
    held.inlen = sizeof login - 1 + HELD_REQUESTS * (sizeof req - 1);
    assert_non_null(held.in = malloc(held.inlen));
    memcpy(held.in, login, sizeof login - 1);
    for (i = 0; i < HELD_REQUESTS; i++)
        memcpy(held.in + sizeof login - 1 + i * (sizeof req - 1), req, sizeof req - 1);
    c = sock_conn_via(center, &held_ops, &peer);
    assert_int_equal(write(peer, "x", 1), 1); /* readable: the loop calls the transport */
    for (k = 0; k < 5; k++)
        loop_tick(center);
    assert_int_equal(held.zero_reads, 0);
    assert_false(c->lost);
    assert_true(held.off < held.inlen); /* it stopped taking requests */
    held.open = 1;
    for (k = 0; k < 2000 && held.lists < HELD_REQUESTS; k++)
        loop_tick(center);
    assert_int_equal(held.zero_reads, 0);
    assert_int_equal(held.off, held.inlen);
    assert_int_equal(held.lists, HELD_REQUESTS);
    close(peer);
    free(held.in);
}

/* The handshake of held_hs_ops: waits (EV_READ) until held.hs_done is set. */
static int
held_handshake(struct conn *c, short *want)
{
    (void)c;
    if (!held.hs_done) {
        *want = EV_READ;
        return 0;
    }
    return 1;
}

static const struct transport_ops held_hs_ops = {
    .name = "held-handshake",
    .handshake = held_handshake,
    .read = held_read,
    .write = held_write,
    .pending = held_pending,
    .shutdown = held_shutdown,
    .close = held_close,
};

/*
 * A connection refused at once (over a limit: "error busy"), its reply
 * written while its handshake still runs: when the handshake ends later,
 * it keeps its linger deadline (2 s), not idle_timeout's, or a refused TLS
 * client that stays silent would hold its socket for idle_timeout.
 */
static void
test_refused_keeps_linger(void **state)
{
    struct center *center = *state;
    struct timeval tv;
    struct conn *c;
    int peer, k;
    int64_t now;

    center->cfg.idle_timeout = 300;
    memset(&held, 0, sizeof held);
    held.open = 1;
    c = sock_conn_via(center, &held_hs_ops, &peer);
    assert_true(c->handshaking);
    conn_refuse(c, PROTO_ERR_BUSY);
    assert_int_equal(c->state, CONN_LINGER);
    held.hs_done = 1;
    assert_int_equal(write(peer, "x", 1), 1); /* the handshake's last message */
    for (k = 0; k < 3; k++)
        loop_tick(center);
    assert_false(c->handshaking);
    assert_false(c->lost);
    assert_int_equal(event_gettime_monotonic(center->base, &tv), 0);
    now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    if (c->deadline > now + 2000)
        fail_msg("a refused connection is due in %lld ms, not within its 2 s linger",
                 (long long)(c->deadline - now));
    close(peer);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_and_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_stays_usable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_line_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_slot_one_winner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_appointment_per_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booking_survives_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlines, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_closed_leaves_no_timer, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_held_with_backlog, setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_refused_keeps_linger, setup_loop, teardown_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
