/* test_race.c: hundreds of patients booking at the same moment against the real hcs:
 * one slot is never given twice and one user never holds two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"

#define RACE_CONNS 500 /* connections racing at once */
#define RACE_USERS 600 /* users in users.txt */
#define RACE_SLOTS 50  /* slots in the schedule of the second case */
#define RACE_PAIRS 200 /* users with two connections each in the third case */
#define RACE_BUFSIZE 4096

/* One patient connection of the test's own client. */
struct rconn {
    int fd;
    char buf[RACE_BUFSIZE]; /* bytes received and not yet taken */
    size_t len;
    int eof;
    char line[RACE_BUFSIZE]; /* the line race_take returned last */
};

/* Tear down after every case, failed or not: processes, folders, sockets. */
static struct rconn *race_conns;
static int race_nconns;

/* Close the test's connections. */
static void
race_close_all(void)
{
    int i;

    for (i = 0; i < race_nconns; i++)
        if (race_conns[i].fd != -1)
            close(race_conns[i].fd);
    free(race_conns);
    race_conns = NULL;
    race_nconns = 0;
}

/* cmocka teardown: close the test's own connections, then the fixture's teardown. */
static int
race_teardown(void **state)
{
    race_close_all();
    return fixture_teardown(state);
}

/* The day of slot i (a fixed pattern). */
static const char *
race_day(int i)
{
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

    return days[i % 7];
}

/* The time of slot i. */
static const char *
race_time(int i)
{
    static const char *const times[] = {"08am", "09am", "10am", "11am", "01pm", "02pm", "03pm"};

    return times[(i / 7) % 7];
}

/* The index of slot i: gaps, and one to four digits. */
static unsigned
race_index(int i)
{
    return 3 + 7 * (unsigned)i;
}

/* The doctor of slot i. */
static const char *
race_doctor(int i)
{
    return i % 2 ? "drB" : "drA";
}

/* The port of slot i's doctor (nobody listens there: these tests stop at phase 2). */
static unsigned
race_doctor_port(int i)
{
    return i % 2 ? 40002 : 40001;
}

/* Start hcs -q on RACE_USERS users and nslots slots, with room for every connection. */
static struct fixture *
race_start(void **state, int nslots)
{
    static struct fixture_user users[RACE_USERS];
    static struct fixture_slot slots[2 * RACE_PAIRS > RACE_SLOTS ? 2 * RACE_PAIRS : RACE_SLOTS];
    const struct fixture_opts o = {
        .users = users,
        .nusers = RACE_USERS,
        .slots = slots,
        .nslots = (size_t)nslots,
        .config = "max_clients = 2000\n",
        .flag = "-q",
    };
    struct rlimit rl;
    int i;

    assert_true((size_t)nslots <= sizeof slots / sizeof slots[0]);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < RACE_USERS; i++)
        users[i] = (struct fixture_user){h_str("user%03d", i), h_str("pw-%03d.%d", i, i * 7)};
    for (i = 0; i < nslots; i++)
        slots[i] = (struct fixture_slot){race_index(i), race_day(i), race_time(i), race_doctor(i),
                                         race_doctor_port(i)};
    return fixture_setup(state, &o);
}

/* Open n connections to the center at once (non-blocking) and wait until all are up. */
static struct rconn *
race_connect_all(unsigned port, int n)
{
    struct sockaddr_in sin;
    struct pollfd *pfd;
    long long deadline = h_now_ms() + 2 * h_timeout_ms;
    int i, pending = 0;

    race_close_all();
    race_conns = calloc((size_t)n, sizeof *race_conns);
    pfd = calloc((size_t)n, sizeof *pfd);
    assert_non_null(race_conns);
    assert_non_null(pfd);
    race_nconns = n;
    for (i = 0; i < n; i++)
        race_conns[i].fd = -1;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd == -1)
            h_fail("socket %d: %s", i, strerror(errno));
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        race_conns[i].fd = fd;
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 && errno != EINPROGRESS)
            h_fail("connect %d: %s", i, strerror(errno));
        pfd[i] = (struct pollfd){.fd = fd, .events = POLLOUT};
        pending++;
    }
    while (pending > 0) {
        int left = (int)(deadline - h_now_ms());

        if (left <= 0)
            h_fail("%d of %d connections not up in time", pending, n);
        h_pump(0);
        if (poll(pfd, (nfds_t)n, left < 100 ? left : 100) <= 0)
            continue;
        for (i = 0; i < n; i++) {
            int err = 0;
            socklen_t len = sizeof err;

            if (pfd[i].fd == -1 || pfd[i].revents == 0)
                continue;
            if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
                h_fail("connection %d failed: %s", i, strerror(err ? err : errno));
            pfd[i].fd = -1;
            pending--;
        }
    }
    free(pfd);
    return race_conns;
}

/* Send text on connection c; the socket's buffer is empty enough for a short request. */
static void
race_send(struct rconn *c, const char *text)
{
    size_t n = strlen(text), off = 0;

    while (off < n) {
        ssize_t w = write(c->fd, text + off, n - off);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            h_fail("send on fd %d: %s", c->fd, strerror(errno));
        off += (size_t)w;
    }
}

/* The number of complete lines waiting in c's buffer. */
static int
race_lines(const struct rconn *c)
{
    int k = 0;
    size_t i;

    for (i = 0; i < c->len; i++)
        if (c->buf[i] == '\n')
            k++;
    return k;
}

/* Read on all connections until each has at least want complete lines. */
static void
race_collect(struct rconn *c, int n, int want)
{
    struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
    long long deadline = h_now_ms() + 2 * h_timeout_ms;
    int i, waiting;

    assert_non_null(pfd);
    for (;;) {
        int left;

        waiting = 0;
        for (i = 0; i < n; i++) {
            int done = race_lines(&c[i]) >= want;

            if (!done && c[i].eof) {
                free(pfd);
                h_fail("connection %d closed after %d of %d lines: \"%.*s\"", i, race_lines(&c[i]),
                       want, (int)c[i].len, c[i].buf);
            }
            pfd[i] = (struct pollfd){.fd = done ? -1 : c[i].fd, .events = POLLIN};
            waiting += !done;
        }
        if (waiting == 0)
            break;
        left = (int)(deadline - h_now_ms());
        if (left <= 0) {
            free(pfd);
            h_fail("%d of %d connections still waiting for %d lines", waiting, n, want);
        }
        h_pump(0);
        if (poll(pfd, (nfds_t)n, left < 100 ? left : 100) <= 0)
            continue;
        for (i = 0; i < n; i++) {
            ssize_t r;

            if (pfd[i].fd == -1 || pfd[i].revents == 0)
                continue;
            if (c[i].len == sizeof c[i].buf)
                h_fail("connection %d: more than %zu bytes unread", i, sizeof c[i].buf);
            r = read(c[i].fd, c[i].buf + c[i].len, sizeof c[i].buf - c[i].len);
            if (r > 0)
                c[i].len += (size_t)r;
            else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                c[i].eof = 1;
        }
    }
    free(pfd);
}

/* Take the first complete line of c (race_collect made sure there is one). */
static const char *
race_take(struct rconn *c)
{
    char *nl = memchr(c->buf, '\n', c->len);
    size_t n;

    assert_non_null(nl);
    n = (size_t)(nl - c->buf);
    memcpy(c->line, c->buf, n);
    c->line[n] = '\0';
    memmove(c->buf, nl + 1, c->len - n - 1);
    c->len -= n + 1;
    return c->line;
}

/* Authenticate connection i as user u and read "success" on all of them. */
static void
race_auth_all(struct rconn *c, int n, const int *user)
{
    char req[128];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(req, sizeof req, "authenticate user%03d pw-%03d.%d\n", user[i], user[i],
                 user[i] * 7);
        race_send(&c[i], req);
    }
    race_collect(c, n, 1);
    for (i = 0; i < n; i++) {
        const char *got = race_take(&c[i]);

        if (strcmp(got, "success") != 0)
            h_fail("connection %d (user%03d): \"%s\" instead of success", i, user[i], got);
    }
}

/* The reply "<doctor> <port>" of slot i. */
static const char *
race_booked(int i)
{
    static char buf[64];

    snprintf(buf, sizeof buf, "%s %u", race_doctor(i), race_doctor_port(i));
    return buf;
}

/* The reply to "appointment" of a user holding slot i. */
static const char *
race_appointment(int i)
{
    static char buf[128];

    snprintf(buf, sizeof buf, "appointment %u %s %s %s %u", race_index(i), race_day(i),
             race_time(i), race_doctor(i), race_doctor_port(i));
    return buf;
}

/* 500 patients send "selection" for the same free slot at once: one winner, 499 losers. */
static void
test_race_one_slot(void **state)
{
    const int target = 17; /* slot index race_index(17) = 122 */
    static int user[RACE_CONNS];
    struct fixture *f;
    struct rconn *c;
    char req[64];
    int i, winner = -1, losers = 0;

    f = race_start(state, RACE_SLOTS);
    c = race_connect_all(f->port, RACE_CONNS);
    for (i = 0; i < RACE_CONNS; i++)
        user[i] = i;
    race_auth_all(c, RACE_CONNS, user);
    snprintf(req, sizeof req, "selection %u\n", race_index(target));
    for (i = 0; i < RACE_CONNS; i++)
        race_send(&c[i], req);
    race_collect(c, RACE_CONNS, 1);
    for (i = 0; i < RACE_CONNS; i++) {
        const char *got = race_take(&c[i]);

        if (strcmp(got, race_booked(target)) == 0) {
            if (winner != -1)
                h_fail("slot %u given twice: to user%03d and user%03d", race_index(target), winner,
                       i);
            winner = i;
        } else if (strcmp(got, "notavailable") == 0) {
            losers++;
        } else {
            h_fail("user%03d: \"%s\" is neither \"%s\" nor notavailable", i, got,
                   race_booked(target));
        }
    }
    assert_int_not_equal(winner, -1);
    assert_int_equal(losers, RACE_CONNS - 1);
    /* Everybody asks what they hold: only the winner holds it. */
    for (i = 0; i < RACE_CONNS; i++)
        race_send(&c[i], "appointment\n");
    race_collect(c, RACE_CONNS, 1);
    for (i = 0; i < RACE_CONNS; i++) {
        const char *got = race_take(&c[i]);
        const char *want = i == winner ? race_appointment(target) : "appointment none";

        if (strcmp(got, want) != 0)
            h_fail("user%03d: appointment answered \"%s\", expected \"%s\"", i, got, want);
    }
    fixture_stop(f);
}

/* 500 patients race for 50 slots, each asking two slots in one burst:
 * exactly 50 bookings, no slot twice, nobody twice. */
static void
test_race_fifty_slots(void **state)
{
    static int user[RACE_CONNS], won[RACE_CONNS], owner[RACE_SLOTS];
    struct fixture *f;
    struct rconn *c;
    char req[96], extra[64];
    int i, s, wins = 0;

    f = race_start(state, RACE_SLOTS);
    c = race_connect_all(f->port, RACE_CONNS);
    for (i = 0; i < RACE_CONNS; i++) {
        user[i] = i;
        won[i] = -1;
    }
    for (s = 0; s < RACE_SLOTS; s++)
        owner[s] = -1;
    race_auth_all(c, RACE_CONNS, user);
    /* First choice i % 50 (every slot is someone's first choice), second (i + 17) % 50. */
    for (i = 0; i < RACE_CONNS; i++) {
        snprintf(req, sizeof req, "selection %u\nselection %u\n", race_index(i % RACE_SLOTS),
                 race_index((i + 17) % RACE_SLOTS));
        race_send(&c[i], req);
    }
    race_collect(c, RACE_CONNS, 2);
    for (i = 0; i < RACE_CONNS; i++) {
        int choice[2] = {i % RACE_SLOTS, (i + 17) % RACE_SLOTS}, k;

        for (k = 0; k < 2; k++) {
            const char *got = race_take(&c[i]);

            s = choice[k];
            if (strcmp(got, race_booked(s)) == 0) {
                if (won[i] != -1)
                    h_fail("user%03d booked two slots: %u and %u", i, race_index(won[i]),
                           race_index(s));
                if (owner[s] != -1)
                    h_fail("slot %u given twice: to user%03d and user%03d", race_index(s), owner[s],
                           i);
                won[i] = s;
                owner[s] = i;
                wins++;
                continue;
            }
            if (strcmp(got, "notavailable") == 0 && won[i] == -1)
                continue;
            snprintf(extra, sizeof extra, "error already-booked %u",
                     won[i] != -1 ? race_index(won[i]) : 0);
            if (won[i] != -1 && strcmp(got, extra) == 0)
                continue;
            h_fail("user%03d, selection %u (choice %d): unexpected \"%s\"", i, race_index(s), k + 1,
                   got);
        }
    }
    assert_int_equal(wins, RACE_SLOTS);
    for (s = 0; s < RACE_SLOTS; s++)
        if (owner[s] == -1)
            h_fail("slot %u was booked by nobody", race_index(s));
    /* What every user holds, as the center sees it. */
    for (i = 0; i < RACE_CONNS; i++)
        race_send(&c[i], "appointment\n");
    race_collect(c, RACE_CONNS, 1);
    for (i = 0; i < RACE_CONNS; i++) {
        const char *got = race_take(&c[i]);
        const char *want = won[i] != -1 ? race_appointment(won[i]) : "appointment none";

        if (strcmp(got, want) != 0)
            h_fail("user%03d: appointment answered \"%s\", expected \"%s\"", i, got, want);
    }
    /* A late patient finds nothing left. */
    race_send(&c[0], "available\n");
    race_collect(c, 1, 1);
    assert_string_equal(race_take(&c[0]), "slots 0");
    fixture_stop(f);
}

/* Two connections of one user: the second selection is refused with already-booked. */
static void
test_race_same_user(void **state)
{
    static int user[2 * RACE_PAIRS], won[RACE_PAIRS];
    struct fixture *f;
    struct rconn *c;
    char req[64], want[64];
    int i, u, wins = 0;

    f = race_start(state, 2 * RACE_PAIRS);
    /* Plainly, one after the other: connections 0 and 1 of user000. */
    c = race_connect_all(f->port, 2);
    user[0] = user[1] = 0;
    race_auth_all(c, 2, user);
    snprintf(req, sizeof req, "selection %u\n", race_index(5));
    race_send(&c[0], req);
    race_collect(&c[0], 1, 1);
    assert_string_equal(race_take(&c[0]), race_booked(5));
    snprintf(req, sizeof req, "selection %u\n", race_index(6));
    race_send(&c[1], req);
    race_collect(&c[1], 1, 1);
    snprintf(want, sizeof want, "error already-booked %u", race_index(5));
    assert_string_equal(race_take(&c[1]), want);
    race_send(&c[1], "appointment\n");
    race_collect(&c[1], 1, 1);
    assert_string_equal(race_take(&c[1]), race_appointment(5));
    /* The refused slot is still free for someone else. */
    race_send(&c[1], "available\n");
    race_collect(&c[1], 1, 1);
    snprintf(want, sizeof want, "slots %d", 2 * RACE_PAIRS - 1);
    assert_string_equal(race_take(&c[1]), want);
    fixture_stop(f);
    h_cleanup();

    /* At once: 200 users on two connections each, each connection asking its own slot. */
    f = race_start(state, 2 * RACE_PAIRS);
    c = race_connect_all(f->port, 2 * RACE_PAIRS);
    for (i = 0; i < 2 * RACE_PAIRS; i++)
        user[i] = 100 + i / 2;
    for (u = 0; u < RACE_PAIRS; u++)
        won[u] = -1;
    race_auth_all(c, 2 * RACE_PAIRS, user);
    for (i = 0; i < 2 * RACE_PAIRS; i++) {
        snprintf(req, sizeof req, "selection %u\n", race_index(i));
        race_send(&c[i], req);
    }
    race_collect(c, 2 * RACE_PAIRS, 1);
    for (i = 0; i < 2 * RACE_PAIRS; i++) {
        const char *got = race_take(&c[i]);

        u = i / 2;
        if (strcmp(got, race_booked(i)) != 0)
            continue;
        if (won[u] != -1)
            h_fail("user%03d booked two slots: %u and %u", user[i], race_index(won[u]),
                   race_index(i));
        won[u] = i;
        wins++;
    }
    assert_int_equal(wins, RACE_PAIRS);
    /* The other connection of each user was refused with the index its twin won. */
    for (i = 0; i < 2 * RACE_PAIRS; i++) {
        u = i / 2;
        if (won[u] == i)
            continue;
        snprintf(want, sizeof want, "error already-booked %u", race_index(won[u]));
        if (strcmp(c[i].line, want) != 0)
            h_fail("user%03d, second connection: \"%s\", expected \"%s\"", user[i], c[i].line,
                   want);
    }
    fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_race_one_slot, race_teardown),
        cmocka_unit_test_teardown(test_race_fifty_slots, race_teardown),
        cmocka_unit_test_teardown(test_race_same_user, race_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
