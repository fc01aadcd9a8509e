/* test_system.c: the real hcs, doctors and patients on free ports with their own data,
 * checked line by line against the screen lines of the spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"

#define PROMPT "Please enter the preferred appointment index and press enter: "

/* One slot of the test schedule: two-digit indices, gaps, not the sample days. */
struct tslot {
    unsigned index;
    const char *day;
    const char *time;
    int doctor; /* 1 or 2 */
};

static const struct tslot slots[] = {
    {2, "Mon", "09am", 1},  {3, "Tue", "11am", 2},  {10, "Wed", "02pm", 1},
    {11, "Thu", "03pm", 2}, {12, "Fri", "04pm", 1},
};

/* One patient of the test data: none of the sample names, passwords or plans. */
struct tpatient {
    const char *user;
    const char *password;
    const char *plan;
};

static const struct tpatient patients[] = {
    [1] = {"ana.k", "Tr0ub4dor&3", "blueshield"},
    [2] = {"bo_r", "correct-horse-77", "acme-gold"},
    /* No shorter than "error unknown-insurance": the doctor never replies with more bytes
     * than it was sent, so a shorter unknown plan gets no answer at all. */
    [3] = {"cyd", "pw.cyd.9", "nosuchplan"},
    [4] = {"dee", "pw-dee-10", "medi+"},
    [5] = {"eve", "Eve!2024", "acme-gold"},
    [6] = {"ana.k", "Tr0ub4dor&4", "blueshield"}, /* wrong password */
    [7] = {"mallory", "letmein", "blueshield"},   /* unknown user */
};

#define NPATIENTS ((unsigned)(sizeof patients / sizeof patients[0]))

static const char *const doctor_names[] = {"", "house", "grey"};

/* The running system of one test. */
struct world {
    const char *dir;
    struct hproc *doc[3]; /* 1 and 2; NULL when not started */
    unsigned docport[3];
    struct fixture *f; /* the center */
};

/* What doctor d charges for plan (the prices written by world_start), or 0. */
static unsigned
price(int d, const char *plan)
{
    if (strcmp(plan, "acme-gold") == 0)
        return d == 1 ? 135 : 210;
    if (strcmp(plan, "blueshield") == 0)
        return d == 1 ? 80 : 95;
    if (strcmp(plan, "medi+") == 0)
        return d == 1 ? 7 : 12;
    return 0;
}

/* The test schedule's slot with this index. */
static const struct tslot *
slot_of(unsigned index)
{
    size_t i;

    for (i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (slots[i].index == index)
            return &slots[i];
    fail_msg("slot %u is not in the test schedule", index);
    return NULL;
}

/* Write patientN.txt, patientNinsurance.txt and patientN.conf for center port port; extra
 * keys are appended (timeout_ms is 5000 unless extra sets it: a key may be given once). */
static void
write_patient(struct world *w, unsigned id, unsigned port, const char *extra)
{
    const struct tpatient *t = &patients[id];

    if (extra == NULL)
        extra = "";
    fixture_patient(
        w->dir, id, port, t->user, t->password, t->plan,
        h_str("%s%s", strstr(extra, "timeout_ms") != NULL ? "" : "timeout_ms = 5000\n", extra));
}

/* The line that tells patient id, before any list, that it holds index of doctor d. */
static void
expect_held(struct world *w, struct hproc *p, unsigned id, unsigned index, int d)
{
    const struct tslot *s = slot_of(index);

    h_expectf(p,
              "Phase 2: Patient %u already holds appointment %u %s %s with %s (port %u); "
              "cancel it first with: patient --id %u --cancel",
              id, index, s->day, s->time, doctor_names[d], w->docport[d], id);
}

/* The line that tells patient id that its booking of index stands without a price. */
static void
expect_kept(struct hproc *p, unsigned id, unsigned index)
{
    h_expectf(p,
              "Phase 3: Appointment %u stays booked for Patient %u without a cost estimate; see "
              "it with: patient --id %u --show",
              index, id, id);
}

/* A UDP socket on a free loopback port that nobody answers; returns the fd. */
static int
silent_socket(unsigned *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(fd != -1);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/*
 * Write the data, start doctor 1 and 2 on port 0 and read their ports, write
 * availabilities.txt with those ports, start hcs on port 0 and read its port,
 * write every patient's files. silent_port != 0: doctor 2 is not started, and
 * the schedule names that port instead (a socket of the test that never answers).
 */
static void
world_start(void **state, struct world *w, unsigned silent_port)
{
    const char *env[] = {NULL, NULL};
    const char *args1[] = {"--id", "1", "--config-dir", NULL, NULL};
    const char *const args2[] = {"--id", "2", NULL};
    struct fixture_opts o = {
        /* CRLF, a blank line, tabs and repeated spaces, no final newline. */
        .users_text = "ana.k   Tr0ub4dor&3\r\n\r\nbo_r\tcorrect-horse-77\r\ncyd pw.cyd.9\r\n"
                      "dee pw-dee-10\r\neve Eve!2024\r\nfay pw-fay-6",
    };
    unsigned i;

    memset(w, 0, sizeof *w);
    w->dir = h_tmpdir();
    /* Doctor 1 by --config-dir, doctor 2 by $HCS_CONFIG_DIR. */
    args1[3] = w->dir;
    w->doc[1] = fixture_doctor(w->dir, 1, "house", "acme-gold 135\nblueshield 80\n\nmedi+ 7", NULL,
                               args1, &w->docport[1]);
    if (silent_port != 0) {
        w->docport[2] = silent_port;
    } else {
        env[0] = h_str("HCS_CONFIG_DIR=%s", w->dir);
        w->doc[2] =
            fixture_doctor(w->dir, 2, "grey", "acme-gold 210\r\nblueshield  95\r\nmedi+ 12\r\n",
                           env, args2, &w->docport[2]);
    }
    o.dir = w->dir;
    o.slots_text = h_str("2 Mon 09am house %u\n3  Tue 11am grey %u\r\n10 Wed 02pm house %u\n\n"
                         "11 Thu\t03pm grey %u\n12 Fri 04pm house %u",
                         w->docport[1], w->docport[2], w->docport[1], w->docport[2], w->docport[1]);
    w->f = fixture_setup(state, &o);
    for (i = 1; i < NPATIENTS; i++)
        write_patient(w, i, w->f->port, NULL);
}

/* Stop hcs and the doctors: each exits 0 and printed nothing that was not expected. */
static void
world_stop(struct world *w)
{
    int d;

    fixture_stop(w->f);
    h_expect_eof(w->f->hcs);
    for (d = 1; d <= 2; d++) {
        if (w->doc[d] == NULL)
            continue;
        assert_int_equal(h_stop(w->doc[d]), 0);
        h_expect_eof(w->doc[d]);
    }
}

/* Start patient id with --id and --config-dir, plus the NULL-terminated extra arguments. */
static struct hproc *
patient_start(struct world *w, unsigned id, ...)
{
    const char *argv[16];
    const char *a;
    va_list ap;
    int n = 0;

    argv[n++] = "patient";
    argv[n++] = "--id";
    argv[n++] = h_str("%u", id);
    argv[n++] = "--config-dir";
    argv[n++] = w->dir;
    va_start(ap, id);
    while ((a = va_arg(ap, const char *)) != NULL && n < 15)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return h_startv(h_str("patient%u", id), NULL, argv);
}

/* Phase 1 on patient id's screen; returns its TCP port. */
static unsigned
expect_phase1(struct hproc *p, unsigned id, int ok)
{
    unsigned port = h_expect_port(p, h_str("Phase 1: Patient %u has TCP port number ", id),
                                  " and IP address 127.0.0.1.");

    h_expectf(p,
              "Phase 1: Authentication request from Patient %u with username %s and password "
              "******** has been sent to the Health Center Server.",
              id, patients[id].user);
    h_expectf(p, "Phase 1: Patient %u authentication result: %s.", id, ok ? "success" : "failure");
    if (ok)
        h_expectf(p, "Phase 1: End of Phase 1 for Patient %u.", id);
    return port;
}

/* The list header and the slots with the given indices (0 ends them), in this order. */
static void
expect_list(struct hproc *p, unsigned id, ...)
{
    unsigned index;
    va_list ap;

    h_expectf(p, "Phase 2: The following appointments are available for Patient %u:", id);
    va_start(ap, id);
    while ((index = va_arg(ap, unsigned)) != 0) {
        const struct tslot *s = slot_of(index);

        h_expectf(p, "%u %s %s", s->index, s->day, s->time);
    }
    va_end(ap);
}

/* The booking line of patient id for a slot of doctor d. */
static void
expect_booked(struct world *w, struct hproc *p, unsigned id, int d)
{
    h_expectf(p,
              "Phase 2: The requested appointment is available and reserved to Patient %u. "
              "The assigned doctor port number is %u.",
              id, w->docport[d]);
}

/* Phase 3 up to the request sent to doctor d; returns the patient's UDP port. */
static unsigned
expect_phase3_sent(struct world *w, struct hproc *p, unsigned id, int d)
{
    unsigned port =
        h_expect_port(p, h_str("Phase 3: Patient %u has a dynamic UDP port number ", id),
                      " and IP address 127.0.0.1.");

    h_expectf(p,
              "Phase 3: The cost estimation request from Patient %u with insurance plan %s has "
              "been sent to the doctor with port number %u and IP address 127.0.0.1.",
              id, patients[id].plan, w->docport[d]);
    return port;
}

/* All of phase 3 with the price doctor d gives for the patient's plan; returns its UDP port. */
static unsigned
expect_phase3(struct world *w, struct hproc *p, unsigned id, int d)
{
    unsigned port = expect_phase3_sent(w, p, id, d);

    h_expectf(p,
              "Phase 3: Patient %u receives %u$ estimation cost from doctor with port number %u "
              "and name %s.",
              id, price(d, patients[id].plan), w->docport[d], doctor_names[d]);
    h_expectf(p, "Phase 3: End of Phase 3 for Patient %u.", id);
    return port;
}

/* The process printed nothing more, exited with status, and wrote nothing on stderr. */
static void
expect_end(struct hproc *p, int status)
{
    h_expect_eof(p);
    h_expect_exit(p, status);
    if (h_stderr(p)[0] != '\0')
        h_fail("%s: unexpected output on stderr", p->name);
}

/* The center's two lines for a login. */
static void
expect_center_auth(struct world *w, const char *user, int ok)
{
    h_expectf(w->f->hcs,
              "Phase 1: The Health Center Server has received request from a patient with "
              "username %s and password ********.",
              user);
    h_expectf(w->f->hcs,
              "Phase 1: The Health Center Server sends the response %s to patient with "
              "username %s.",
              ok ? "success" : "failure", user);
}

/* The center's two lines for "available". */
static void
expect_center_list(struct world *w, unsigned port, const char *user)
{
    h_expectf(w->f->hcs,
              "Phase 2: The Health Center Server, receives a request for available time slots "
              "from patients with port number %u and IP address 127.0.0.1.",
              port);
    h_expectf(w->f->hcs,
              "Phase 2: The Health Center Server sends available time slots to patient with "
              "username %s.",
              user);
}

/* The center's two lines for "selection": confirmed or rejected. */
static void
expect_center_select(struct world *w, unsigned index, unsigned port, const char *user, int ok)
{
    h_expectf(w->f->hcs,
              "Phase 2: The Health Center Server receives a request for appointment %u from "
              "patient with port number %u and username %s.",
              index, port, user);
    h_expectf(w->f->hcs,
              "Phase 2: The Health Center Server %s the following appointment %u to patient "
              "with username %s.",
              ok ? "confirms" : "rejects", index, user);
}

/* Doctor d's two lines for a request with a price. */
static void
expect_doctor(struct world *w, int d, unsigned port, const char *plan)
{
    h_expectf(w->doc[d],
              "Phase 3: Doctor %d receives the request from the patient with port number %u and "
              "the insurance plan %s.",
              d, port, plan);
    h_expectf(w->doc[d],
              "Phase 3: Doctor %d has sent estimated price %u$ to patient with port "
              "number %u.",
              d, price(d, plan), port);
}

/* A whole booking with --slot k by patient id, checked on the patient, the center and the
 * doctor; list holds the indices the patient must be shown, 0-terminated. */
static void
book_with_slot(struct world *w, unsigned id, unsigned k, const unsigned *list)
{
    const struct tslot *s = slot_of(k);
    struct hproc *p = patient_start(w, id, "--slot", h_str("%u", k), NULL);
    unsigned tcp, udp;
    size_t i;

    tcp = expect_phase1(p, id, 1);
    h_expectf(p, "Phase 2: The following appointments are available for Patient %u:", id);
    for (i = 0; list[i] != 0; i++)
        h_expectf(p, "%u %s %s", list[i], slot_of(list[i])->day, slot_of(list[i])->time);
    h_expectf(p, PROMPT "%u", k);
    expect_booked(w, p, id, s->doctor);
    udp = expect_phase3(w, p, id, s->doctor);
    expect_end(p, 0);
    expect_center_auth(w, patients[id].user, 1);
    expect_center_list(w, tcp, patients[id].user);
    expect_center_select(w, k, tcp, patients[id].user, 1);
    expect_doctor(w, s->doctor, udp, patients[id].plan);
}

/* The harness itself: lines, a prompt without a newline, stdin, exit status, ports. */
static void
test_harness(void **state)
{
    const char *env[] = {"HCS_TEST_WORD=two words", NULL};
    struct hproc *p;

    (void)state;
    p = h_start("cat", NULL, "/bin/cat", NULL);
    h_send(p, "first\nsecond");
    h_expect(p, "first");
    h_expect_text(p, "sec");
    h_send(p, "\n");
    h_expect(p, "ond");
    h_close_in(p);
    expect_end(p, 0);
    p = h_start("sh", env, "/bin/sh", "-c",
                "echo 'Phase 1: X has port number 34567 and IP address 127.0.0.1.'; "
                "printf 'Index: '; read x; echo \"got $x, $HCS_TEST_WORD\"; echo oops >&2; "
                "exit 3",
                NULL);
    assert_int_equal(h_port(h_line(p)), 34567);
    h_expect_text(p, "Index: ");
    h_send(p, "12\n");
    h_expect(p, "got 12, two words");
    h_expect_eof(p);
    h_expect_exit(p, 3);
    assert_string_equal(h_stderr(p), "oops\n");
    assert_int_equal(h_port("Phase 3: Doctor 2 has a static UDP port 41000 and IP address ::1."),
                     41000);
    assert_int_equal(h_port("port number 99999 and"), 0);
    assert_int_equal(h_port("no port here"), 0);
}

/* Two patients book, one with --slot, one typing into a pipe; every screen line checked. */
static void
test_full_run(void **state)
{
    static const unsigned all[] = {2, 3, 10, 11, 12, 0};
    const char *env[2];
    struct world w;
    struct hproc *p;
    unsigned tcp, udp;

    world_start(state, &w, 0);
    /* Patient 1 picks 11 (doctor 2) with --slot. */
    book_with_slot(&w, 1, 11, all);

    /* Patient 2 reads its config through $HCS_CONFIG_DIR and types 2 (doctor 1). */
    env[0] = h_str("HCS_CONFIG_DIR=%s", w.dir);
    env[1] = NULL;
    p = h_start("patient2", env, "patient", "--id", "2", NULL);
    tcp = expect_phase1(p, 2, 1);
    expect_list(p, 2, 2, 3, 10, 12, 0);
    h_expect_text(p, PROMPT);
    h_send(p, "2\n");
    h_expect(p, "2"); /* the index read from the pipe is echoed */
    expect_booked(&w, p, 2, 1);
    udp = expect_phase3(&w, p, 2, 1);
    h_close_in(p);
    expect_end(p, 0);
    expect_center_auth(&w, "bo_r", 1);
    expect_center_list(&w, tcp, "bo_r");
    expect_center_select(&w, 2, tcp, "bo_r", 1);
    expect_doctor(&w, 1, udp, "acme-gold");
    world_stop(&w);
}

/* A wrong password and an unknown user: "failure", exit status 2, nothing booked. */
static void
test_wrong_password(void **state)
{
    static const unsigned all[] = {2, 3, 10, 11, 12, 0};
    struct world w;
    struct hproc *p6, *p7;

    world_start(state, &w, 0);
    p6 = patient_start(&w, 6, "--slot", "10", NULL);
    expect_phase1(p6, 6, 0);
    expect_end(p6, 2);
    expect_center_auth(&w, "ana.k", 0);
    p7 = patient_start(&w, 7, NULL);
    expect_phase1(p7, 7, 0);
    expect_end(p7, 2);
    expect_center_auth(&w, "mallory", 0);
    /* No password ever reaches a screen. */
    assert_null(strstr(h_stdout(w.f->hcs), "Tr0ub4dor"));
    assert_null(strstr(h_stdout(w.f->hcs), "letmein"));
    assert_null(strstr(h_stdout(p6), "Tr0ub4dor"));
    assert_null(strstr(h_stderr(p6), "Tr0ub4dor"));
    assert_null(strstr(h_stderr(w.f->hcs), "Tr0ub4dor"));
    /* The right password still works, and the failed login booked nothing. */
    book_with_slot(&w, 1, 10, all);
    world_stop(&w);
}

/*
 * A TCP relay between one patient and the center (this program run with
 * --proxy PORT PREFIX): it forwards both ways, but holds the first line from
 * the patient that starts with PREFIX until "release" arrives on stdin. The
 * test uses it to let another patient book in between, deterministically.
 */
static int
proxy_main(unsigned upstream, const char *prefix)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    char cbuf[8192], in[64];
    size_t clen = 0, plen = strlen(prefix);
    int lfd, cfd, ufd, holding = 0, held_once = 0, cdone = 0, udone = 0;
    unsigned port;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(lfd, 1) == -1 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
        return 1;
    printf("proxy has port number %u.\n", ntohs(sin.sin_port));
    if ((cfd = accept(lfd, NULL, NULL)) == -1)
        return 1;
    sin.sin_port = htons((uint16_t)upstream);
    if ((ufd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
        connect(ufd, (struct sockaddr *)&sin, sizeof sin) == -1)
        return 1;
    len = sizeof sin;
    getsockname(ufd, (struct sockaddr *)&sin, &len);
    port = ntohs(sin.sin_port);
    printf("proxy connected upstream from port number %u.\n", port);
    while (!cdone || !udone) {
        struct pollfd pfd[3] = {
            {.fd = cdone || holding ? -1 : cfd, .events = POLLIN},
            {.fd = udone ? -1 : ufd, .events = POLLIN},
            {.fd = 0, .events = POLLIN},
        };
        char buf[8192];
        ssize_t n;
        char *nl;

        if (poll(pfd, 3, -1) == -1)
            return 1;
        if (pfd[2].revents != 0) {
            n = read(0, in, sizeof in - 1);
            if (n <= 0)
                return 1; /* the test went away */
            in[n] = '\0';
            if (strcmp(in, "release\n") == 0 && holding) {
                holding = 0;
                printf("proxy released.\n");
            }
        }
        if (pfd[1].revents != 0) {
            n = read(ufd, buf, sizeof buf);
            if (n <= 0) {
                udone = 1;
                shutdown(cfd, SHUT_WR);
            } else if (write(cfd, buf, (size_t)n) != n) {
                return 1;
            }
        }
        if (pfd[0].revents != 0) {
            n = read(cfd, cbuf + clen, sizeof cbuf - clen);
            if (n <= 0) {
                cdone = 1;
                shutdown(ufd, SHUT_WR);
            } else {
                clen += (size_t)n;
            }
        }
        /* Forward complete lines, stopping at the one to hold. */
        while (!holding && (nl = memchr(cbuf, '\n', clen)) != NULL) {
            size_t k = (size_t)(nl - cbuf) + 1;

            if (!held_once && k > plen && memcmp(cbuf, prefix, plen) == 0) {
                held_once = holding = 1;
                printf("proxy holding %.*s.\n", (int)(k - 1), cbuf);
                break;
            }
            if (write(ufd, cbuf, k) != (ssize_t)k)
                return 1;
            memmove(cbuf, cbuf + k, clen - k);
            clen -= k;
        }
    }
    printf("proxy closed.\n");
    close(cfd);
    close(ufd);
    close(lfd);
    return 0;
}

/*
 * A second patient chooses the slot the first just took: with the list already
 * current it is refused on the spot; in a true race the center answers
 * notavailable and the patient prints the spec's line and exits 3.
 */
static void
test_slot_taken(void **state)
{
    static const unsigned all[] = {2, 3, 10, 11, 12, 0};
    struct world w;
    struct hproc *px, *p2, *p4;
    unsigned pport, up, tcp;

    world_start(state, &w, 0);
    /* Patient 2 reaches the center through the relay, which holds its selection. */
    px = h_start("proxy", NULL, "/proc/self/exe", "--proxy", h_str("%u", w.f->port), "selection ",
                 NULL);
    pport = h_expect_port(px, "proxy has port number ", ".");
    write_patient(&w, 2, pport, NULL);
    p2 = patient_start(&w, 2, "--slot", "11", NULL);
    up = h_expect_port(px, "proxy connected upstream from port number ", ".");
    expect_phase1(p2, 2, 1);
    expect_list(p2, 2, 2, 3, 10, 11, 12, 0);
    h_expect(p2, PROMPT "11");
    h_expect(px, "proxy holding selection 11.");
    expect_center_auth(&w, "bo_r", 1);
    expect_center_list(&w, up, "bo_r");
    /* Meanwhile patient 1 books 11. */
    book_with_slot(&w, 1, 11, all);
    /* Now patient 2's selection reaches the center. */
    h_send(px, "release\n");
    h_expect(px, "proxy released.");
    h_expect(p2, "Phase 2: The requested appointment from Patient 2 is not available. Exiting...");
    expect_end(p2, 3);
    expect_center_select(&w, 11, up, "bo_r", 0);
    h_expect(px, "proxy closed.");
    expect_end(px, 0);
    /* Patient 4 asks for 11 after it is gone: refused without asking the center. */
    p4 = patient_start(&w, 4, "--slot", "11", NULL);
    tcp = expect_phase1(p4, 4, 1);
    expect_list(p4, 4, 2, 3, 10, 12, 0);
    h_expect(p4, PROMPT "11");
    h_expect(p4, "Phase 2: Appointment 11 is not in the list of available appointments for "
                 "Patient 4. Exiting...");
    expect_end(p4, 3);
    expect_center_auth(&w, "dee", 1);
    expect_center_list(&w, tcp, "dee");
    world_stop(&w);
}

/* Indices that are not in the list are refused locally and asked again; then a booking. */
static void
test_invalid_index(void **state)
{
    struct world w;
    struct hproc *p;
    unsigned tcp, udp;

    world_start(state, &w, 0);
    p = patient_start(&w, 1, NULL);
    /* Typed ahead into the pipe, as `printf '99\n\n1\n 11 \n' | patient` does. */
    h_send(p, "99\n\n1\n 11 \n");
    h_close_in(p);
    tcp = expect_phase1(p, 1, 1);
    expect_list(p, 1, 2, 3, 10, 11, 12, 0);
    h_expect(p, PROMPT "99");
    h_expect(p, "Phase 2: 99 is not one of the available appointment indices.");
    h_expect(p, PROMPT);
    expect_list(p, 1, 2, 3, 10, 11, 12, 0); /* an empty answer shows the list again */
    h_expect(p, PROMPT "1");
    h_expect(p, "Phase 2: 1 is not one of the available appointment indices.");
    h_expect(p, PROMPT " 11 "); /* blanks around the index are fine */
    expect_booked(&w, p, 1, 2);
    udp = expect_phase3(&w, p, 1, 2);
    expect_end(p, 0);
    /* The center saw one selection only. */
    expect_center_auth(&w, "ana.k", 1);
    expect_center_list(&w, tcp, "ana.k");
    expect_center_select(&w, 11, tcp, "ana.k", 1);
    expect_doctor(&w, 2, udp, "blueshield");
    world_stop(&w);
}

/* An insurance plan the doctor does not know: exit 4; the doctor keeps serving. */
static void
test_unknown_insurance(void **state)
{
    static const unsigned after[] = {2, 3, 10, 11, 0};
    struct world w;
    struct hproc *p;
    unsigned tcp, udp;

    world_start(state, &w, 0);
    p = patient_start(&w, 3, "--slot", "12", NULL);
    tcp = expect_phase1(p, 3, 1);
    expect_list(p, 3, 2, 3, 10, 11, 12, 0);
    h_expect(p, PROMPT "12");
    expect_booked(&w, p, 3, 1);
    udp = expect_phase3_sent(&w, p, 3, 1);
    h_expect(p, "Phase 3: Doctor house does not know insurance plan nosuchplan; no "
                "estimate for Patient 3. Exiting...");
    expect_kept(p, 3, 12);
    expect_end(p, 4);
    expect_center_auth(&w, "cyd", 1);
    expect_center_list(&w, tcp, "cyd");
    expect_center_select(&w, 12, tcp, "cyd", 1);
    h_expectf(w.doc[1],
              "Phase 3: Doctor 1 receives the request from the patient with port number %u and "
              "the insurance plan nosuchplan.",
              udp);
    h_expectf(w.doc[1],
              "Phase 3: Doctor 1 has sent error unknown-insurance to patient with port number %u.",
              udp);
    /* The same doctor prices the next patient. */
    book_with_slot(&w, 4, 10, after);
    world_stop(&w);
}

/*
 * A doctor that is not running: its host refuses the request (ICMP port
 * unreachable), and the patient says so at once instead of waiting through
 * its retries; the booking stands; exit 4.
 */
static void
test_doctor_down(void **state)
{
    struct world w;
    struct hproc *p;
    unsigned tcp;
    long long t0;

    world_start(state, &w, 0);
    assert_int_equal(h_stop(w.doc[2]), 0);
    h_expect_eof(w.doc[2]);
    w.doc[2] = NULL;
    write_patient(&w, 5, w.f->port, "timeout_ms = 3000\nudp_retries = 2\n");
    p = patient_start(&w, 5, "--slot", "3", NULL);
    tcp = expect_phase1(p, 5, 1);
    expect_list(p, 5, 2, 3, 10, 11, 12, 0);
    h_expect(p, PROMPT "3");
    expect_booked(&w, p, 5, 2);
    expect_phase3_sent(&w, p, 5, 2);
    t0 = h_now_ms();
    h_expectf(p,
              "Phase 3: The doctor at port %u refused the request of Patient 5: no doctor is "
              "running there. Exiting...",
              w.docport[2]);
    expect_kept(p, 5, 3);
    expect_end(p, 4);
    if (h_now_ms() - t0 > 1500)
        h_fail("patient5: told of the refusal after %lld ms, not at once (timeout_ms = 3000)",
               h_now_ms() - t0);
    expect_center_auth(&w, "eve", 1);
    expect_center_list(&w, tcp, "eve");
    expect_center_select(&w, 3, tcp, "eve", 1);
    world_stop(&w);
}

/* A doctor whose port is open but never answers: the request is sent 1 + udp_retries times. */
static void
test_doctor_silent(void **state)
{
    struct world w;
    struct hproc *p;
    char buf[128];
    unsigned sport, tcp, udp;
    int fd, n = 0;
    ssize_t r;

    fd = silent_socket(&sport);
    world_start(state, &w, sport);
    write_patient(&w, 5, w.f->port, "timeout_ms = 200\nudp_retries = 2\n");
    p = patient_start(&w, 5, "--slot", "11", NULL);
    tcp = expect_phase1(p, 5, 1);
    expect_list(p, 5, 2, 3, 10, 11, 12, 0);
    h_expect(p, PROMPT "11");
    expect_booked(&w, p, 5, 2);
    udp = expect_phase3_sent(&w, p, 5, 2);
    h_expectf(p,
              "Phase 3: The doctor at port %u did not answer Patient 5 after 3 tries. Exiting...",
              sport);
    expect_kept(p, 5, 11);
    expect_end(p, 4);
    expect_center_auth(&w, "eve", 1);
    expect_center_list(&w, tcp, "eve");
    expect_center_select(&w, 11, tcp, "eve", 1);
    /* Three identical requests from the port the patient printed, each of 24 bytes. */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;

        r = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
        if (r < 0)
            break;
        buf[r] = '\0';
        if (r > 0 && buf[r - 1] == '\n')
            buf[r - 1] = '\0';
        /* The plan padded with spaces to PROTO_PRICE_PAD bytes. */
        assert_string_equal(buf, "acme-gold               ");
        assert_int_equal(ntohs(from.sin_port), udp);
        n++;
    }
    close(fd);
    assert_int_equal(n, 3);
    world_stop(&w);
}

/*
 * Patient A waits at the prompt; patient B books slot 2. Before A types
 * anything, its screen says so and shows the list without 2; A's choice of 2
 * is then refused locally, and A books 10.
 */
static void
test_live_taken(void **state)
{
    static const unsigned all[] = {2, 3, 10, 11, 12, 0};
    struct world w;
    struct hproc *a;
    unsigned tcp, udp;

    world_start(state, &w, 0);
    a = patient_start(&w, 1, NULL);
    tcp = expect_phase1(a, 1, 1);
    expect_list(a, 1, 2, 3, 10, 11, 12, 0);
    h_expect_text(a, PROMPT);
    expect_center_auth(&w, "ana.k", 1);
    expect_center_list(&w, tcp, "ana.k");
    book_with_slot(&w, 2, 2, all);
    /* The prompt's line is ended, then the news and the list again. */
    h_expect(a, "");
    h_expect(a, "Phase 2: Appointment 2 was just taken by another patient.");
    expect_list(a, 1, 3, 10, 11, 12, 0);
    h_expect_text(a, PROMPT);
    h_send(a, "2\n");
    h_expect(a, "2");
    h_expect(a, "Phase 2: Appointment 2 was just taken by another patient.");
    h_expect_text(a, PROMPT);
    h_send(a, "10\n");
    h_expect(a, "10");
    expect_booked(&w, a, 1, 1);
    udp = expect_phase3(&w, a, 1, 1);
    h_close_in(a);
    expect_end(a, 0);
    expect_center_select(&w, 10, tcp, "ana.k", 1);
    expect_doctor(&w, 1, udp, "blueshield");
    world_stop(&w);
}

/*
 * Book slot index as user over a plain socket of the test (no patient
 * program): authenticate and selection in one write; check both answers and
 * the center's four lines, then close.
 */
static void
raw_book(struct world *w, const char *user, const char *password, unsigned index)
{
    const struct tslot *s = slot_of(index);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    struct timeval tv = {h_timeout_ms / 1000, (h_timeout_ms % 1000) * 1000};
    char buf[256], want[128];
    size_t got = 0;
    int fd, lines = 0;
    ssize_t n;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)w->f->port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd != -1);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    n = snprintf(buf, sizeof buf, "authenticate %s %s\nselection %u\n", user, password, index);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    /* Two answer lines; a read that times out fails the test. */
    while (lines < 2 && got < sizeof buf - 1) {
        n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) {
            close(fd);
            h_fail("%s: the center's answers ended after \"%.*s\"", user, (int)got, buf);
        }
        for (; n > 0; n--)
            lines += buf[got++] == '\n';
    }
    close(fd);
    buf[got] = '\0';
    snprintf(want, sizeof want, "success\n%s %u\n", doctor_names[s->doctor], w->docport[s->doctor]);
    assert_string_equal(buf, want);
    expect_center_auth(w, user, 1);
    expect_center_select(w, index, ntohs(sin.sin_port), user, 1);
}

/*
 * The last free slot is taken while a patient waits at the prompt: it says so
 * and that none is left, and exits 3; a later patient is told at once.
 */
static void
test_none_left(void **state)
{
    struct world w;
    struct hproc *a, *d;
    unsigned tcp;

    world_start(state, &w, 0);
    raw_book(&w, "bo_r", "correct-horse-77", 2);
    raw_book(&w, "cyd", "pw.cyd.9", 3);
    raw_book(&w, "dee", "pw-dee-10", 10);
    raw_book(&w, "eve", "Eve!2024", 11);
    a = patient_start(&w, 1, NULL);
    tcp = expect_phase1(a, 1, 1);
    expect_list(a, 1, 12, 0);
    h_expect_text(a, PROMPT);
    expect_center_auth(&w, "ana.k", 1);
    expect_center_list(&w, tcp, "ana.k");
    raw_book(&w, "fay", "pw-fay-6", 12);
    h_expect(a, "");
    h_expect(a, "Phase 2: Appointment 12 was just taken by another patient.");
    h_expect(a, "Phase 2: No appointments are available for Patient 1. Exiting...");
    expect_end(a, 3);
    d = patient_start(&w, 1, "--slot", "12", NULL);
    tcp = expect_phase1(d, 1, 1);
    h_expect(d, "Phase 2: No appointments are available for Patient 1. Exiting...");
    expect_end(d, 3);
    expect_center_auth(&w, "ana.k", 1);
    expect_center_list(&w, tcp, "ana.k");
    /* One who holds a booking is told so, and sees no list. */
    d = patient_start(&w, 4, "--slot", "12", NULL);
    expect_phase1(d, 4, 1);
    expect_held(&w, d, 4, 10, 1);
    expect_end(d, 3);
    expect_center_auth(&w, "dee", 1);
    world_stop(&w);
}

/* --show, a second booking refused, --cancel, the freed slot pushed to a waiting patient. */
static void
test_show_cancel(void **state)
{
    static const unsigned all[] = {2, 3, 10, 11, 12, 0};
    struct world w;
    struct hproc *p, *b;
    unsigned tcpb, udp;

    world_start(state, &w, 0);
    book_with_slot(&w, 1, 3, all);

    p = patient_start(&w, 1, "--show", NULL);
    expect_phase1(p, 1, 1);
    h_expectf(p, "Patient 1 has appointment 3 Tue 11am with grey (port %u).", w.docport[2]);
    expect_end(p, 0);
    expect_center_auth(&w, "ana.k", 1);

    /* The same user on another connection cannot book a second slot: told before the list. */
    p = patient_start(&w, 1, "--slot", "10", NULL);
    expect_phase1(p, 1, 1);
    expect_held(&w, p, 1, 3, 2);
    expect_end(p, 3);
    expect_center_auth(&w, "ana.k", 1);
    p = patient_start(&w, 1, NULL); /* asking at the prompt: the same */
    expect_phase1(p, 1, 1);
    expect_held(&w, p, 1, 3, 2);
    expect_end(p, 3);
    expect_center_auth(&w, "ana.k", 1);

    /* Patient 2 waits at the prompt while patient 1 cancels. */
    b = patient_start(&w, 2, NULL);
    tcpb = expect_phase1(b, 2, 1);
    expect_list(b, 2, 2, 10, 11, 12, 0);
    h_expect_text(b, PROMPT);
    expect_center_auth(&w, "bo_r", 1);
    expect_center_list(&w, tcpb, "bo_r");
    p = patient_start(&w, 1, "--cancel", NULL);
    expect_phase1(p, 1, 1);
    h_expect(p, "Patient 1 cancelled appointment 3.");
    expect_end(p, 0);
    expect_center_auth(&w, "ana.k", 1);
    h_expect(w.f->hcs, "Phase 2: The Health Center Server cancels appointment 3 of patient with "
                       "username ana.k.");
    h_expect(b, "");
    h_expect(b, "Phase 2: Appointment 3 Tue 11am has just become available.");
    expect_list(b, 2, 2, 3, 10, 11, 12, 0);
    h_expect_text(b, PROMPT);
    h_send(b, "3\n");
    h_expect(b, "3");
    expect_booked(&w, b, 2, 2);
    udp = expect_phase3(&w, b, 2, 2);
    h_close_in(b);
    expect_end(b, 0);
    expect_center_select(&w, 3, tcpb, "bo_r", 1);
    expect_doctor(&w, 2, udp, "acme-gold");

    /* Patient 1 now holds nothing, and has nothing to cancel. */
    p = patient_start(&w, 1, "--show", NULL);
    expect_phase1(p, 1, 1);
    h_expect(p, "Patient 1 has no appointment.");
    expect_end(p, 0);
    expect_center_auth(&w, "ana.k", 1);
    p = patient_start(&w, 1, "--cancel", NULL);
    expect_phase1(p, 1, 1);
    h_expect(p, "Patient 1 has no appointment to cancel.");
    expect_end(p, 3);
    expect_center_auth(&w, "ana.k", 1);
    world_stop(&w);
}

/* A usage error of the patient is the reason and one line pointing at --help, not the help. */
static void
test_patient_usage(void **state)
{
    struct hproc *p;

    (void)state;
    fixture_expect_usage(
        "patient", (const char *const[]){"--nope", NULL},
        h_str("%s/patient: unrecognized option '--nope'\nTry 'patient --help'.\n", HCS_BIN_DIR));
    fixture_expect_usage("patient", (const char *const[]){"--id", "1", "extra", NULL},
                         "patient: unexpected argument 'extra'\nTry 'patient --help'.\n");
    fixture_expect_usage("patient", (const char *const[]){"--id", "1", "--show", "--cancel", NULL},
                         "patient: --show, --cancel and --slot exclude each other\n"
                         "Try 'patient --help'.\n");
    fixture_expect_usage("patient", (const char *const[]){"--id", "1", "--slot", "0", NULL},
                         "patient: --slot must be a whole number from 1 to 4294967295\n"
                         "Try 'patient --help'.\n");
    fixture_expect_usage("patient", (const char *const[]){"-v", NULL},
                         "patient: give exactly one of --id N or --config FILE\n"
                         "Try 'patient --help'.\n");
    p = h_start("patient --help", NULL, "patient", "--help", NULL);
    h_close_in(p);
    assert_int_equal(h_wait(p), 0);
    assert_string_equal(h_stderr(p), "");
    assert_memory_equal(h_stdout(p), "usage: patient ", 15);
    assert_non_null(strstr(h_stdout(p), "at most 10 slots"));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_harness, fixture_teardown),
        cmocka_unit_test_teardown(test_full_run, fixture_teardown),
        cmocka_unit_test_teardown(test_wrong_password, fixture_teardown),
        cmocka_unit_test_teardown(test_slot_taken, fixture_teardown),
        cmocka_unit_test_teardown(test_invalid_index, fixture_teardown),
        cmocka_unit_test_teardown(test_unknown_insurance, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_down, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_silent, fixture_teardown),
        cmocka_unit_test_teardown(test_live_taken, fixture_teardown),
        cmocka_unit_test_teardown(test_show_cancel, fixture_teardown),
        cmocka_unit_test_teardown(test_none_left, fixture_teardown),
        cmocka_unit_test_teardown(test_patient_usage, fixture_teardown),
    };

    if (argc == 4 && strcmp(argv[1], "--proxy") == 0)
        return proxy_main((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
