/* test_hostile.c: the real hcs against broken, slow, malicious and vanishing clients: each
 * bad input gets its exact answer, and a well-behaved patient is served right after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define PROMPT "Please enter the preferred appointment index and press enter: "

#define MAX_LINE 64 /* max_line of the centers that test line lengths */
/* Selection/cancel pairs of the flood: 7 MiB of pushes, more than the kernel's buffers hold. */
#define FLOOD_PAIRS 200000
#define READER_PAIRS 20000 /* pairs while the subscriber reads */
#define FLOOD_BATCH 1000   /* pairs sent in one go */
#define FLOOD_AHEAD 4      /* batches sent before their answers are read */
#define FLOOD_MAX_MS 30000 /* the flood must be over by then */

/* The test schedule. */
static const struct fixture_slot slots[] = {
    {4, "Mon", "09am", "house", 41001},
    {7, "Tue", "10am", "grey", 41002},
    {12, "Wed", "11am", "house", 41001},
    {30, "Fri", "04pm", "grey", 41002},
};

#define NSLOTS (sizeof slots / sizeof slots[0])

/* A password that makes "authenticate longpw <it>" exactly MAX_LINE bytes. */
#define LONG_PW "L0ng-pw-padded-to-fill-the-line-exactly-44ch"

/* The users of the test center. */
static const struct fixture_user users[] = {
    {"alice", "pw-alice.1"}, {"bob", "pw-bob.2"}, {"carol", "pw-carol.3"},
    {"dave", "pw-dave.4"},   {"wb", "pw-wb.5"},   {"longpw", LONG_PW},
};

#define NUSERS (sizeof users / sizeof users[0])

/* The running center of one test, and what the test knows of its schedule. */
struct center {
    struct fixture *f;
    int taken[NSLOTS]; /* booked by a user of the test and never given back */
};

/* The password of a user of the test data. */
static const char *
password(const char *user)
{
    size_t i;

    for (i = 0; i < NUSERS; i++)
        if (strcmp(users[i].name, user) == 0)
            return users[i].password;
    fail_msg("%s is not a user of the test data", user);
    return NULL;
}

/* The slot with this index. */
static size_t
slot_at(unsigned index)
{
    size_t i;

    for (i = 0; i < NSLOTS; i++)
        if (slots[i].index == index)
            return i;
    fail_msg("slot %u is not in the test schedule", index);
    return 0;
}

/*
 * The test's users and slots and center.conf with the extra keys in a new
 * folder; hcs started with flag ("-q" or NULL), through shell if not NULL.
 */
static void
center_start(void **state, struct center *w, const char *extra, const char *flag, const char *shell)
{
    const struct fixture_opts o = {
        .users = users,
        .nusers = NUSERS,
        .slots = slots,
        .nslots = NSLOTS,
        .config = extra,
        .flag = flag,
        .shell = shell,
    };

    memset(w, 0, sizeof *w);
    w->f = fixture_setup(state, &o);
}

/* The reply to "available" now: "slots <n>" and the free slots in file order. */
static void
expect_list(struct center *w, struct tconn *c)
{
    size_t i, n = 0;

    for (i = 0; i < NSLOTS; i++)
        n += !w->taken[i];
    tc_expectf(c, "slots %zu", n);
    for (i = 0; i < NSLOTS; i++)
        if (!w->taken[i])
            tc_expectf(c, "%u %s %s", slots[i].index, slots[i].day, slots[i].time);
}

/* Book slot index on c (free and not held by c's user): the doctor's name and port. */
static void
book(struct center *w, struct tconn *c, unsigned index)
{
    const struct fixture_slot *s = &slots[slot_at(index)];

    tc_sendf(c, "selection %u\n", index);
    tc_expectf(c, "%s %u", s->doctor, s->port);
    w->taken[slot_at(index)] = 1;
}

/* Give back slot index, booked on c. */
static void
give_back(struct center *w, struct tconn *c, unsigned index)
{
    tc_sendf(c, "cancel\n");
    tc_expectf(c, "cancelled %u", index);
    w->taken[slot_at(index)] = 0;
}

/*
 * A well-behaved patient on a new connection: it logs in, sees exactly the
 * free slots, books the first, sees it as its appointment, gives it back
 * and leaves.
 */
static void
served_ok(struct center *w)
{
    struct tconn *c = fixture_login(w->f, "wb", password("wb"));
    const struct fixture_slot *s;
    size_t i;

    tc_sendf(c, "available\n");
    expect_list(w, c);
    for (i = 0; i < NSLOTS && w->taken[i]; i++)
        continue;
    assert_true(i < NSLOTS);
    s = &slots[i];
    book(w, c, s->index);
    tc_sendf(c, "appointment\n");
    tc_expectf(c, "appointment %u %s %s %s %u", s->index, s->day, s->time, s->doctor, s->port);
    give_back(w, c, s->index);
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment none");
    tc_shutdown(c);
    tc_expect_eof(c);
    tc_close(c);
}

/* Send bytes on a new connection and expect "error <reason>", then the center's close. */
static void
expect_closed_with(struct center *w, const char *login_as, const void *data, size_t len,
                   const char *reason)
{
    struct tconn *c = tc_connect(w->f->port);

    if (login_as != NULL)
        fixture_auth(c, login_as, password(login_as));
    tc_send(c, data, len);
    tc_expectf(c, "error %s", reason);
    tc_expect_eof(c);
    tc_close(c);
}

/* A string of n copies of ch (kept until h_cleanup). */
static const char *
repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    const char *kept;

    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    kept = h_str("%s", s);
    free(s);
    return kept;
}

/* 1. Over max_line, complete or partial: line-too-long and close; exactly max_line is fine. */
static void
test_line_too_long(void **state)
{
    const char *line64 = h_str("authenticate longpw %s", LONG_PW);
    const char *over = repeat('x', MAX_LINE + 1);
    struct center w;
    struct tconn *c;

    assert_int_equal(strlen(line64), MAX_LINE);
    center_start(state, &w, h_str("max_line = %d\n", MAX_LINE), NULL, NULL);

    /* One byte over, before and after logging in, with "\n" and with "\r\n". */
    expect_closed_with(&w, NULL, h_str("%s\n", over), MAX_LINE + 2, "line-too-long");
    expect_closed_with(&w, "alice", h_str("%s\r\n", over), MAX_LINE + 3, "line-too-long");
    /* A partial line already over the limit, even allowing for a "\r": no newline needed. */
    expect_closed_with(&w, NULL, repeat('y', MAX_LINE + 2), MAX_LINE + 2, "line-too-long");
    expect_closed_with(&w, "bob", repeat('z', 4000), 4000, "line-too-long");
    /* A long line sent in small pieces is refused once it is over, without its end. */
    c = tc_connect(w.f->port);
    tc_send(c, repeat('a', 40), 40);
    if (tc_recv(c, 100) || c->end != TC_OPEN)
        h_fail("the center answered a partial line within the limit");
    tc_send(c, repeat('b', 40), 40);
    tc_expect(c, "error line-too-long");
    tc_expect_eof(c);

    /* Exactly max_line bytes is a line like any other, with "\n" or "\r\n". */
    c = tc_connect(w.f->port);
    tc_sendf(c, "%s\n", line64);
    tc_expect(c, "success");
    tc_sendf(c, "%s\r\n", repeat('q', MAX_LINE));
    tc_expect(c, "error unknown-command");
    tc_sendf(c, "available\n");
    expect_list(&w, c);
    c = tc_connect(w.f->port);
    tc_sendf(c, "%s\r\n", line64);
    tc_expect(c, "success");
    served_ok(&w);
    fixture_stop(w.f);
}

/* 2. NUL and other control bytes: bad-line and close; bytes from 0x80 up are fine. */
static void
test_bad_bytes(void **state)
{
    static const char nul[] = "authenticate wb pw-wb.5\0x\n";
    static const char ctl[] = "authenticate wb \x01pw-wb.5\n";
    static const char cr[] = "avail\rable\n";
    static const char tab[] = "authenticate\twb pw-wb.5\n";
    static const char esc[] = "\x1b[2J\n";
    static const char del_only[] = "\x7f\n";
    static const char utf8[] = "authenticate J\xc3\xbcrgen gr\xc3\xb6\xc3\x9f"
                               "e\n";
    struct center w;
    struct tconn *c;

    center_start(state, &w, NULL, NULL, NULL);
    expect_closed_with(&w, NULL, nul, sizeof nul - 1, "bad-line");
    expect_closed_with(&w, NULL, ctl, sizeof ctl - 1, "bad-line");
    expect_closed_with(&w, "alice", cr, sizeof cr - 1, "bad-line");
    expect_closed_with(&w, NULL, tab, sizeof tab - 1, "bad-line");
    expect_closed_with(&w, "bob", esc, sizeof esc - 1, "bad-line");
    /* A NUL right before the line ending. */
    expect_closed_with(&w, "carol", "available\0\r\n", 12, "bad-line");

    /* DEL and UTF-8 are not control bytes below 0x20: answered like any other text. */
    c = tc_connect(w.f->port);
    tc_send(c, del_only, sizeof del_only - 1);
    tc_expect(c, "error unknown-command");
    tc_send(c, utf8, sizeof utf8 - 1);
    tc_expect(c, "failure");
    tc_expect_eof(c);
    c = fixture_login(w.f, "dave", password("dave"));
    tc_sendf(c, "selection \xd9\xa4\n"); /* an Arabic-Indic digit four */
    tc_expect(c, "error bad-index");
    tc_sendf(c, "available\n");
    expect_list(&w, c);
    served_ok(&w);
    fixture_stop(w.f);
}

/* 3. The error line arrives even when the client sent much more that the center never read. */
static void
test_error_not_lost(void **state)
{
    static char buf[64 * 1024 + 256];
    size_t more = 64 * 1024, i;
    struct center w;
    struct tconn *c;
    size_t n;
    int round;

    center_start(state, &w, h_str("max_line = %d\n", MAX_LINE), NULL, NULL);
    for (round = 0; round < 4; round++) {
        /* The bad line, then 64 KiB of requests, in one send. */
        n = 0;
        switch (round) {
        case 0:
        case 2:
            memcpy(buf, "bad\x01line\n", 9);
            n = 9;
            break;
        case 1:
        case 3:
            memset(buf, 'x', MAX_LINE + 10);
            buf[MAX_LINE + 10] = '\n';
            n = MAX_LINE + 11;
            break;
        }
        for (i = 0; i + 10 <= more; i += 10)
            memcpy(buf + n + i, "available\n", 10);
        n += i;
        c = tc_connect(w.f->port);
        if (round >= 2)
            fixture_auth(c, "alice", password("alice"));
        tc_send(c, buf, n);
        if (round % 2 == 0)
            tc_shutdown(c); /* the center reads to our end of file */
        tc_expectf(c, "error %s", round % 2 == 0 ? "bad-line" : "line-too-long");
        /* Then an orderly close, not a reset that could have destroyed the line. */
        tc_expect_eof(c);
        tc_close(c);
    }
    served_ok(&w);
    fixture_stop(w.f);
}

/* 4. Malformed requests: the exact error, and the connection stays usable. */
static void
test_malformed(void **state)
{
    static const char *const before[][2] = {
        {"frobnicate", "unknown-command"},
        {"authenticate", "wrong-arguments"},
        {"authenticate alice", "wrong-arguments"},
        {"authenticate alice pw-alice.1 extra", "wrong-arguments"},
        {"authenticate  alice pw-alice.1", "bad-spacing"},
        {"authenticate alice pw-alice.1 ", "bad-spacing"},
        {"", "empty-line"},
    };
    static const char *const after[][2] = {
        {"frobnicate now", "unknown-command"},
        {"Available", "unknown-command"},
        {"available now", "wrong-arguments"},
        {"appointment 4", "wrong-arguments"},
        {"cancel 4", "wrong-arguments"},
        {"selection", "wrong-arguments"},
        {"selection 4 7", "wrong-arguments"},
        {"selection -1", "bad-index"},
        {"selection +4", "bad-index"},
        {"selection 1x", "bad-index"},
        {"selection x", "bad-index"},
        {"selection 0", "bad-index"},
        {"selection 4294967296", "bad-index"},
        {"selection 99999999999999999999", "bad-index"},
        {"selection 999999999999999999999999999999", "bad-index"},
        {"selection 0x4", "bad-index"},
        {" available", "bad-spacing"},
        {"available ", "bad-spacing"},
        {"selection  4", "bad-spacing"},
        {" ", "bad-spacing"},
        {"", "empty-line"},
        {"cancel", "no-appointment"},
    };
    struct center w;
    struct tconn *c;
    size_t i;

    center_start(state, &w, NULL, NULL, NULL);
    c = tc_connect(w.f->port);
    for (i = 0; i < sizeof before / sizeof before[0]; i++) {
        tc_sendf(c, "%s\n", before[i][0]);
        tc_expectf(c, "error %s", before[i][1]);
    }
    fixture_auth(c, "alice", password("alice"));
    for (i = 0; i < sizeof after / sizeof after[0]; i++) {
        tc_sendf(c, "%s\r\n", after[i][0]);
        tc_expectf(c, "error %s", after[i][1]);
    }
    /* The same requests pipelined in one send: one answer each, in order. */
    for (i = 0; i < sizeof after / sizeof after[0]; i++)
        tc_sendf(c, "%s\n", after[i][0]);
    for (i = 0; i < sizeof after / sizeof after[0]; i++)
        tc_expectf(c, "error %s", after[i][1]);
    /* Still usable: a well-formed index not in the schedule, then a real booking. */
    tc_sendf(c, "selection 4294967295\n");
    tc_expect(c, "notavailable");
    tc_sendf(c, "selection 5\n");
    tc_expect(c, "notavailable");
    tc_sendf(c, "available\n");
    expect_list(&w, c);
    book(&w, c, 12);
    tc_sendf(c, "selection 4\n");
    tc_expect(c, "error already-booked 12");
    give_back(&w, c, 12);
    tc_close(c);
    served_ok(&w);
    fixture_stop(w.f);
}

/* 4b. Many fields, each set off by one space: still the wrong number of arguments. */
static void
test_many_fields(void **state)
{
    static const char *const lines[] = {
        "selection 1 2 3 4 5",
        "selection 1 2 3 4 5 6",
        "selection 1 2 3 4 5 6 7 8 9",
        "available a b c d e f g h i j k l m n o p",
    };
    struct center w;
    struct tconn *c;
    size_t i;

    center_start(state, &w, NULL, NULL, NULL);
    c = fixture_login(w.f, "alice", password("alice"));
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        tc_sendf(c, "%s\n", lines[i]);
        tc_expect(c, "error wrong-arguments");
    }
    tc_close(c);
    served_ok(&w);
    fixture_stop(w.f);
}

/* 5. Commands out of order: the error, and the connection stays usable. */
static void
test_out_of_order(void **state)
{
    static const char *const early[] = {"available", "selection 4", "appointment", "cancel"};
    struct center w;
    struct tconn *c;
    size_t i;

    center_start(state, &w, NULL, NULL, NULL);
    c = tc_connect(w.f->port);
    for (i = 0; i < sizeof early / sizeof early[0]; i++) {
        tc_sendf(c, "%s\n", early[i]);
        tc_expect(c, "error not-authenticated");
    }
    fixture_auth(c, "bob", password("bob"));
    tc_sendf(c, "authenticate bob %s\n", password("bob"));
    tc_expect(c, "error already-authenticated");
    tc_sendf(c, "authenticate carol %s\n", password("carol"));
    tc_expect(c, "error already-authenticated");
    tc_sendf(c, "authenticate carol wrong-password\n");
    tc_expect(c, "error already-authenticated");
    tc_sendf(c, "available\n");
    expect_list(&w, c);
    /* Still bob: the refused logins did not change who is logged in. */
    book(&w, c, 7);
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment 7 Tue 10am grey 41002");
    served_ok(&w);
    give_back(&w, c, 7);
    tc_close(c);
    served_ok(&w);
    fixture_stop(w.f);
}

/*
 * 6. A failed login gets "failure" and the close. After five failures from
 * 127.0.0.1 the next answers wait about a second, and meanwhile a patient
 * already logged in is served.
 */
static void
test_failed_login(void **state)
{
    struct center w;
    struct tconn *b, *c, *d, *f;
    long long t0, tc, td;
    int i;

    center_start(state, &w, NULL, NULL, NULL);
    b = fixture_login(w.f, "carol", password("carol"));
    for (i = 0; i < 5; i++) {
        f = tc_connect(w.f->port);
        if (i == 4)
            tc_sendf(f, "authenticate nobody-%d pw\n", i); /* an unknown user fails alike */
        else
            tc_sendf(f, "authenticate alice wrong-%d\n", i);
        tc_expect(f, "failure");
        tc_expect_eof(f);
        tc_close(f);
    }
    /* The sixth and seventh attempts: the right password (with a request held behind it),
     * and a wrong one. */
    c = tc_connect(w.f->port);
    d = tc_connect(w.f->port);
    t0 = h_now_ms();
    tc_sendf(c, "authenticate alice %s\navailable\n", password("alice"));
    tc_sendf(d, "authenticate bob wrong-again\n");
    /* The center does not block: b is answered while c and d wait. */
    tc_sendf(b, "available\n");
    expect_list(&w, b);
    if (tc_ready(c) || tc_ready(d))
        h_fail("a throttled login was answered before another patient's request");
    tc_expect(c, "success");
    tc = h_now_ms() - t0;
    expect_list(&w, c);
    tc_expect(d, "failure");
    td = h_now_ms() - t0;
    tc_expect_eof(d);
    if (tc < 900 || td < 900)
        h_fail("throttled answers came after %lld ms and %lld ms, expected about 1000", tc, td);
    /* The throttled session works like any other. */
    book(&w, c, 30);
    tc_sendf(b, "selection 30\n");
    tc_expect(b, "* reserved 30"); /* b subscribed with its "available" */
    tc_expect(b, "notavailable");
    give_back(&w, c, 30);
    tc_close(c);
    tc_close(b);
    served_ok(&w);
    fixture_stop(w.f);
}

/*
 * 7. Silence: auth-timeout for a client that says nothing or trickles bytes,
 * idle-timeout for one that logged in and went quiet; a patient waiting at
 * its prompt for its pushes is not cut off.
 */
static void
test_timeouts(void **state)
{
    static const char trickle[] = "authenticate alice pw-alice.1";
    struct center w;
    struct tconn *s, *i, *t;
    struct hproc *p;
    long long t0, ts, ti, tt;
    size_t sent = 0;
    const char *conf, *err;
    int k;

    center_start(state, &w, "auth_timeout = 1\nidle_timeout = 2\n", NULL, NULL);
    conf = fixture_patient(w.f->dir, 1, w.f->port, "bob", password("bob"), "acme\n", NULL);
    t0 = h_now_ms();
    s = tc_connect(w.f->port);
    i = fixture_login(w.f, "wb", password("wb"));
    t = tc_connect(w.f->port);
    p = h_start("patient1", NULL, "patient", "--config", conf, NULL);

    /* The trickler: one byte every 200 ms, never a whole line. */
    while (!tc_ready(t) && sent < sizeof trickle - 1) {
        tc_send(t, trickle + sent, 1);
        sent++;
        tc_recv(t, 200);
    }
    tc_expect(t, "error auth-timeout");
    tt = h_now_ms() - t0;
    tc_expect_eof(t);
    tc_expect(s, "error auth-timeout");
    ts = h_now_ms() - t0;
    tc_expect_eof(s);
    tc_expect(i, "error idle-timeout");
    ti = h_now_ms() - t0;
    tc_expect_eof(i);
    if (ts < 900 || tt < 900 || ti < 900)
        h_fail("closed too early: silent %lld ms, trickler %lld ms, idle %lld ms", ts, tt, ti);
    if (sent >= sizeof trickle - 1)
        h_fail("the trickler sent its whole line without being cut off");

    /* The patient at the prompt, its stdin open, waits for its pushes and is
     * not cut off (issue 9): after five more idle timeouts of other
     * clients it still books. */
    h_wait_prefix(p, "Phase 2: The following appointments are available for Patient 1:");
    h_expect(p, "4 Mon 09am");
    h_expect(p, "7 Tue 10am");
    h_expect(p, "12 Wed 11am");
    h_expect(p, "30 Fri 04pm");
    h_expect_text(p, PROMPT);
    for (k = 0; k < 5; k++) {
        i = fixture_login(w.f, "wb", password("wb"));
        tc_expect(i, "error idle-timeout");
        tc_expect_eof(i);
    }
    if (h_now_ms() - t0 < 10000)
        h_fail("the idle clients were cut off too early (%lld ms)", h_now_ms() - t0);
    h_send(p, "7\n");
    h_wait_prefix(p, "Phase 2: The requested appointment is available and reserved to Patient 1.");
    err = h_stderr(p);
    if (strstr(err, "idle-timeout") != NULL)
        h_fail("patient: cut off at the prompt: \"%s\"", err);
    w.taken[1] = 1;
    h_kill(p);
    served_ok(&w);
    fixture_stop(w.f);
}

/*
 * Book and cancel slot 30 npairs times on b in big pipelined batches, checking
 * every answer as it comes. If r is not NULL it is a subscriber that reads:
 * every push must reach it, in order.
 */
static void
flood(struct tconn *b, size_t npairs, struct tconn *r)
{
    static const char pair[] = "selection 30\ncancel\n";
    static char batch[FLOOD_BATCH * (sizeof pair - 1)];
    const size_t batch_len = sizeof batch;
    size_t pairs = 0, replies = 0, pushes = 0, sent_off = batch_len, k;
    long long t0 = h_now_ms();
    const char *line;

    for (k = 0; k < FLOOD_BATCH; k++)
        memcpy(batch + k * (sizeof pair - 1), pair, sizeof pair - 1);
    while (replies < 2 * npairs || (r != NULL && pushes < 2 * npairs)) {
        if (h_now_ms() - t0 > FLOOD_MAX_MS)
            h_fail("the flood did not finish within %d ms (%zu answers and %zu pushes of %zu)",
                   FLOOD_MAX_MS, replies, pushes, 2 * npairs);
        /* Stay a few batches ahead of the answers, and of the pushes when
         * there is a reader: a reader that keeps up is what is tested, not
         * one that a busy machine left megabytes behind. */
        if (sent_off == batch_len && pairs < npairs &&
            2 * pairs - replies < 2 * FLOOD_AHEAD * FLOOD_BATCH &&
            (r == NULL || 2 * pairs - pushes < 2 * FLOOD_AHEAD * FLOOD_BATCH)) {
            sent_off = 0;
            pairs += FLOOD_BATCH;
        }
        if (sent_off < batch_len) {
            ssize_t m = tc_send_some(b, batch + sent_off, batch_len - sent_off, 0);

            if (m < 0)
                h_fail("booking connection: send failed: %s", strerror(errno));
            sent_off += (size_t)m;
        }
        tc_recv(b, 1);
        while ((line = tc_line(b, 0)) != NULL) {
            const char *want = replies % 2 == 0 ? "grey 41002" : "cancelled 30";

            if (strcmp(line, want) != 0)
                h_fail("booking connection: answer %zu is \"%s\", expected \"%s\"", replies, line,
                       want);
            replies++;
        }
        if (b->end != TC_OPEN)
            h_fail("booking connection ended (%s) after %zu answers", tc_end_name(b->end), replies);
        if (r == NULL)
            continue;
        while (tc_recv(r, 0))
            continue;
        while ((line = tc_line(r, 0)) != NULL) {
            const char *want = pushes % 2 == 0 ? "* reserved 30" : "* released 30 Fri 04pm";

            if (strcmp(line, want) != 0)
                h_fail("subscriber: push %zu is \"%s\", expected \"%s\"", pushes, line, want);
            pushes++;
        }
        if (r->end != TC_OPEN)
            h_fail("the subscriber that reads was dropped (%s) after %zu of %zu pushes",
                   tc_end_name(r->end), pushes, 2 * npairs);
    }
}

/*
 * 8. A subscriber that never reads while another patient books and cancels as
 * fast as it can: the subscriber is dropped once its queue passes max_output,
 * and the booking patient is answered all along.
 */
static void
test_never_reads(void **state)
{
    const size_t pushlen = sizeof "* reserved 30\n* released 30 Fri 04pm\n" - 1;
    struct center w;
    struct tconn *n, *b;
    size_t bytes = 0;
    enum tc_end end;

    center_start(state, &w, "max_output = 4096\n", "-q", NULL);
    n = tc_connect_rcvbuf(w.f->port, 4096);
    tc_sendf(n, "authenticate carol %s\navailable\n", password("carol"));
    b = fixture_login(w.f, "dave", password("dave"));
    flood(b, FLOOD_PAIRS, NULL);
    /* The subscriber was dropped: reading now finds its end, well before every push. */
    end = tc_drain(n, h_timeout_ms, &bytes);
    if (end != TC_EOF && end != TC_RESET)
        h_fail("the subscriber that never reads was not dropped (%s after %zu bytes)",
               tc_end_name(end), bytes);
    if (bytes >= (size_t)FLOOD_PAIRS * pushlen)
        h_fail("the subscriber got all %zu bytes of pushes: it was never cut off", bytes);
    tc_sendf(b, "appointment\n");
    tc_expect(b, "appointment none");
    tc_close(b);
    served_ok(&w);
    fixture_stop(w.f);
}

/*
 * 8b. The same flood with a subscriber that reads all along: max_output bounds
 * what a client leaves unread, so this one gets every push and stays.
 */
static void
test_reader_keeps_up(void **state)
{
    struct center w;
    struct tconn *r, *b;

    center_start(state, &w, "max_output = 4096\n", "-q", NULL);
    r = fixture_login(w.f, "carol", password("carol"));
    tc_sendf(r, "available\n");
    expect_list(&w, r);
    b = fixture_login(w.f, "dave", password("dave"));
    flood(b, READER_PAIRS, r);
    tc_sendf(r, "appointment\n");
    tc_expect(r, "appointment none");
    tc_close(r);
    tc_close(b);
    served_ok(&w);
    fixture_stop(w.f);
}

/*
 * 9. Clients that vanish: after booking (a reset), in the middle of a line,
 * before logging in, while a reply is on its way. A booking stays; nothing
 * else changes.
 */
static void
test_vanish(void **state)
{
    struct center w;
    struct tconn *a, *m, *x, *l;

    center_start(state, &w, NULL, NULL, NULL);
    a = fixture_login(w.f, "alice", password("alice"));
    book(&w, a, 4);
    tc_abort(a);
    m = fixture_login(w.f, "bob", password("bob"));
    tc_sendf(m, "selection 7"); /* no end of line */
    tc_abort(m);
    x = tc_connect(w.f->port);
    tc_sendf(x, "authen");
    tc_close(x);
    l = fixture_login(w.f, "dave", password("dave"));
    tc_sendf(l, "available\nappointment\n");
    tc_abort(l);
    m = fixture_login(w.f, "carol", password("carol"));
    tc_sendf(m, "selection 12\ncan");
    tc_expect(m, "house 41001");
    w.taken[slot_at(12)] = 1;
    tc_close(m);

    /* The bookings stay; bob's half line did nothing. */
    a = fixture_login(w.f, "alice", password("alice"));
    tc_sendf(a, "appointment\n");
    tc_expect(a, "appointment 4 Mon 09am house 41001");
    tc_sendf(a, "selection 7\n");
    tc_expect(a, "error already-booked 4");
    m = fixture_login(w.f, "carol", password("carol"));
    tc_sendf(m, "appointment\n");
    tc_expect(m, "appointment 12 Wed 11am house 41001");
    m = fixture_login(w.f, "bob", password("bob"));
    tc_sendf(m, "appointment\n");
    tc_expect(m, "appointment none");
    tc_sendf(m, "available\n");
    expect_list(&w, m);
    served_ok(&w);
    tc_expect(m, "* reserved 7"); /* the well-behaved patient took 7 and gave it back */
    tc_expect(m, "* released 7 Tue 10am");
    give_back(&w, a, 4);
    tc_expect(m, "* released 4 Mon 09am");
    served_ok(&w);
    fixture_stop(w.f);
}

/* 10. Over max_clients: "error busy" and the close; once one leaves, a new one is served. */
static void
test_busy(void **state)
{
    struct center w;
    struct tconn *c[3], *e;
    int i;

    center_start(state, &w, "max_clients = 3\n", NULL, NULL);
    c[0] = fixture_login(w.f, "alice", password("alice"));
    c[1] = fixture_login(w.f, "bob", password("bob"));
    c[2] = fixture_login(w.f, "carol", password("carol"));
    /* A fourth that waits for the greeting, and one that speaks first, as patients do. */
    e = tc_connect(w.f->port);
    tc_expect(e, "error busy");
    tc_expect_eof(e);
    tc_close(e);
    for (i = 0; i < 3; i++) {
        e = tc_connect(w.f->port);
        tc_sendf(e, "authenticate dave %s\n", password("dave"));
        tc_expect(e, "error busy");
        tc_expect_eof(e);
        tc_close(e);
    }
    /* The three are still served. */
    for (i = 0; i < 3; i++) {
        tc_sendf(c[i], "appointment\n");
        tc_expect(c[i], "appointment none");
    }
    /* One leaves; the center's close of it shows it is gone. */
    tc_shutdown(c[0]);
    tc_expect_eof(c[0]);
    tc_close(c[0]);
    served_ok(&w);
    served_ok(&w);
    fixture_stop(w.f);
}

/* CPU time (user + system, in clock ticks) the process has used so far. */
static long
cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((fp = fopen(path, "r")) == NULL)
        h_fail("cannot read %s", path);
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    /* Fields 14 and 15 follow the command name, which ends at the last ')'. */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        h_fail("cannot parse %s", path);
    return (long)(ut + st);
}

/* 10b. Out of descriptors: the listener pauses (no busy loop) and resumes when some close. */
static void
test_out_of_descriptors(void **state)
{
    enum { N = 80, CLOSE = 40 };
    struct center w;
    struct tconn *c[N];
    long before, after;
    int i, served = 0, answered[N];

    /* A hard limit of 48 descriptors: hcs cannot raise it, and warns. */
    center_start(state, &w, NULL, NULL, "ulimit -n 48");
    if (strstr(h_stderr(w.f->hcs), "open-file limit 48 is below max_clients") == NULL)
        h_fail("no warning about the open-file limit: \"%s\"", h_stderr(w.f->hcs));
    /* More patients than descriptors: the kernel's backlog holds the rest. */
    for (i = 0; i < N; i++) {
        c[i] = tc_connect(w.f->port);
        tc_sendf(c[i], "authenticate alice %s\n", password("alice"));
    }
    for (i = 0; i < N; i++) {
        const char *line = tc_line(c[i], i < 30 ? h_timeout_ms : 100);

        if (line != NULL && strcmp(line, "success") != 0)
            h_fail("patient %d: \"%s\"", i, line);
        answered[i] = line != NULL;
        served += answered[i];
    }
    if (served < 30 || served >= N)
        h_fail("%d of %d patients answered with 48 descriptors", served, N);
    /* Nobody spins on a failing accept(): a second of waiting costs little CPU. */
    before = cpu_ticks(w.f->hcs->pid);
    tc_recv(c[N - 1], 1000);
    after = cpu_ticks(w.f->hcs->pid);
    if (after - before > 30)
        h_fail("hcs used %ld ticks of CPU in a second while out of descriptors", after - before);
    /* Some who were let in leave: the waiting ones are let in and answered. */
    for (i = 0; i < CLOSE; i++)
        if (answered[i]) {
            tc_close(c[i]);
            c[i] = NULL;
        }
    for (i = 0; i < N; i++)
        if (!answered[i])
            tc_expect(c[i], "success");
    for (i = 0; i < N; i++)
        if (c[i] != NULL)
            tc_close(c[i]);
    served_ok(&w);
    fixture_stop(w.f);
}

/* 11a. SIGTERM the moment hcs has said it is up: a clean stop, exit 0. */
static void
test_signal_at_start(void **state)
{
    struct center w;
    int i;

    for (i = 0; i < 20; i++) {
        center_start(state, &w, NULL, NULL, NULL);
        fixture_stop(w.f);
        h_cleanup();
    }
}

/* 11. SIGTERM and SIGINT with connections in every state: exit 0, every client sees the end. */
static void
test_signals(void **state)
{
    struct center w;
    struct tconn *c[8];
    int i, sig;

    for (sig = 0; sig < 2; sig++) {
        center_start(state, &w, NULL, NULL, NULL);
        c[0] = tc_connect(w.f->port);                          /* new, silent */
        c[1] = fixture_login(w.f, "alice", password("alice")); /* logged in */
        tc_sendf(c[1], "available\n");                         /* ... and subscribed */
        expect_list(&w, c[1]);
        c[2] = fixture_login(w.f, "bob", password("bob"));
        book(&w, c[2], 7); /* holding a booking */
        tc_expect(c[1], "* reserved 7");
        c[3] = fixture_login(w.f, "carol", password("carol"));
        tc_sendf(c[3], "selec"); /* in the middle of a line */
        c[4] = tc_connect(w.f->port);
        tc_send(c[4], "\x01\n", 2); /* lingering after an error */
        tc_expect(c[4], "error bad-line");
        c[6] = tc_connect(w.f->port);                    /* just connected */
        c[7] = fixture_login(w.f, "wb", password("wb")); /* logged in before the failures */
        for (i = 0; i < 5; i++) {                        /* five failed logins ... */
            c[5] = tc_connect(w.f->port);
            tc_sendf(c[5], "authenticate dave wrong-%d\n", i);
            tc_expect(c[5], "failure");
            tc_expect_eof(c[5]);
            tc_close(c[5]);
        }
        c[5] = tc_connect(w.f->port); /* ... then one whose answer waits */
        tc_sendf(c[5], "authenticate eve wrong\n");
        h_wait_prefix(w.f->hcs, "Phase 1: The Health Center Server has received request from a "
                                "patient with username eve ");
        assert_false(tc_ready(c[5]));
        if (sig == 0) {
            fixture_stop(w.f);
        } else {
            kill(w.f->hcs->pid, SIGINT);
            assert_int_equal(h_wait(w.f->hcs), 0);
        }
        for (i = 0; i < 8; i++) {
            enum tc_end end = tc_drain(c[i], h_timeout_ms, NULL);

            if (end == TC_OPEN)
                h_fail("connection %d still open after hcs stopped", i);
        }
        tc_cleanup();
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_line_too_long, fixture_teardown),
        cmocka_unit_test_teardown(test_bad_bytes, fixture_teardown),
        cmocka_unit_test_teardown(test_error_not_lost, fixture_teardown),
        cmocka_unit_test_teardown(test_malformed, fixture_teardown),
        cmocka_unit_test_teardown(test_many_fields, fixture_teardown),
        cmocka_unit_test_teardown(test_out_of_order, fixture_teardown),
        cmocka_unit_test_teardown(test_failed_login, fixture_teardown),
        cmocka_unit_test_teardown(test_timeouts, fixture_teardown),
        cmocka_unit_test_teardown(test_never_reads, fixture_teardown),
        cmocka_unit_test_teardown(test_reader_keeps_up, fixture_teardown),
        cmocka_unit_test_teardown(test_vanish, fixture_teardown),
        cmocka_unit_test_teardown(test_busy, fixture_teardown),
        cmocka_unit_test_teardown(test_signals, fixture_teardown),
        cmocka_unit_test_teardown(test_out_of_descriptors, fixture_teardown),
        cmocka_unit_test_teardown(test_signal_at_start, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
