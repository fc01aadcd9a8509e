/* test_faults.c: the doctor against bad datagrams, the patient against a broken center,
 * every program against broken data files, and no password on any screen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define PROMPT "Please enter the preferred appointment index and press enter: "

/* The price list of the test doctor. */
static const char *const plans[][2] = {
    {"acme-gold", "135"},
    {"blueshield", "80"},
    {"medi+", "7"},
};

#define NPLANS (sizeof plans / sizeof plans[0])
#define BURST 130 /* datagrams of one patient's burst: over two of the doctor's batches */

/* Start doctor 1 (house, the price list above) in dir, with -v if verbose; *port gets its
 * UDP port. */
static struct hproc *
doctor_start(const char *dir, unsigned *port, int verbose)
{
    const char *conf = h_path(dir, "doctor1.conf");
    const char *const quiet[] = {"--config", conf, NULL};
    const char *const loud[] = {"-v", "--config", conf, NULL};

    return fixture_doctor(dir, 1, "house",
                          h_str("%s %s\n%s %s\r\n\n%s %s", plans[0][0], plans[0][1], plans[1][0],
                                plans[1][1], plans[2][0], plans[2][1]),
                          NULL, verbose ? loud : quiet, port);
}

/* Every valid plan gets its price on fd. */
static void
expect_prices(int fd)
{
    size_t i;

    for (i = 0; i < NPLANS; i++)
        assert_string_equal(tc_udp_ask(fd, plans[i][0], strlen(plans[i][0])), plans[i][1]);
}

/*
 * No reply to data on fd (its reply would be longer than it): the first
 * answer that comes is the one to the plan sent after it.
 */
static void
expect_unanswered(int fd, const void *data, size_t len, const char *plan, const char *price)
{
    tc_udp_send(fd, data, len);
    assert_string_equal(tc_udp_ask(fd, plan, strlen(plan)), price);
}

/* Stop a process with SIGTERM: it must exit 0. */
static void
stop_ok(struct hproc *p)
{
    int st = h_stop(p);

    if (st != 0)
        h_fail("%s: exit status %d after SIGTERM, expected 0", p->name, st);
}

/* doctor -q answers as usual but prints no per-request screen line (only its start-up line). */
static void
test_doctor_quiet(void **state)
{
    const char *dir = h_tmpdir();
    const char *const args[] = {"-q", "--config", h_path(dir, "doctor1.conf"), NULL};
    struct hproc *d;
    unsigned port;
    int fd;

    (void)state;
    d = fixture_doctor(dir, 1, "house", h_str("%s %s\n", plans[0][0], plans[0][1]), NULL, args,
                       &port);
    fd = tc_udp(port);
    assert_string_equal(tc_udp_ask(fd, plans[0][0], strlen(plans[0][0])), plans[0][1]);
    assert_string_equal(tc_udp_ask(fd, "nosuchplan-at-this-doctor", 25), "error unknown-insurance");
    close(fd);
    stop_ok(d);
    if (strstr(h_stdout(d), "receives the request") != NULL ||
        strstr(h_stdout(d), "has sent") != NULL)
        h_fail("doctor -q printed per-request lines:\n%s", h_stdout(d));
}

/*
 * 1. The doctor: empty, oversized, binary and unknown datagrams; two
 * patients interleaved. A request whose reply would be longer than it gets
 * none (NULL): the doctor is no amplifier.
 */
static void
test_doctor_datagrams(void **state)
{
    /* One request, its length (-1: strlen) and the reply. */
    static const struct {
        const char *data;
        int len;
        const char *reply;
    } cases[] = {
        {"", 0, NULL},
        {"\n", 1, NULL},
        {"\r\n", 2, NULL},
        {"\x00\x01\x02\xff\xfe", 5, NULL},
        {"blue\0shield", 11, NULL},
        {"acme gold", -1, NULL},
        {"acme-gold\t", -1, NULL},
        {"\x1b[2Jacme-gold", -1, NULL},
        {"acme-gold\n\n", -1, NULL},
        {"nosuchplan", -1, NULL},
        {"ACME-GOLD", -1, NULL},
        {"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", -1, "error bad-request"},
        {"\r\n\r\n\r\n\r\n\r\n\r\n", -1, NULL},
        {"nosuchplan-at-this-doc", -1, NULL},
        {"nosuchplan-at-this-doct", -1, "error unknown-insurance"},
        {"bad plan \x01\x02\x03 and more", -1, "error bad-request"},
        {"acme-gold\n", -1, "135"},
        {"medi+\r\n", -1, "7"},
        /* The patient's padding to 24 bytes (PROTO_PRICE_PAD): every answer fits. */
        {"nosuchplan              ", -1, "error unknown-insurance"},
        {"medi+                   ", -1, "7"},
        {"acme gold               ", -1, "error bad-request"},
        {"                        ", -1, "error empty"},
    };
    char big[600];
    struct hproc *d;
    const char *out;
    unsigned port;
    size_t i;
    int a, b, k;

    (void)state;
    d = doctor_start(h_tmpdir(), &port, 0);
    a = tc_udp(port);
    b = tc_udp(port);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len < 0 ? strlen(cases[i].data) : (size_t)cases[i].len;
        const char *got;

        if (cases[i].reply == NULL) {
            expect_unanswered(a, cases[i].data, len, plans[1][0], plans[1][1]);
        } else if (strcmp((got = tc_udp_ask(a, cases[i].data, len)), cases[i].reply) != 0) {
            h_fail("case %zu: reply \"%s\", expected \"%s\"", i, got, cases[i].reply);
        }
        expect_prices(a);
    }
    /* Sizes: 63 bytes is a plan name, 64 is not; 512 fits the buffer, 513 and 600 do not. */
    memset(big, 'p', sizeof big);
    assert_string_equal(tc_udp_ask(a, big, 63), "error unknown-insurance");
    assert_string_equal(tc_udp_ask(a, big, 64), "error bad-request");
    assert_string_equal(tc_udp_ask(a, big, 512), "error bad-request");
    assert_string_equal(tc_udp_ask(a, big, 513), "error too-long");
    assert_string_equal(tc_udp_ask(a, big, 600), "error too-long");
    expect_prices(a);

    /* Two patients, requests interleaved and answers read in the other order. */
    for (k = 0; k < 50; k++) {
        char buf[64];
        const char *pa = plans[k % NPLANS][0], *pb = plans[(k + 1) % NPLANS][0];

        tc_udp_send(a, pa, strlen(pa));
        tc_udp_send(b, k % 5 == 0 ? big : pb, k % 5 == 0 ? sizeof big : strlen(pb));
        assert_true(tc_udp_recv(b, buf, sizeof buf, h_timeout_ms) >= 0);
        assert_string_equal(buf, k % 5 == 0 ? "error too-long" : plans[(k + 1) % NPLANS][1]);
        assert_true(tc_udp_recv(a, buf, sizeof buf, h_timeout_ms) >= 0);
        assert_string_equal(buf, plans[k % NPLANS][1]);
    }
    /* A burst from one patient over several batches of the doctor's (64): one answer per
     * request, in order; the short bad ones (every 7th) get none. */
    for (k = 0; k < BURST; k++) {
        const char *p = k % 4 == 3   ? "a bad plan, with spaces"
                        : k % 7 == 6 ? "bad plan"
                                     : plans[k % NPLANS][0];

        tc_udp_send(a, p, strlen(p));
    }
    for (k = 0; k < BURST; k++) {
        char buf[64];

        if (k % 4 != 3 && k % 7 == 6)
            continue;
        assert_true(tc_udp_recv(a, buf, sizeof buf, h_timeout_ms) >= 0);
        if (strcmp(buf, k % 4 == 3 ? "error bad-request" : plans[k % NPLANS][1]) != 0)
            h_fail("burst request %d: reply \"%s\"", k, buf);
    }
    expect_prices(b);
    stop_ok(d);
    /* Untrusted bytes reached the screen escaped: no control byte but the newlines. */
    out = h_stdout(d);
    for (i = 0; out[i] != '\0'; i++)
        if ((unsigned char)out[i] < 0x20 && out[i] != '\n')
            h_fail("doctor: raw byte 0x%02x on the screen at offset %zu", (unsigned char)out[i], i);
}

/* Patient 1's data and config in dir, for a center at port; extra keys appended. */
static const char *
patient_files(const char *dir, unsigned port, const char *extra)
{
    return fixture_patient(dir, 1, port, "alice", "pw-alice.1", "acme-gold\n", extra);
}

/* The patient ended with status 5 and one stderr line that names the phase and says what. */
static void
expect_patient_fail(struct hproc *p, int phase, const char *what)
{
    int st = h_wait(p);
    const char *err = h_stderr(p);
    const char *nl = strchr(err, '\n');

    if (st != 5)
        h_fail("%s: exit status %d, expected 5", p->name, st);
    if (nl == NULL || nl[1] != '\0' || strncmp(err, "patient: ", 9) != 0)
        h_fail("%s: expected one stderr line \"patient: ...\", got \"%s\"", p->name, err);
    if (strstr(err, h_str("phase %d", phase)) == NULL || strstr(err, what) == NULL)
        h_fail("%s: the stderr line should name phase %d and say \"%s\": \"%s\"", p->name, phase,
               what, err);
}

/* What the fake center does after reading the patient's authenticate line. */
enum fake_act {
    FAKE_GARBAGE,     /* an answer that is no reply at all */
    FAKE_CLOSE_AUTH,  /* close without answering */
    FAKE_RESET_AUTH,  /* reset without answering */
    FAKE_STALL_AUTH,  /* never answer authenticate */
    FAKE_LONG,        /* a 5000-byte line */
    FAKE_LONG_NONL,   /* 5000 bytes and no newline */
    FAKE_NUL,         /* a NUL byte inside the answer */
    FAKE_BUSY,        /* error busy */
    FAKE_TWICE,       /* success twice */
    FAKE_CLOSE_LIST,  /* success, then close */
    FAKE_STALL_LIST,  /* success, then never answer available */
    FAKE_SHORT_LIST,  /* slots 2, one row, close */
    FAKE_BAD_ROW,     /* slots 2, a row with a field missing */
    FAKE_HUGE_COUNT,  /* slots 99999999999 */
    FAKE_DUP_ROW,     /* the same slot twice */
    FAKE_STALL_SELECT /* the list, then never answer selection */
};

/* One scenario: what the fake does, the phase the patient must name, and what it must say. */
struct fake_case {
    enum fake_act act;
    int phase;
    const char *what;
};

/*
 * 2. The patient against a fake center that breaks the protocol in one way:
 * exit status 5 and one line naming the phase, never a hang or a crash.
 */
static void
test_patient_broken_center(void **state)
{
    static const struct fake_case cases[] = {
        {FAKE_GARBAGE, 1, "hello"},
        {FAKE_CLOSE_AUTH, 1, "closed"},
        {FAKE_RESET_AUTH, 1, "center"},
        {FAKE_STALL_AUTH, 1, "did not answer"},
        {FAKE_LONG, 1, "longer"},
        {FAKE_LONG_NONL, 1, "longer"},
        {FAKE_NUL, 1, "NUL"},
        {FAKE_BUSY, 1, "busy"},
        {FAKE_TWICE, 2, "success"},
        {FAKE_CLOSE_LIST, 2, "closed"},
        {FAKE_STALL_LIST, 2, "did not answer"},
        {FAKE_SHORT_LIST, 2, "closed"},
        {FAKE_BAD_ROW, 2, "4 Mon"},
        {FAKE_HUGE_COUNT, 2, "99999999999"},
        {FAKE_DUP_ROW, 2, "twice"},
        {FAKE_STALL_SELECT, 2, "did not answer"},
    };
    const char *dir = h_tmpdir();
    struct tserver *srv = tc_listen();
    const char *conf = patient_files(dir, srv->port, "timeout_ms = 300\nudp_retries = 0\n");
    static char big[5001];
    size_t i;

    (void)state;
    memset(big, 'g', 5000);
    big[5000] = '\n';
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fake_case *fc = &cases[i];
        struct hproc *p;
        struct tconn *c;
        long long t0;

        p = h_start(h_str("patient-case%zu", i), NULL, "patient", "--config", conf, NULL);
        c = tc_accept(srv);
        tc_expect(c, "authenticate alice pw-alice.1");
        t0 = h_now_ms();
        switch (fc->act) {
        case FAKE_GARBAGE:
            tc_sendf(c, "hello there\n");
            break;
        case FAKE_CLOSE_AUTH:
            tc_close(c);
            break;
        case FAKE_RESET_AUTH:
            tc_abort(c);
            break;
        case FAKE_STALL_AUTH:
        case FAKE_STALL_LIST:
        case FAKE_STALL_SELECT:
            break;
        case FAKE_LONG:
            tc_send(c, big, 5001);
            break;
        case FAKE_LONG_NONL:
            tc_send(c, big, 5000);
            break;
        case FAKE_NUL:
            tc_send(c, "succ\0ess\n", 9);
            break;
        case FAKE_BUSY:
            tc_sendf(c, "error busy\n");
            break;
        case FAKE_TWICE:
            tc_sendf(c, "success\nsuccess\n");
            break;
        case FAKE_CLOSE_LIST:
            /* Read the patient's next request first: closing with it unread
             * would make the kernel answer it with a reset, not an end. */
            tc_sendf(c, "success\n");
            tc_expect(c, "appointment"); /* the patient asks what the user holds first */
            tc_sendf(c, "appointment none\n");
            tc_expect(c, "available");
            tc_close(c);
            break;
        case FAKE_SHORT_LIST:
        case FAKE_BAD_ROW:
        case FAKE_HUGE_COUNT:
        case FAKE_DUP_ROW:
            break;
        }
        if (fc->act == FAKE_STALL_LIST || fc->act == FAKE_SHORT_LIST || fc->act == FAKE_BAD_ROW ||
            fc->act == FAKE_HUGE_COUNT || fc->act == FAKE_DUP_ROW || fc->act == FAKE_STALL_SELECT) {
            tc_sendf(c, "success\n");
            tc_expect(c, "appointment"); /* the patient asks what the user holds first */
            tc_sendf(c, "appointment none\n");
            tc_expect(c, "available");
            t0 = h_now_ms();
        }
        switch (fc->act) {
        case FAKE_SHORT_LIST:
            tc_sendf(c, "slots 2\n4 Mon 09am\n");
            tc_close(c);
            break;
        case FAKE_BAD_ROW:
            tc_sendf(c, "slots 2\n4 Mon\n7 Tue 10am\n");
            break;
        case FAKE_HUGE_COUNT:
            tc_sendf(c, "slots 99999999999\n4 Mon 09am\n");
            break;
        case FAKE_DUP_ROW:
            tc_sendf(c, "slots 2\n4 Mon 09am\n4 Mon 09am\n");
            break;
        case FAKE_STALL_SELECT:
            /* The patient waits for the person: give it a choice, then stall. */
            tc_sendf(c, "slots 1\n4 Mon 09am\n");
            h_expect_text(p, "Phase 1: Patient 1 has TCP port number ");
            h_wait_prefix(p, "Phase 2: The following appointments are available for Patient 1:");
            h_expect(p, "4 Mon 09am");
            h_expect_text(p, PROMPT);
            h_send(p, "4\n");
            tc_expect(c, "selection 4");
            t0 = h_now_ms();
            break;
        default:
            break;
        }
        expect_patient_fail(p, fc->phase, fc->what);
        if ((fc->act == FAKE_STALL_AUTH || fc->act == FAKE_STALL_LIST ||
             fc->act == FAKE_STALL_SELECT) &&
            h_now_ms() - t0 < 250)
            h_fail("%s: gave up after %lld ms, before timeout_ms = 300", p->name, h_now_ms() - t0);
        tc_close(c);
    }
}

/* Write the data of a working center, doctor and patient into a new folder (users.txt mode
 * 0600); nothing is started. */
static struct fixture *
good_files(void **state)
{
    static const struct fixture_user users[] = {{"alice", "pw-alice.1"}, {"bob", "pw-bob.2"}};
    static const struct fixture_slot slots[] = {
        {4, "Mon", "09am", "house", 41001},
        {7, "Tue", "10am", "grey", 41002},
    };
    const struct fixture_opts o = {
        .users = users,
        .nusers = 2,
        .slots = slots,
        .nslots = 2,
        .files_only = 1,
    };
    struct fixture *f = fixture_setup(state, &o);

    fixture_doctor_files(f->dir, 1, "house", "acme-gold 135\nblueshield 80\n");
    patient_files(f->dir, 21000, NULL);
    return f;
}

/*
 * Run prog --config conf with --check and without, side by side: both exit 1
 * with the one line msg on stderr ("prog: " in front allowed) and nothing on
 * stdout.
 */
static void
expect_bad_files(const char *prog, const char *conf, const char *msg)
{
    struct hproc *p[2];
    int i;

    p[0] = h_start(h_str("%s --check", prog), NULL, prog, "--check", "--config", conf, NULL);
    p[1] = h_start(prog, NULL, prog, "--config", conf, NULL);
    for (i = 0; i < 2; i++) {
        const char *err;
        int st;

        h_close_in(p[i]);
        st = h_wait(p[i]);
        err = h_stderr(p[i]);
        if (st != 1)
            h_fail("%s: exit status %d, expected 1", p[i]->name, st);
        if (strcmp(err, h_str("%s\n", msg)) != 0 && strcmp(err, h_str("%s: %s\n", prog, msg)) != 0)
            h_fail("%s: stderr should be the one line \"%s\", got \"%s\"", p[i]->name, msg, err);
        if (h_stdout(p[i])[0] != '\0')
            h_fail("%s: printed \"%s\" on stdout", p[i]->name, h_stdout(p[i]));
    }
}

/* 3a. hcs: broken users, availabilities and center.conf. */
static void
test_center_files(void **state)
{
    struct fixture *f = good_files(state);
    const char *dir = f->dir;
    const char *conf = f->conf;
    const char *users = h_path(dir, "users.txt");
    const char *av = h_path(dir, "availabilities.txt");
    const char *good_conf = "[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\n"
                            "availabilities = availabilities.txt\n";
    const char *good_av = "4 Mon 09am house 41001\n7 Tue 10am grey 41002\n";
    const char *good_users = "alice pw-alice.1\nbob pw-bob.2\n";
    struct hproc *p;
    struct tconn *c;

    h_file(dir, "center.conf",
           "[center]\nlisten = 127.0.0.1\nport = 0\nusers = nosuch.txt\n"
           "availabilities = availabilities.txt\n");
    expect_bad_files(
        "hcs", conf,
        h_str("%s: cannot open: No such file or directory", h_path(dir, "nosuch.txt")));
    h_file(dir, "center.conf",
           "[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\n"
           "availabilities = nosuch.txt\n");
    expect_bad_files(
        "hcs", conf,
        h_str("%s: cannot open: No such file or directory", h_path(dir, "nosuch.txt")));
    h_file(dir, "center.conf",
           "[center]\nlisten = 127.0.0.1\nport = 70000\nusers = users.txt\n"
           "availabilities = availabilities.txt\n");
    expect_bad_files("hcs", conf, h_str("%s:3: port must be a whole number from 0 to 65535", conf));
    h_file(dir, "center.conf", "%s", good_conf);

    h_file(dir, "users.txt", "alice pw-alice.1\nbob pw-bob.2 extra\n");
    expect_bad_files("hcs", conf,
                     h_str("%s:2: expected 2 fields (username password), found 3", users));
    h_file(dir, "users.txt", "\nalice\n");
    expect_bad_files("hcs", conf,
                     h_str("%s:2: expected 2 fields (username password), found 1", users));
    h_file(dir, "users.txt", "alice a1\nbob b2\n\nalice a3\n");
    expect_bad_files("hcs", conf, h_str("%s:4: duplicate username (first on line 1)", users));
    h_file(dir, "users.txt", "%s", "");
    expect_bad_files("hcs", conf, h_str("%s:1: no users in file", users));
    h_file(dir, "users.txt", "\r\n  \n\t\n");
    expect_bad_files("hcs", conf, h_str("%s:1: no users in file", users));
    h_file(dir, "users.txt", "%s", good_users);

    h_file(dir, "availabilities.txt",
           "4 Mon 09am house 41001\n7 Tue 10am grey 41002\n"
           "4 Wed 11am house 41001\n");
    expect_bad_files("hcs", conf, h_str("%s:3: duplicate index 4 (first on line 1)", av));
    h_file(dir, "availabilities.txt", "4 Mon 09am house 41001\n7 Tue 10am grey 70000\n");
    expect_bad_files("hcs", conf, h_str("%s:2: port must be a number from 1 to 65535", av));
    h_file(dir, "availabilities.txt", "4 Mon 09am house 0\n");
    expect_bad_files("hcs", conf, h_str("%s:1: port must be a number from 1 to 65535", av));
    h_file(dir, "availabilities.txt", "4 Mon 09am house\n");
    expect_bad_files("hcs", conf,
                     h_str("%s:1: expected 5 fields (index day time doctor port), found 4", av));
    h_file(dir, "availabilities.txt", "x4 Mon 09am house 41001\n");
    expect_bad_files("hcs", conf, h_str("%s:1: index must be a number from 1 to 4294967295", av));
    h_file(dir, "availabilities.txt", "%s", good_av);

    /* The good set passes --check and starts; a users file others can read earns a warning. */
    p = h_start("hcs --check", NULL, "hcs", "--check", "--config", conf, NULL);
    assert_int_equal(h_wait(p), 0);
    /* Its passwords are in clear: that is the only thing said. */
    assert_string_equal(h_stderr(p), h_str("hcs: %s: 2 of 2 passwords are stored in clear; hash "
                                           "them with: hcs passwd --upgrade %s\n",
                                           users, users));
    chmod(users, 0644);
    p = h_start("hcs --check 0644", NULL, "hcs", "--check", "--config", conf, NULL);
    assert_int_equal(h_wait(p), 0);
    if (strstr(h_stderr(p), "readable by other users") == NULL)
        h_fail("hcs --check: no warning for a users file of mode 0644: \"%s\"", h_stderr(p));
    fixture_start(f);
    c = tc_connect(f->port);
    tc_sendf(c, "available\n");
    tc_expect(c, "error not-authenticated");
    if (strstr(h_stderr(f->hcs), "readable by other users") == NULL)
        h_fail("hcs: no warning at start-up for a users file of mode 0644: \"%s\"",
               h_stderr(f->hcs));
    fixture_stop(f);
}

/* 3b. doctor: broken prices and doctor config. */
static void
test_doctor_files(void **state)
{
    const char *dir = good_files(state)->dir;
    const char *conf = h_path(dir, "doctor1.conf");
    const char *prices = h_path(dir, "house.txt");

    h_file(dir, "house.txt", "acme-gold 135\nblueshield eighty\n");
    expect_bad_files(
        "doctor", conf,
        h_str("%s:2: bad cost 'eighty' (expected a whole number from 0 to 1000000)", prices));
    h_file(dir, "house.txt", "acme-gold -5\n");
    expect_bad_files(
        "doctor", conf,
        h_str("%s:1: bad cost '-5' (expected a whole number from 0 to 1000000)", prices));
    h_file(dir, "house.txt", "acme-gold 135\n\nblueshield\n");
    expect_bad_files("doctor", conf,
                     h_str("%s:3: expected 2 fields (insurance cost), found 1", prices));
    h_file(dir, "house.txt", "acme-gold 135\nacme-gold 140\n");
    expect_bad_files("doctor", conf,
                     h_str("%s:2: duplicate insurance 'acme-gold' (first on line 1)", prices));
    h_file(dir, "house.txt", "%s", "");
    expect_bad_files("doctor", conf, h_str("%s:1: no prices in file", prices));
    unlink(prices);
    expect_bad_files("doctor", conf, h_str("%s: cannot open: No such file or directory", prices));
    h_file(dir, "house.txt", "acme-gold 135\n");
    h_file(
        dir, "doctor1.conf",
        "[doctor]\nid = 1\nname = house\nlisten = 127.0.0.1\nport = 65536\nprices = house.txt\n");
    expect_bad_files("doctor", conf,
                     h_str("%s:5: port must be a whole number from 0 to 65535", conf));
    unlink(conf);
    expect_bad_files("doctor", conf, h_str("%s: cannot open: No such file or directory", conf));
}

/* The next part of stderr holds want; waits for it (the harness keeps reading). */
static void
expect_stderr(struct hproc *p, size_t *from, const char *want)
{
    *from = h_wait_stderr(p, *from, want) + strlen(want);
}

/*
 * 1b. The doctor is no amplifier: for the worst requests (empty, one byte,
 * unknown plans, long garbage) a reply, if any, is no longer than the
 * request; the ones left unanswered are counted (SIGUSR1 prints the
 * counts); a valid query still gets its price.
 */
static void
test_doctor_amplifier(void **state)
{
    static const struct {
        const char *data;
        int len; /* -1: strlen; over 16: that many bytes of data[0] */
        int answered;
    } cases[] = {
        {"", 0, 0},       {"x", 1, 0},           {"\n", 1, 0},    {"\xff", 1, 0},
        {"zz", 2, 0},     {"nosuchplan", -1, 0}, {"\x01", 63, 1}, {"p", 63, 1},
        {"\xff", 512, 1}, {"\xff", 513, 1},      {"q", 1400, 1},
    };
    char data[1400], buf[1024];
    struct hproc *d;
    unsigned port;
    size_t i, from = 0, unanswered = 0;
    int fd;

    (void)state;
    d = doctor_start(h_tmpdir(), &port, 0);
    fd = tc_udp(port);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len < 0 ? strlen(cases[i].data) : (size_t)cases[i].len;
        ssize_t n;

        if (len > 16)
            memset(data, cases[i].data[0], len);
        else
            memcpy(data, cases[i].data, len);
        tc_udp_send(fd, data, len);
        tc_udp_send(fd, plans[0][0], strlen(plans[0][0]));
        assert_true((n = tc_udp_recv(fd, buf, sizeof buf, h_timeout_ms)) >= 0);
        if (!cases[i].answered) {
            unanswered++;
            if (strcmp(buf, plans[0][1]) != 0)
                h_fail("case %zu (%zu bytes): answered \"%s\"", i, len, buf);
            continue;
        }
        if ((size_t)n > len || strncmp(buf, "error ", 6) != 0)
            h_fail("case %zu (%zu bytes): reply \"%s\" (%zd bytes)", i, len, buf, n);
        assert_true(tc_udp_recv(fd, buf, sizeof buf, h_timeout_ms) >= 0);
        assert_string_equal(buf, plans[0][1]);
    }
    expect_prices(fd);
    assert_int_equal(kill(d->pid, SIGUSR1), 0);
    expect_stderr(d, &from,
                  h_str("doctor: served %zu, errors 5, unanswered %zu (reply longer than the "
                        "request), dropped 0\n",
                        sizeof cases / sizeof cases[0] + NPLANS, unanswered));
    close(fd);
    stop_ok(d);
}

/*
 * 1c. A datagram from port 0 (spoofed: only a raw socket sends one) cannot
 * be answered: it is dropped and counted at once, without a send that fails
 * and a warning each (a flood of them must not flood the log); the requests
 * around it are answered. Needs a raw socket (root): skipped otherwise.
 */
static void
test_doctor_port_zero(void **state)
{
    const char *plan = plans[1][0];
    struct sockaddr_in to = {.sin_family = AF_INET};
    unsigned char dgram[64];
    size_t len = 8 + strlen(plan), from = 0;
    struct hproc *d;
    unsigned port;
    int raw, fd, i;

    (void)state;
    if ((raw = socket(AF_INET, SOCK_RAW, IPPROTO_UDP)) == -1) {
        print_message("no raw socket here (%s): skipped\n", strerror(errno));
        skip();
    }
    d = doctor_start(h_tmpdir(), &port, 0);
    fd = tc_udp(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The UDP header: source port 0, the doctor's port, the length, no checksum. */
    memset(dgram, 0, 8);
    dgram[2] = (unsigned char)(port >> 8);
    dgram[3] = (unsigned char)port;
    dgram[4] = (unsigned char)(len >> 8);
    dgram[5] = (unsigned char)len;
    memcpy(dgram + 8, plan, len - 8);
    for (i = 0; i < 50; i++) {
        if (sendto(raw, dgram, len, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)len)
            h_fail("sendto (raw): %s", strerror(errno));
        assert_string_equal(tc_udp_ask(fd, plans[0][0], strlen(plans[0][0])), plans[0][1]);
    }
    assert_int_equal(kill(d->pid, SIGUSR1), 0);
    expect_stderr(d, &from,
                  "doctor: served 50, errors 0, unanswered 0 (reply longer than the request), "
                  "dropped 50\n");
    if (strstr(h_stderr(d), "cannot send") != NULL)
        h_fail("a datagram from port 0 was answered: %s", h_stderr(d));
    close(raw);
    close(fd);
    stop_ok(d);
}

/* Run prog --help; return what it printed (exit 0, nothing on stderr). */
static const char *
help_text(const char *prog)
{
    struct hproc *p = h_start(h_str("%s --help", prog), NULL, prog, "--help", NULL);

    h_close_in(p);
    assert_int_equal(h_wait(p), 0);
    assert_string_equal(h_stderr(p), "");
    return h_stdout(p);
}

/*
 * 3d. Usage errors of hcs and doctor: the reason, then one line "Try 'PROG
 * --help'.", exit 1; the options they share are spelled alike in their help.
 */
static void
test_usage_errors(void **state)
{
    static const char *const shared[] = {"  -c, --config FILE ", "      --check ",
                                         "  -v, --verbose ", "  -h, --help ", "  -V, --version "};
    const char *dir = good_files(state)->dir;
    const char *hcs_help, *doctor_help;
    struct hproc *p;
    size_t i;

    fixture_expect_usage(
        "hcs", (const char *const[]){"--nope", NULL},
        h_str("%s/hcs: unrecognized option '--nope'\nTry 'hcs --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage("hcs", (const char *const[]){"-x", NULL},
                         h_str("%s/hcs: invalid option -- 'x'\nTry 'hcs --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage(
        "hcs", (const char *const[]){"--config", NULL},
        h_str("%s/hcs: option '--config' requires an argument\nTry 'hcs --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage("hcs", (const char *const[]){"extra", NULL},
                         "hcs: unexpected argument 'extra'\nTry 'hcs --help'.\n");
    fixture_expect_usage(
        "hcs", (const char *const[]){"--id", "1", NULL},
        h_str("%s/hcs: unrecognized option '--id'\nTry 'hcs --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage(
        "doctor", (const char *const[]){"--nope", NULL},
        h_str("%s/doctor: unrecognized option '--nope'\nTry 'doctor --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage("doctor", (const char *const[]){"--id", "x", NULL},
                         "doctor: --id must be a whole number from 1 to 1000000\n"
                         "Try 'doctor --help'.\n");
    fixture_expect_usage("doctor", (const char *const[]){"--id", "1", "extra", NULL},
                         "doctor: unexpected argument 'extra'\nTry 'doctor --help'.\n");
    fixture_expect_usage("doctor", (const char *const[]){"--id", "1", "-c", "x.conf", NULL},
                         "doctor: give exactly one of --id N or --config FILE\n"
                         "Try 'doctor --help'.\n");
    fixture_expect_usage("doctor", (const char *const[]){"-v", NULL},
                         "doctor: give exactly one of --id N or --config FILE\n"
                         "Try 'doctor --help'.\n");

    hcs_help = help_text("hcs");
    doctor_help = help_text("doctor");
    for (i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        const char *a = strstr(hcs_help, shared[i]), *b = strstr(doctor_help, shared[i]);

        if (a == NULL || b == NULL || (a != hcs_help && a[-1] != '\n') ||
            (b != doctor_help && b[-1] != '\n'))
            h_fail("\"%s\" should start a line of both helps:\n%s\n%s", shared[i], hcs_help,
                   doctor_help);
        if (strcspn(a, "\n") != strcspn(b, "\n") || memcmp(a, b, strcspn(a, "\n")) != 0)
            h_fail("\"%s\" is described differently:\n%.*s\n%.*s", shared[i], (int)strcspn(a, "\n"),
                   a, (int)strcspn(b, "\n"), b);
    }
    /* -c is --config in both. */
    p = h_start("hcs -c --check", NULL, "hcs", "-c", h_path(dir, "center.conf"), "--check", NULL);
    assert_int_equal(h_wait(p), 0);
    p = h_start("doctor -c --check", NULL, "doctor", "-c", h_path(dir, "doctor1.conf"), "--check",
                NULL);
    assert_int_equal(h_wait(p), 0);
    assert_string_equal(h_stdout(p), h_str("%s: ok (2 prices in %s)\n", h_path(dir, "doctor1.conf"),
                                           h_path(dir, "house.txt")));
}

/*
 * 3e. --check (and start-up) report every bad line of center.conf and
 * doctorN.conf, one "file:line: message" each, and refuse a listen address
 * that does not parse or resolve; the OK lines count in the right number.
 */
static void
test_check_every_error(void **state)
{
    struct fixture *f = good_files(state);
    const char *dir = f->dir;
    const char *conf = f->conf;
    const char *dconf = h_path(dir, "doctor1.conf");
    const char *files = "users = users.txt\navailabilities = availabilities.txt\n";
    struct hproc *p;
    int i;

    h_file(dir, "center.conf",
           "[center]\nport = x\n%sstate = s.db\n    durability = full\nlisten = 999.1.1.1\n"
           "max_line = 64\nmax_line = 128\n",
           files);
    expect_bad_files("hcs", conf,
                     h_str("%s:2: port must be a whole number from 0 to 65535\n"
                           "%s:6: indented line: a value cannot go on over several lines (remove "
                           "the leading whitespace)\n"
                           "%s:7: listen: 999.1.1.1 is not an IPv4 address\n"
                           "%s:9: duplicate key 'max_line' in [center] (first on line 8)",
                           conf, conf, conf, conf));
    /* One error alone reads as it always did. */
    h_file(dir, "center.conf", "[center]\nport = 0\n%slisten = 999.1.1.1\n", files);
    expect_bad_files("hcs", conf, h_str("%s:5: listen: 999.1.1.1 is not an IPv4 address", conf));
    /* A name that does not resolve: the resolver's reason after the name. */
    h_file(dir, "center.conf", "[center]\nport = 0\n%slisten = nosuchhost.invalid\n", files);
    for (i = 0; i < 2; i++) {
        p = i == 0 ? h_start("hcs --check", NULL, "hcs", "--check", "--config", conf, NULL)
                   : h_start("hcs", NULL, "hcs", "--config", conf, NULL);
        h_close_in(p);
        assert_int_equal(h_wait(p), 1);
        if (strncmp(h_stderr(p), h_str("%s:5: listen: cannot resolve nosuchhost.invalid: ", conf),
                    strlen(h_str("%s:5: listen: cannot resolve nosuchhost.invalid: ", conf))) !=
                0 ||
            strchr(h_stderr(p), '\n')[1] != '\0')
            h_fail("%s: stderr \"%s\"", p->name, h_stderr(p));
        assert_string_equal(h_stdout(p), "");
    }
    /* A name that resolves is fine, and one user and one slot are counted as such. */
    h_file(dir, "center.conf", "[center]\nport = 0\n%slisten = localhost\n", files);
    h_file(dir, "users.txt", "alice pw-alice.1\n");
    h_file(dir, "availabilities.txt", "4 Mon 09am house 41001\n");
    chmod(h_path(dir, "users.txt"), 0600);
    p = h_start("hcs --check", NULL, "hcs", "--check", "--config", conf, NULL);
    assert_int_equal(h_wait(p), 0);
    assert_string_equal(h_stdout(p), h_str("%s: OK (1 user, 1 slot)\n", conf));

    h_file(dir, "doctor1.conf",
           "[doctor]\nid = 0\nname = house\n  listen = 127.0.0.1\nport = 0\nport = 1\n"
           "prices = house.txt\nlisten = 300.1.1.1\n[doctors]\nid = 1\n");
    expect_bad_files("doctor", dconf,
                     h_str("%s:2: id must be a whole number from 1 to 1000000\n"
                           "%s:4: indented line: a value cannot go on over several lines (remove "
                           "the leading whitespace)\n"
                           "%s:6: duplicate key 'port' in [doctor] (first on line 5)\n"
                           "%s:8: duplicate key 'listen' in [doctor] (first on line 4)\n"
                           "%s:10: unknown section [doctors] (expected [doctor])",
                           dconf, dconf, dconf, dconf, dconf));
    h_file(dir, "doctor1.conf",
           "[doctor]\nid = 1\nname = house\nlisten = 300.1.1.1\nprices = house.txt\n");
    expect_bad_files("doctor", dconf,
                     h_str("%s:4: listen: 300.1.1.1 is not an IPv4 address", dconf));
    h_file(dir, "house.txt", "acme-gold 135\n");
    h_file(dir, "doctor1.conf",
           "[doctor]\nid = 1\nname = house\nlisten = localhost\nprices = "
           "house.txt\n");
    p = h_start("doctor --check", NULL, "doctor", "--check", "--config", dconf, NULL);
    assert_int_equal(h_wait(p), 0);
    assert_string_equal(h_stdout(p),
                        h_str("%s: ok (1 price in %s)\n", dconf, h_path(dir, "house.txt")));
}

/*
 * 3f. SIGHUP makes the doctor read its prices file again: a good file
 * replaces the table and one line says what changed; a bad or missing one
 * is reported as "file:line: message" and the old prices stay.
 */
static void
test_doctor_reload(void **state)
{
    const char *dir = h_tmpdir();
    const char *prices = h_path(dir, "house.txt");
    struct hproc *d;
    unsigned port;
    size_t err_at = 0;
    int fd;

    (void)state;
    d = doctor_start(dir, &port, 0);
    fd = tc_udp(port);
    expect_prices(fd);

    /* acme-gold changes, medi+ goes, two plans come. */
    h_file(dir, "house.txt", "acme-gold 140\nblueshield 80\nnewplan 12\nother 3\n");
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    h_wait_prefix(d, "reload: ");
    assert_string_equal(d->line, "reload: 2 prices added, 1 removed, 1 changed");
    assert_string_equal(tc_udp_ask(fd, "acme-gold", 9), "140");
    assert_string_equal(tc_udp_ask(fd, "newplan", 7), "12");
    assert_string_equal(tc_udp_ask(fd, "blueshield", 10), "80");
    expect_unanswered(fd, "medi+", 5, "acme-gold", "140");

    /* A bad row: the message, and the table as it was. */
    h_file(dir, "house.txt", "acme-gold 150\nnewplan twelve\n");
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    expect_stderr(
        d, &err_at,
        h_str("%s:2: bad cost 'twelve' (expected a whole number from 0 to 1000000)\n", prices));
    expect_stderr(d, &err_at, "doctor: reload failed: the 4 prices loaded before stay\n");
    assert_string_equal(tc_udp_ask(fd, "acme-gold", 9), "140");
    assert_string_equal(tc_udp_ask(fd, "newplan", 7), "12");
    assert_string_equal(tc_udp_ask(fd, "other", 5), "3");
    /* No file at all: the same. */
    unlink(prices);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    expect_stderr(d, &err_at, h_str("%s: cannot open: No such file or directory\n", prices));
    assert_string_equal(tc_udp_ask(fd, "acme-gold", 9), "140");

    /* Fixed again: one plan left, at a new price. */
    h_file(dir, "house.txt", "acme-gold 150\n");
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    h_wait_prefix(d, "reload: ");
    assert_string_equal(d->line, "reload: 0 prices added, 3 removed, 1 changed");
    assert_string_equal(tc_udp_ask(fd, "acme-gold", 9), "150");
    expect_unanswered(fd, "newplan", 7, "acme-gold", "150");
    stop_ok(d);
}

/* 3c. patient: broken credentials, insurance and patient config. */
static void
test_patient_files(void **state)
{
    const char *dir = good_files(state)->dir;
    const char *conf = h_path(dir, "patient1.conf");
    const char *cred = h_path(dir, "patient1.txt");
    const char *ins = h_path(dir, "patient1insurance.txt");

    h_file(dir, "patient1.txt", "alice\n");
    expect_bad_files("patient", conf,
                     h_str("%s:1: expected 2 fields (username password), found 1", cred));
    h_file(dir, "patient1.txt", "\nalice pw-alice.1 extra\n");
    expect_bad_files("patient", conf,
                     h_str("%s:2: expected 2 fields (username password), found 3", cred));
    h_file(dir, "patient1.txt", "%s", "");
    expect_bad_files("patient", conf,
                     h_str("%s:1: empty file (expected one row: username password)", cred));
    h_file(dir, "patient1.txt", "alice pw-alice.1\n");
    unlink(ins);
    expect_bad_files("patient", conf, h_str("%s: cannot open: No such file or directory", ins));
    h_file(dir, "patient1insurance.txt", "acme-gold\nblueshield\n");
    expect_bad_files("patient", conf,
                     h_str("%s:2: more than one row (the first is on line 1)", ins));
    h_file(dir, "patient1insurance.txt", "acme-gold\n");
    patient_files(dir, 0, NULL);
    expect_bad_files("patient", conf,
                     h_str("%s:4: center_port must be a whole number from 1 to 65535", conf));
}

/*
 * 4. No password on any screen: a whole session, a failed login, and raw
 * requests that carry a password in malformed lines, with every program
 * verbose; neither password appears in anything any of them printed.
 */
static void
test_no_password(void **state)
{
    static const char secret[] = "S3cret-Pa55word";
    static const char wrong[] = "Wr0ng-Gu3ss";
    const char *dir = h_tmpdir();
    const char *secrets[] = {secret, wrong};
    const struct fixture_user users[] = {{"alice", secret}, {"bob", "pw-bob.2"}};
    struct fixture_opts o = {
        .dir = dir,
        .users = users,
        .nusers = 2,
        .config = "max_line = 128\n",
        .flag = "-v",
    };
    struct hproc *procs[8];
    int nprocs = 0, i, k;
    struct fixture *f;
    struct hproc *p;
    struct tconn *c;
    unsigned dport, port;

    procs[nprocs++] = doctor_start(dir, &dport, 1);
    o.slots_text = h_str("4 Mon 09am house %u\n7 Tue 10am house %u\n", dport, dport);
    f = fixture_setup(state, &o);
    procs[nprocs++] = f->hcs;
    port = f->port;

    /* A whole session. */
    patient_files(dir, port, NULL);
    h_file(dir, "patient1.txt", "alice %s\n", secret);
    p = h_start("patient --check", NULL, "patient", "--check", "--config",
                h_path(dir, "patient1.conf"), NULL);
    procs[nprocs++] = p;
    assert_int_equal(h_wait(p), 0);
    p = h_start("patient", NULL, "patient", "-v", "--slot", "7", "--config",
                h_path(dir, "patient1.conf"), NULL);
    procs[nprocs++] = p;
    h_wait_prefix(p, "Phase 3: Patient 1 receives 135$ estimation cost");
    assert_int_equal(h_wait(p), 0);

    /* A failed login. */
    h_file(dir, "patient1.txt", "alice %s\n", wrong);
    p = h_start("patient wrong", NULL, "patient", "-v", "--config", h_path(dir, "patient1.conf"),
                NULL);
    procs[nprocs++] = p;
    h_wait_prefix(p, "Phase 1: Patient 1 authentication result: failure.");
    assert_int_equal(h_wait(p), 2);

    /* Raw lines with a password in them, each malformed its own way. */
    c = tc_connect(port);
    tc_sendf(c, "authenticate alice %s extra\n", secret);
    tc_expect(c, "error wrong-arguments");
    tc_sendf(c, "authenticate alice  %s\n", secret);
    tc_expect(c, "error bad-spacing");
    tc_sendf(c, "authenticate %s\n", secret);
    tc_expect(c, "error wrong-arguments");
    tc_sendf(c, "frobnicate %s\n", secret);
    tc_expect(c, "error unknown-command");
    tc_sendf(c, "authenticate alice %s\x01\n", secret);
    tc_expect(c, "error bad-line");
    tc_expect_eof(c);
    c = tc_connect(port);
    tc_sendf(c, "authenticate alice %s %0200d\n", secret, 0);
    tc_expect(c, "error line-too-long");
    tc_expect_eof(c);
    c = tc_connect(port);
    tc_sendf(c, "authenticate bob %s\n", wrong);
    tc_expect(c, "failure");
    tc_expect_eof(c);
    c = tc_connect(port);
    tc_sendf(c, "authenticate alice %s\n", secret);
    tc_expect(c, "success");
    tc_sendf(c, "authenticate alice %s\n", secret);
    tc_expect(c, "error already-authenticated");
    tc_sendf(c, "selection %s\n", secret);
    tc_expect(c, "error bad-index");
    tc_close(c);

    fixture_stop(f);
    stop_ok(procs[0]);
    for (i = 0; i < nprocs; i++)
        for (k = 0; k < 2; k++) {
            if (strstr(h_stdout(procs[i]), secrets[k]) != NULL)
                h_fail("%s printed the password %s on stdout", procs[i]->name, secrets[k]);
            if (strstr(h_stderr(procs[i]), secrets[k]) != NULL)
                h_fail("%s printed the password %s on stderr", procs[i]->name, secrets[k]);
        }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_doctor_datagrams, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_amplifier, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_port_zero, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_quiet, fixture_teardown),
        cmocka_unit_test_teardown(test_patient_broken_center, fixture_teardown),
        cmocka_unit_test_teardown(test_center_files, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_files, fixture_teardown),
        cmocka_unit_test_teardown(test_patient_files, fixture_teardown),
        cmocka_unit_test_teardown(test_usage_errors, fixture_teardown),
        cmocka_unit_test_teardown(test_check_every_error, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_reload, fixture_teardown),
        cmocka_unit_test_teardown(test_no_password, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
