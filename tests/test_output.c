/* test_output.c: screen and log output never stalls the loop: hcs and the doctor with their
 * stdout and stderr on pipes nobody reads keep serving, then say how many lines they dropped. */
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
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define JUNK_LOGINS 4000    /* wrong-password logins: each about 400 bytes of screen and log */
#define JUNK_INFLIGHT 64    /* of them open at once */
#define JUNK_STALL_MS 5000  /* no login answered for this long: the center is stuck */
#define JUNK_TOTAL_MS 60000 /* the whole burst, at most */
#define HONEST_MS 2000      /* an honest patient logs in and books within this */
#define PRICE_QUERIES 6000  /* price queries to the doctor: about 200 bytes of screen each */
#define PRICE_WINDOW 16     /* of them in flight at once */
#define DROPPED "of output dropped: the reader did not keep up"

/* A 120-byte user name for junk login k: long names make long screen and log lines. */
static void
junk_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "junk%05d-%0110d", k, 0);
}

/* One junk login in flight: its socket and how far it got. */
struct junk {
    int fd; /* -1: free */
    int k;  /* which login */
    int sent;
};

/* Open junk login k from its own loopback address (127.1.x.y), so no per-address limit
 * applies; returns the socket, or -1 if none can be made. */
static int
junk_open(unsigned port, int k)
{
    struct sockaddr_in src, dst;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((k / 250) << 8) | (uint32_t)(k % 250 + 1));
    /* Without that address (an unusual loopback), the login comes from 127.0.0.1. */
    (void)bind(fd, (struct sockaddr *)&src, sizeof src);
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == -1 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * n wrong-password logins, JUNK_INFLIGHT at a time, each read until the
 * center answers or closes. Stops early when no login is answered for
 * JUNK_STALL_MS (a stuck center). Returns how many were answered.
 */
static int
junk_logins(unsigned port, int n)
{
    struct junk j[JUNK_INFLIGHT];
    struct pollfd pfd[JUNK_INFLIGHT];
    long long start = h_now_ms(), last = start;
    int next = 0, done = 0, i;

    for (i = 0; i < JUNK_INFLIGHT; i++)
        j[i].fd = -1;
    while (done < n && h_now_ms() - last < JUNK_STALL_MS && h_now_ms() - start < JUNK_TOTAL_MS) {
        for (i = 0; i < JUNK_INFLIGHT && next < n; i++)
            if (j[i].fd == -1) {
                if ((j[i].fd = junk_open(port, next)) == -1)
                    h_fail("junk login %d: cannot connect: %s", next, strerror(errno));
                j[i].k = next++;
                j[i].sent = 0;
            }
        for (i = 0; i < JUNK_INFLIGHT; i++) {
            pfd[i].fd = j[i].fd;
            pfd[i].events = j[i].fd == -1 ? 0 : j[i].sent ? POLLIN : POLLOUT;
            pfd[i].revents = 0;
        }
        /* The harness's processes are not pumped here: hcs's output stays unread. */
        if (poll(pfd, JUNK_INFLIGHT, 100) <= 0)
            continue;
        for (i = 0; i < JUNK_INFLIGHT; i++) {
            char buf[512], name[160];
            ssize_t r;

            if (j[i].fd == -1 || pfd[i].revents == 0)
                continue;
            if (!j[i].sent) {
                junk_name(name, sizeof name, j[i].k);
                snprintf(buf, sizeof buf, "authenticate %s wrong-password\n", name);
                if (send(j[i].fd, buf, strlen(buf), MSG_NOSIGNAL) >= 0) {
                    j[i].sent = 1;
                    continue;
                }
            } else if ((r = recv(j[i].fd, buf, sizeof buf, 0)) > 0 ||
                       (r == -1 && errno == EAGAIN)) {
                /* "failure" came: the center closes after it; wait for that. */
                continue;
            }
            close(j[i].fd);
            j[i].fd = -1;
            done++;
            last = h_now_ms();
        }
    }
    for (i = 0; i < JUNK_INFLIGHT; i++)
        if (j[i].fd != -1)
            close(j[i].fd);
    return done;
}

/* The next line on c within the time left before deadline, or a failure naming what. */
static const char *
honest_line(struct tconn *c, long long deadline, const char *what)
{
    long long left = deadline - h_now_ms();
    const char *line = left > 0 ? tc_line(c, (int)left) : NULL;

    if (line == NULL)
        h_fail("honest patient: no answer to %s within %d ms while the output is stalled", what,
               HONEST_MS);
    return line;
}

/* The count in a "N lines of output dropped" line at the start of text's line. */
static unsigned long long
dropped_count(const char *line)
{
    const char *s = strchr(line, ' ');

    return s != NULL ? strtoull(s + 1, NULL, 10) : 0;
}

/* Read p's stdout again and wait for the drop notice there; return its count. */
static unsigned long long
expect_stdout_notice(struct hproc *p, const char *prog)
{
    const char *line;

    h_hold(p, 0);
    for (;;) {
        line = h_line(p);
        if (strstr(line, DROPPED) != NULL)
            break;
    }
    if (strncmp(line, prog, strlen(prog)) != 0 || dropped_count(line) == 0)
        h_fail("%s: unexpected drop notice \"%s\"", p->name, line);
    return dropped_count(line);
}

/* Wait (bounded) for the drop notice on p's stderr; return its count. */
static unsigned long long
expect_stderr_notice(struct hproc *p)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    const char *at;

    while ((at = strstr(h_stderr(p), DROPPED)) == NULL) {
        if (h_now_ms() >= deadline)
            h_fail("%s: no drop notice on stderr within %d ms", p->name, h_timeout_ms);
        h_pump(50);
    }
    while (at > h_stderr(p) && at[-1] != '\n')
        at--;
    return dropped_count(at);
}

/* 1. hcs with stdout and stderr unread: a burst of failed logins, an honest booking in 2 s. */
static void
test_center_stalled_output(void **state)
{
    static const struct fixture_user users[] = {{"alice", "Secret-11"}, {"bob", "Secret-22"}};
    static const struct fixture_slot slots[] = {{1, "Mon", "10am", "house", 41000},
                                                {2, "Tue", "11am", "house", 41000}};
    struct fixture_opts o = {.users = users, .nusers = 2, .slots = slots, .nslots = 2};
    struct fixture *f = fixture_setup(state, &o);
    unsigned long long out_drops, err_drops;
    long long deadline;
    struct tconn *c;
    int answered;

    /* From here nobody reads hcs's pipes: 64 KiB each, and the burst writes megabytes. */
    h_hold(f->hcs, 1);
    answered = junk_logins(f->port, JUNK_LOGINS);
    print_message("%d of %d junk logins answered with the output stalled\n", answered, JUNK_LOGINS);

    deadline = h_now_ms() + HONEST_MS;
    c = tc_connect(f->port);
    tc_sendf(c, "authenticate alice Secret-11\n");
    assert_string_equal(honest_line(c, deadline, "authenticate"), "success");
    tc_sendf(c, "available\n");
    assert_string_equal(honest_line(c, deadline, "available"), "slots 2");
    assert_string_equal(honest_line(c, deadline, "available"), "1 Mon 10am");
    assert_string_equal(honest_line(c, deadline, "available"), "2 Tue 11am");
    tc_sendf(c, "selection 2\n");
    assert_string_equal(honest_line(c, deadline, "selection"), "house 41000");
    assert_int_equal(answered, JUNK_LOGINS);

    /* The reader is back: each stream says once how many lines it lost. */
    out_drops = expect_stdout_notice(f->hcs, "hcs: ");
    err_drops = expect_stderr_notice(f->hcs);
    print_message("dropped: %llu stdout lines, %llu stderr lines\n", out_drops, err_drops);
    assert_true(out_drops > 0 && err_drops > 0);
    /* And the screen flows again, line by line. */
    fixture_login(f, "bob", "Secret-22");
    h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has received request from a "
                          "patient with username bob and password ********.");
    fixture_stop(f);
    if (strstr(h_stdout(f->hcs) + f->hcs->pos, DROPPED) != NULL)
        h_fail("hcs: a second drop notice on stdout with the reader reading");
}

/* 2. The doctor with stdout and stderr unread keeps answering every price query. */
static void
test_doctor_stalled_output(void **state)
{
    const char *dir = h_tmpdir();
    const char *const args[] = {"--config", h_path(dir, "doctor1.conf"), NULL};
    unsigned long long drops;
    struct hproc *d;
    unsigned port;
    int fd, k, i;

    (void)state;
    d = fixture_doctor(dir, 1, "house", "acme-gold 135\nblueshield 80\n", NULL, args, &port);
    fd = tc_udp(port);
    h_hold(d, 1);
    for (k = 0; k < PRICE_QUERIES; k += PRICE_WINDOW) {
        long long deadline = h_now_ms() + HONEST_MS;

        for (i = 0; i < PRICE_WINDOW; i++)
            tc_udp_send(fd, "acme-gold", 9);
        for (i = 0; i < PRICE_WINDOW; i++) {
            char buf[64];
            long long left = deadline - h_now_ms();

            if (left <= 0 || tc_udp_recv(fd, buf, sizeof buf, (int)left) < 0)
                h_fail("doctor: query %d not answered within %d ms while its output is stalled",
                       k + i, HONEST_MS);
            assert_string_equal(buf, "135");
        }
    }
    drops = expect_stdout_notice(d, "doctor: ");
    print_message("doctor dropped %llu stdout lines\n", drops);
    assert_string_equal(tc_udp_ask(fd, "blueshield", 10), "80");
    h_wait_prefix(d, "Phase 3: Doctor 1 has sent estimated price 80$ to patient with port number");
    assert_int_equal(h_stop(d), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_center_stalled_output, fixture_teardown),
        cmocka_unit_test_teardown(test_doctor_stalled_output, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
