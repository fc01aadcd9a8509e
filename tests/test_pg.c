/* test_pg.c: several hcs on one PostgreSQL database (store = postgresql): the database decides
 * every race, a change made through one center reaches the waiting patients of the others,
 * the centers ride out PostgreSQL going away and one of them dying, the schedule is the
 * database's, and a dsn may list several hosts.
 *
 * Every case makes a database of its own on the test program's PostgreSQL server (pgtest.c)
 * and starts three hcs on it (A, B and C: three folders with the same users.txt and, but for
 * the shared-schedule case, the same availabilities.txt). Users are u<i> with the clear
 * password pw<i>, to keep logins fast. Every wait is on lines read (from a patient, from
 * stderr, or rows of the database) and has a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "fixture.h"
#include "harness.h"
#include "pgtest.h"
#include "tcpclient.h"

#define PG_SITES 3        /* hcs instances of a case: A, B, C */
#define PG_LONG_MS 30000  /* deadline of a bulk wait (hundreds of patients) */
#define PG_POLL_MS 10     /* pause between two looks at a state that must come */
#define PG_RACE_USERS 600 /* case 1: patients racing, 200 per instance */
#define PG_RACE_SLOTS 20  /* case 1: slots they race for */

/* The hcs of the running case (NULL when not started). */
static struct fixture *pg_f[PG_SITES];
/* Case 4's own connection holding a lock on hcs_bookings, closed by the teardown. */
static PGconn *pg_locker;
/* The lines of the last "available" read (pg_list), freed by the teardown. */
static char *pg_listbuf;
static size_t pg_listcap;

/* ---- The schedule and the users ---- */

/* Slot i (1, 2, ...): its day, time, doctor and the doctor's port follow a fixed pattern. */
static const char *
pg_day(unsigned i)
{
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

    return days[i % 6];
}

static const char *
pg_time(unsigned i)
{
    static const char *const times[] = {"08am", "09am", "10am", "11am",
                                        "01pm", "02pm", "03pm", "04pm"};

    return times[(i / 6) % 8];
}

static const char *
pg_doctor(unsigned i)
{
    static const char *const doctors[] = {"doc1", "doc2", "doc3"};

    return doctors[i % 3];
}

static unsigned
pg_port(unsigned i)
{
    return 41001 + i % 3;
}

/* The answer to "selection i" that books slot i. */
static const char *
pg_booked(unsigned i)
{
    return h_str("%s %u", pg_doctor(i), pg_port(i));
}

/* The answer to "appointment" of the holder of slot i. */
static const char *
pg_appointment(unsigned i)
{
    return h_str("appointment %u %s %s %s %u", i, pg_day(i), pg_time(i), pg_doctor(i), pg_port(i));
}

/* The rows of availabilities.txt for slots first..last. */
static const char *
pg_slots_text(unsigned first, unsigned last)
{
    size_t cap = (size_t)(last - first + 1) * 40 + 1, off = 0;
    char *text = h_alloc(cap);
    unsigned i;

    for (i = first; i <= last; i++)
        off += (size_t)snprintf(text + off, cap - off, "%u %s %s %s %u\n", i, pg_day(i), pg_time(i),
                                pg_doctor(i), pg_port(i));
    return text;
}

/* What "available" lists for slots first..last, less the slots taken[] says are taken
 * (taken may be NULL: none), each line ended by "\n". */
static const char *
pg_list_text(unsigned first, unsigned last, const unsigned char *taken)
{
    size_t cap = (size_t)(last - first + 1) * 24 + 1, off = 0;
    char *text = h_alloc(cap);
    unsigned i;

    for (i = first; i <= last; i++)
        if (taken == NULL || !taken[i])
            off += (size_t)snprintf(text + off, cap - off, "%u %s %s\n", i, pg_day(i), pg_time(i));
    return text;
}

/* users.txt of u0..u<n-1>, with clear passwords pw<i>. */
static const char *
pg_users_text(int n)
{
    size_t cap = (size_t)n * 24 + 1, off = 0;
    char *text = h_alloc(cap);
    int i;

    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, cap - off, "u%d pw%d\n", i, i);
    return text;
}

/* ---- The database ---- */

/* A new database of the test server; fails the case if there is none. */
static const char *
pg_newdb(void)
{
    const char *dsn = pgtest_newdb();

    if (dsn == NULL)
        h_fail("pgtest_newdb failed (see above)");
    return dsn;
}

/* The rows of sql on dsn as pgtest_query gives them (kept until h_cleanup). */
static const char *
pg_rows(const char *dsn, const char *sql)
{
    char *s = pgtest_query(dsn, sql);
    const char *kept;

    if (s == NULL)
        h_fail("query failed (see above): %s", sql);
    kept = h_str("%s", s);
    free(s);
    return kept;
}

/* The first column of the first row of sql, as a number. */
static long long
pg_count(const char *dsn, const char *sql)
{
    long long n = pgtest_count(dsn, sql);

    if (n < 0)
        h_fail("query failed (see above): %s", sql);
    return n;
}

/* The slot u<user> holds in hcs_bookings, 0 if none. */
static unsigned
pg_slot_of(const char *dsn, int user)
{
    return (unsigned)pg_count(
        dsn, h_str("SELECT coalesce(max(slot), 0) FROM hcs_bookings WHERE username = 'u%d'", user));
}

/* No user holds two rows (the table's UNIQUE constraint, checked from outside). */
static void
pg_expect_one_per_user(const char *dsn)
{
    const char *twice = pg_rows(dsn, "SELECT username, count(*) FROM hcs_bookings "
                                     "GROUP BY username HAVING count(*) > 1");

    if (*twice != '\0')
        h_fail("users holding more than one row of hcs_bookings:\n%s", twice);
}

/* ---- The centers ---- */

/* Start hcs site s (A = 0) in a folder of its own on dsn, with n users and slots_text. */
static struct fixture *
pg_start_site(int s, const char *dsn, int nusers, const char *slots_text)
{
    const struct fixture_opts o = {
        .users_text = pg_users_text(nusers),
        .slots_text = slots_text,
        .config = h_str("store = postgresql\ndsn = %s\n", dsn),
        .flag = "-q",
    };
    void *state = NULL;
    struct fixture *f = fixture_setup(&state, &o);

    snprintf(f->hcs->name, sizeof f->hcs->name, "hcs-%c", 'A' + s);
    pg_f[s] = f;
    return f;
}

/* Start A, B and C one after the other on dsn (A seeds the database's schedule). */
static void
pg_start_all(const char *dsn, int nusers, const char *slots_text)
{
    int s;

    for (s = 0; s < PG_SITES; s++)
        pg_start_site(s, dsn, nusers, slots_text);
}

/* ---- Patients ---- */

/* A new connection to site s, logged in as u<user>. */
static struct tconn *
pg_login(int s, int user)
{
    return fixture_login(pg_f[s], h_str("u%d", user), h_str("pw%d", user));
}

/* Milliseconds left until deadline (at least 1). */
static int
pg_left(long long deadline)
{
    long long left = deadline - h_now_ms();

    return left < 1 ? 1 : left > 600000 ? 600000 : (int)left;
}

/* The next line of patient who on c before deadline; fails the case if none comes. */
static const char *
pg_line(struct tconn *c, long long deadline, const char *who)
{
    const char *line = tc_line(c, pg_left(deadline));

    if (line == NULL)
        h_fail("%s: no answer in time (connection %s, %zu bytes unread: \"%.*s\")", who,
               tc_end_name(c->end), c->len, (int)(c->len < 200 ? c->len : 200), c->buf);
    return line;
}

/* The next line of who on c must be want. */
static void
pg_expect(struct tconn *c, long long deadline, const char *who, const char *want)
{
    const char *got = pg_line(c, deadline, who);

    if (strcmp(got, want) != 0)
        h_fail("%s: \"%s\", expected \"%s\"", who, got, want);
}

/* Send "available" on c: the next line must be "slots N", then N lines; return them, each
 * ended by "\n" (kept until h_cleanup). */
static const char *
pg_list(struct tconn *c, const char *who)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    const char *line;
    size_t off = 0;
    int n, i;
    char end;

    tc_sendf(c, "available\n");
    line = pg_line(c, deadline, who);
    if (sscanf(line, "slots %d%c", &n, &end) != 1 || n < 0)
        h_fail("%s: \"%s\" instead of \"slots N\"", who, line);
    for (i = 0; i < n; i++) {
        size_t len;

        line = pg_line(c, deadline, who);
        len = strlen(line);
        if (off + len + 2 > pg_listcap) {
            pg_listcap = pg_listcap ? pg_listcap : 4096;
            while (off + len + 2 > pg_listcap)
                pg_listcap *= 2;
            pg_listbuf = realloc(pg_listbuf, pg_listcap);
            assert_non_null(pg_listbuf);
        }
        memcpy(pg_listbuf + off, line, len);
        off += len;
        pg_listbuf[off++] = '\n';
    }
    return h_str("%.*s", (int)off, off > 0 ? pg_listbuf : "");
}

/* Send "available" on c: what it lists must be want (NULL: anything). Returns how many. */
static int
pg_available(struct tconn *c, const char *who, const char *want)
{
    const char *got = pg_list(c, who);
    int n = 0;

    if (want != NULL && strcmp(got, want) != 0)
        h_fail("%s: available listed\n%sexpected\n%s", who, got, want);
    for (; *got != '\0'; got++)
        n += *got == '\n';
    return n;
}

/* A patient u<user> on site s waiting for pushes: logged in, "available" read (it must
 * list want, unless want is NULL). */
static struct tconn *
pg_watcher(int s, int user, const char *want)
{
    struct tconn *c = pg_login(s, user);

    pg_available(c, h_str("watcher u%d on %c", user, 'A' + s), want);
    return c;
}

/*
 * Ask "appointment" of u<user> on site s (a fresh login) until the answer is want, within
 * deadline: the other centers learn a booking from the database's notification, a moment
 * after its patient was answered. Meanwhile only "appointment none" may come.
 */
static void
pg_poll_appointment(int s, int user, const char *want, long long deadline)
{
    struct tconn *c = pg_login(s, user);
    const char *who = h_str("u%d on %c", user, 'A' + s);

    for (;;) {
        const char *got;

        tc_sendf(c, "appointment\n");
        got = pg_line(c, deadline, who);
        if (strcmp(got, want) == 0)
            break;
        if (strcmp(got, "appointment none") != 0)
            h_fail("%s: \"%s\", expected \"%s\" (or none until the news comes)", who, got, want);
        if (h_now_ms() > deadline)
            h_fail("%s: still \"%s\", expected \"%s\"", who, got, want);
        h_pump(PG_POLL_MS);
    }
    tc_close(c);
}

/*
 * Log in n patients at once: connection i to site site[i] as u<user[i]>; every
 * "authenticate" is sent before any "success" is read.
 */
static void
pg_login_all(struct tconn **c, const int *site, const int *user, int n)
{
    long long deadline;
    int i;

    for (i = 0; i < n; i++)
        c[i] = tc_connect(pg_f[site[i]]->port);
    for (i = 0; i < n; i++)
        tc_sendf(c[i], "authenticate u%d pw%d\n", user[i], user[i]);
    deadline = h_now_ms() + PG_LONG_MS;
    for (i = 0; i < n; i++)
        pg_expect(c[i], deadline, h_str("u%d on %c", user[i], 'A' + site[i]), "success");
}

/* One patient of a stream: it books one slot of its own. */
struct pg_pat {
    struct tconn *c;
    int site, user;
    unsigned slot;
    int sent;     /* its "selection" was sent */
    int answered; /* and answer holds the reply */
    char answer[128];
};

/* Log in the patients of a stream (all before any answer is read). */
static void
pg_pats_login(struct pg_pat *p, int n)
{
    struct tconn **c = h_alloc((size_t)n * sizeof *c);
    int *site = h_alloc((size_t)n * sizeof *site), *user = h_alloc((size_t)n * sizeof *user);
    int i;

    for (i = 0; i < n; i++) {
        site[i] = p[i].site;
        user[i] = p[i].user;
    }
    pg_login_all(c, site, user, n);
    for (i = 0; i < n; i++)
        p[i].c = c[i];
}

/* Take the answer of p if a line is there (reading without waiting). 1 if taken. */
static int
pg_take(struct pg_pat *p)
{
    const char *line;

    if (!p->sent || p->answered || !tc_ready(p->c))
        return 0;
    if ((line = tc_line(p->c, 0)) == NULL)
        return 0; /* the connection ended: the caller decides */
    snprintf(p->answer, sizeof p->answer, "%s", line);
    p->answered = 1;
    return 1;
}

/*
 * Stream the patients' selections in order, keeping window of them unanswered at a time,
 * until until of them are answered (the others may still be on their way). A connection
 * that ends without an answer fails the case. Returns how many were sent.
 */
static int
pg_stream(struct pg_pat *p, int n, int window, int until)
{
    struct pollfd *pfd = h_alloc((size_t)n * sizeof *pfd);
    long long deadline = h_now_ms() + PG_LONG_MS;
    int next = 0, answered = 0, i;

    for (i = 0; i < n; i++)
        answered += p[i].answered;
    while (answered < until) {
        int open = 0, np = 0;

        for (i = 0; i < next; i++)
            open += p[i].sent && !p[i].answered;
        while (next < n && open < window) {
            tc_sendf(p[next].c, "selection %u\n", p[next].slot);
            p[next++].sent = 1;
            open++;
        }
        for (i = 0; i < next; i++) {
            if (pg_take(&p[i])) {
                answered++;
                continue;
            }
            if (p[i].sent && !p[i].answered) {
                if (p[i].c->end != TC_OPEN)
                    h_fail("u%d on %c: connection %s before the answer to selection %u", p[i].user,
                           'A' + p[i].site, tc_end_name(p[i].c->end), p[i].slot);
                pfd[np++] = (struct pollfd){.fd = p[i].c->fd, .events = POLLIN};
            }
        }
        if (answered >= until)
            break;
        if (h_now_ms() > deadline)
            h_fail("stream: %d of %d answered in %d ms, %d wanted", answered, next, PG_LONG_MS,
                   until);
        h_pump(0);
        poll(pfd, (nfds_t)np, PG_POLL_MS);
    }
    return next;
}

/* ---- The cases ---- */

/*
 * 1. The database decides the race: 600 patients, 200 on each center, all logged in first,
 * send "selection k" (k = i % 20 + 1: every slot asked by patients of all three centers) at
 * once. Exactly 20 are booked, each slot once, each user once, the others told
 * notavailable; hcs_bookings holds exactly those 20 rows as told; a watcher on every center
 * is pushed each reservation once; and "appointment" of each winner agrees on all three.
 */
static void
test_race_three_centers(void **state)
{
    static struct tconn *c[PG_RACE_USERS];
    static int site[PG_RACE_USERS], user[PG_RACE_USERS];
    static char req[PG_RACE_USERS][32];
    int winner[PG_RACE_SLOTS + 1];
    struct tconn *watch[PG_SITES];
    const char *dsn = pg_newdb(), *want, *rows;
    long long t0, deadline;
    int i, s, k, booked = 0, refused = 0;

    (void)state;
    pg_start_all(dsn, PG_RACE_USERS + PG_SITES, pg_slots_text(1, PG_RACE_SLOTS));
    for (s = 0; s < PG_SITES; s++)
        watch[s] = pg_watcher(s, PG_RACE_USERS + s, pg_list_text(1, PG_RACE_SLOTS, NULL));
    for (i = 0; i < PG_RACE_USERS; i++) {
        site[i] = i % PG_SITES;
        user[i] = i;
        snprintf(req[i], sizeof req[i], "selection %d\n", i % PG_RACE_SLOTS + 1);
    }
    t0 = h_now_ms();
    pg_login_all(c, site, user, PG_RACE_USERS);
    print_message("600 logins in %lld ms\n", h_now_ms() - t0);

    /* All at once: nothing read until every request is out. */
    t0 = h_now_ms();
    for (i = 0; i < PG_RACE_USERS; i++)
        tc_send(c[i], req[i], strlen(req[i]));
    for (k = 0; k <= PG_RACE_SLOTS; k++)
        winner[k] = -1;
    deadline = h_now_ms() + PG_LONG_MS;
    for (i = 0; i < PG_RACE_USERS; i++) {
        const char *who = h_str("u%d on %c", i, 'A' + site[i]);
        const char *got = pg_line(c[i], deadline, who);

        k = i % PG_RACE_SLOTS + 1;
        if (strcmp(got, pg_booked((unsigned)k)) == 0) {
            if (winner[k] != -1)
                h_fail("slot %d given twice: to u%d (on %c) and u%d (on %c)", k, winner[k],
                       'A' + site[winner[k]], i, 'A' + site[i]);
            winner[k] = i;
            booked++;
        } else if (strcmp(got, "notavailable") == 0) {
            refused++;
        } else {
            h_fail("%s: \"%s\" to selection %d: neither \"%s\" nor notavailable", who, got, k,
                   pg_booked((unsigned)k));
        }
    }
    print_message("600 answers in %lld ms\n", h_now_ms() - t0);
    assert_int_equal(booked, PG_RACE_SLOTS);
    assert_int_equal(refused, PG_RACE_USERS - PG_RACE_SLOTS);

    /* The table holds the 20 bookings exactly as told (one user each: one request each). */
    want = "";
    for (k = 1; k <= PG_RACE_SLOTS; k++)
        want = h_str("%s%d u%d %s %s %s %u\n", want, k, winner[k], pg_day((unsigned)k),
                     pg_time((unsigned)k), pg_doctor((unsigned)k), pg_port((unsigned)k));
    rows = pg_rows(dsn, "SELECT slot, username, day, time, doctor, port FROM hcs_bookings "
                        "ORDER BY slot");
    if (strcmp(rows, want) != 0)
        h_fail("hcs_bookings holds\n%sexpected\n%s", rows, want);
    pg_expect_one_per_user(dsn);

    /* Every center pushes each of the 20 reservations to its watcher, once. */
    for (s = 0; s < PG_SITES; s++) {
        unsigned char seen[PG_RACE_SLOTS + 1] = {0};
        const char *who = h_str("watcher on %c", 'A' + s);

        deadline = h_now_ms() + PG_LONG_MS;
        for (i = 0; i < PG_RACE_SLOTS; i++) {
            const char *got = pg_line(watch[s], deadline, who);
            char end;

            if (sscanf(got, "* reserved %d%c", &k, &end) != 1 || k < 1 || k > PG_RACE_SLOTS)
                h_fail("%s: \"%s\" instead of \"* reserved <1..20>\"", who, got);
            if (seen[k])
                h_fail("%s: \"%s\" pushed twice", who, got);
            seen[k] = 1;
        }
        /* Nothing more: the next line answers "available" with nothing left. */
        pg_available(watch[s], who, "");
    }

    /* "appointment" of each winner, on a fresh login on each center: at once on its own
     * center, once the news has come on the others. */
    deadline = h_now_ms() + PG_LONG_MS;
    for (k = 1; k <= PG_RACE_SLOTS; k++) {
        struct tconn *own = pg_login(site[winner[k]], winner[k]);

        tc_sendf(own, "appointment\n");
        pg_expect(own, deadline, h_str("u%d on its own %c", winner[k], 'A' + site[winner[k]]),
                  pg_appointment((unsigned)k));
        tc_close(own);
        for (s = 0; s < PG_SITES; s++)
            if (s != site[winner[k]])
                pg_poll_appointment(s, winner[k], pg_appointment((unsigned)k), deadline);
    }
}

/*
 * 2. A change made through one center reaches the waiting patients of every center: a
 * booking on C is pushed as "* reserved 3" to watchers on A, B and C, its cancel as
 * "* released 3 <day> <time>"; nothing is pushed twice.
 */
static void
test_push_across_centers(void **state)
{
    const char *dsn = pg_newdb(), *list = pg_list_text(1, 6, NULL);
    struct tconn *watch[PG_SITES], *booker;
    long long deadline;
    int s;

    (void)state;
    pg_start_all(dsn, 10, pg_slots_text(1, 6));
    for (s = 0; s < PG_SITES; s++)
        watch[s] = pg_watcher(s, s, list);
    booker = pg_login(2, 5);
    deadline = h_now_ms() + h_timeout_ms;
    tc_sendf(booker, "selection 3\n");
    pg_expect(booker, deadline, "booker u5 on C", pg_booked(3));
    for (s = 0; s < PG_SITES; s++)
        pg_expect(watch[s], deadline, h_str("watcher on %c", 'A' + s), "* reserved 3");
    assert_int_equal(pg_count(dsn, "SELECT count(*) FROM hcs_bookings WHERE slot = 3 AND "
                                   "username = 'u5'"),
                     1);

    tc_sendf(booker, "cancel\n");
    deadline = h_now_ms() + h_timeout_ms;
    pg_expect(booker, deadline, "booker u5 on C", "cancelled 3");
    for (s = 0; s < PG_SITES; s++)
        pg_expect(watch[s], deadline, h_str("watcher on %c", 'A' + s),
                  h_str("* released 3 %s %s", pg_day(3), pg_time(3)));
    assert_int_equal(pg_count(dsn, "SELECT count(*) FROM hcs_bookings"), 0);
    /* No push came twice: the next line answers "available", the whole list again. */
    for (s = 0; s < PG_SITES; s++)
        pg_available(watch[s], h_str("watcher on %c", 'A' + s), list);
}

/*
 * 3. A cancel on B frees the slot for a patient of A: while B's patient holds slot 5, A
 * answers notavailable (whether A has heard of the booking or the database refuses it);
 * once A's patient is pushed the release, its selection books.
 */
static void
test_cancel_frees_across(void **state)
{
    const char *dsn = pg_newdb();
    struct tconn *pa, *pb;
    long long deadline;
    int reserved = 0;

    (void)state;
    pg_start_all(dsn, 10, pg_slots_text(1, 6));
    pa = pg_watcher(0, 1, pg_list_text(1, 6, NULL));
    pb = pg_login(1, 2);
    deadline = h_now_ms() + h_timeout_ms;
    tc_sendf(pb, "selection 5\n");
    pg_expect(pb, deadline, "u2 on B", pg_booked(5));
    /* At once, without waiting for the news: the push may come before or after the answer. */
    tc_sendf(pa, "selection 5\n");
    for (;;) {
        const char *got = pg_line(pa, deadline, "u1 on A");

        if (!reserved && strcmp(got, "* reserved 5") == 0) {
            reserved = 1;
            continue;
        }
        if (strcmp(got, "notavailable") != 0)
            h_fail("u1 on A: \"%s\" to selection 5 while u2 holds it, expected notavailable", got);
        break;
    }
    if (!reserved)
        pg_expect(pa, deadline, "u1 on A", "* reserved 5");

    tc_sendf(pb, "cancel\n");
    deadline = h_now_ms() + h_timeout_ms;
    pg_expect(pb, deadline, "u2 on B", "cancelled 5");
    pg_expect(pa, deadline, "u1 on A", h_str("* released 5 %s %s", pg_day(5), pg_time(5)));
    tc_sendf(pa, "selection 5\n");
    pg_expect(pa, deadline, "u1 on A", pg_booked(5));
    assert_string_equal(pg_rows(dsn, "SELECT slot, username FROM hcs_bookings"), "5 u1\n");
    pg_poll_appointment(1, 1, pg_appointment(5), h_now_ms() + h_timeout_ms);
    pg_poll_appointment(1, 2, "appointment none", h_now_ms() + h_timeout_ms);
}

/* Open a connection of the test's own on dsn that holds hcs_bookings locked against writes
 * (a transaction left open): the centers' next batches wait in the database. */
static void
pg_lock_bookings(const char *dsn)
{
    PGresult *r;

    pg_locker = PQconnectdb(dsn);
    if (PQstatus(pg_locker) != CONNECTION_OK)
        h_fail("cannot connect to %s: %s", dsn, PQerrorMessage(pg_locker));
    r = PQexec(pg_locker, "BEGIN; LOCK TABLE hcs_bookings IN EXCLUSIVE MODE");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *msg = h_str("%s", PQresultErrorMessage(r));

        PQclear(r);
        h_fail("cannot lock hcs_bookings: %s", msg);
    }
    PQclear(r);
}

/*
 * 4. PostgreSQL stopped while patients book: a stream of bookings through the three
 * centers; then, with a batch of every center held in the database (the table locked) and
 * more requests behind them, PostgreSQL is stopped. Each center says "connection lost",
 * answers selection and cancel with "error unavailable", and still serves "available" and
 * "appointment". After a restart each says "connected again" and books again. Every
 * booking a patient was told of is in hcs_bookings, no user holds two rows, and a patient
 * told "error unavailable" is told the truth by "appointment" afterwards.
 */
enum { PG4_STREAM = 150, PG4_BURST = 30, PG4_PROBE = 500, PG4_SLOTS = 460 };

static void
test_postgresql_stopped(void **state)
{
    static struct pg_pat p[PG4_STREAM + PG4_BURST];
    const int n = PG4_STREAM + PG4_BURST;
    const char *dsn = pg_newdb(), *rows;
    struct tconn *probe[PG_SITES], *c;
    size_t lost[PG_SITES];
    long long deadline, t0;
    int i, s, sent, told = 0, unavailable = 0;

    (void)state;
    memset(p, 0, sizeof p);
    pg_start_all(dsn, PG4_PROBE + PG_SITES, pg_slots_text(1, PG4_SLOTS));
    for (i = 0; i < n; i++)
        p[i] = (struct pg_pat){.site = i % PG_SITES, .user = i, .slot = (unsigned)i + 1};
    pg_pats_login(p, n);
    for (s = 0; s < PG_SITES; s++)
        probe[s] = pg_login(s, PG4_PROBE + s);

    /* The stream: every one of them is booked. */
    sent = pg_stream(p, PG4_STREAM, 3 * PG_SITES, PG4_STREAM);
    assert_int_equal(sent, PG4_STREAM);
    for (i = 0; i < PG4_STREAM; i++)
        if (strcmp(p[i].answer, pg_booked(p[i].slot)) != 0)
            h_fail("u%d on %c: \"%s\" to selection %u, expected \"%s\"", p[i].user, 'A' + p[i].site,
                   p[i].answer, p[i].slot, pg_booked(p[i].slot));

    /* The burst: held in the database behind the lock, then PostgreSQL goes. */
    pg_lock_bookings(dsn);
    for (i = PG4_STREAM; i < n; i++) {
        tc_sendf(p[i].c, "selection %u\n", p[i].slot);
        p[i].sent = 1;
    }
    deadline = h_now_ms() + h_timeout_ms;
    while (pg_count(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND wait_event_type = 'Lock'") < PG_SITES) {
        if (h_now_ms() > deadline)
            h_fail("the centers' batches did not reach the locked table:\n%s",
                   pg_rows(dsn, "SELECT pid, state, wait_event_type, query FROM "
                                "pg_stat_activity WHERE datname = current_database()"));
        h_pump(PG_POLL_MS);
    }
    t0 = h_now_ms();
    if (pgtest_stop() == -1)
        h_fail("pgtest_stop failed (see above)");
    PQfinish(pg_locker);
    pg_locker = NULL;
    for (s = 0; s < PG_SITES; s++)
        lost[s] = h_wait_stderr(pg_f[s]->hcs, 0, "postgresql: connection lost");
    print_message("PostgreSQL stopped; every center noticed within %lld ms\n", h_now_ms() - t0);

    /* While it is away: memory serves, changes are refused. */
    for (s = 0; s < PG_SITES; s++) {
        const char *who = h_str("u%d on %c", PG4_PROBE + s, 'A' + s);
        struct pg_pat *holder = &p[s]; /* booked in the stream, on site s */

        /* (On a connection of its own: "available" subscribes it to pushes.) */
        c = pg_login(s, PG4_PROBE + s);
        if (pg_available(c, who, NULL) < 1)
            h_fail("%s: no slot listed while the database is away", who);
        tc_close(c);
        t0 = h_now_ms();
        tc_sendf(probe[s], "selection %d\n", PG4_SLOTS - s);
        pg_expect(probe[s], h_now_ms() + 3 * h_timeout_ms, who, "error unavailable");
        print_message("%s: error unavailable after %lld ms\n", who, h_now_ms() - t0);
        who = h_str("u%d on %c", holder->user, 'A' + s);
        tc_sendf(holder->c, "appointment\n");
        pg_expect(holder->c, h_now_ms() + h_timeout_ms, who, pg_appointment(holder->slot));
        tc_sendf(holder->c, "cancel\n");
        pg_expect(holder->c, h_now_ms() + 3 * h_timeout_ms, who, "error unavailable");
    }

    /* Back: every center reads the tables again and books again. */
    t0 = h_now_ms();
    if (pgtest_restart() == -1)
        h_fail("pgtest_restart failed (see above)");
    for (s = 0; s < PG_SITES; s++)
        h_wait_stderr(pg_f[s]->hcs, lost[s], "postgresql: connected again");
    print_message("PostgreSQL restarted; every center connected again within %lld ms\n",
                  h_now_ms() - t0);
    for (s = 0; s < PG_SITES; s++) {
        const char *who = h_str("u%d on %c", PG4_PROBE + s, 'A' + s);
        unsigned slot = (unsigned)(PG4_SLOTS - s);

        tc_sendf(probe[s], "selection %u\n", slot);
        pg_expect(probe[s], h_now_ms() + h_timeout_ms, who, pg_booked(slot));
    }

    /* The burst's answers: booked, or unavailable (nothing of the held batches was written). */
    deadline = h_now_ms() + PG_LONG_MS;
    for (i = PG4_STREAM; i < n; i++) {
        const char *who = h_str("u%d on %c", p[i].user, 'A' + p[i].site);
        const char *got = pg_line(p[i].c, deadline, who);

        snprintf(p[i].answer, sizeof p[i].answer, "%s", got);
        p[i].answered = 1;
        if (strcmp(got, "error unavailable") == 0)
            unavailable++;
        else if (strcmp(got, pg_booked(p[i].slot)) != 0)
            h_fail("%s: \"%s\" to selection %u, expected \"%s\" or error unavailable", who, got,
                   p[i].slot, pg_booked(p[i].slot));
    }
    print_message("burst of %d: %d told error unavailable\n", PG4_BURST, unavailable);

    /* Every booking told is there as told; a patient told unavailable learns the truth. */
    rows = h_str("\n%s", pg_rows(dsn, "SELECT slot, username FROM hcs_bookings ORDER BY slot"));
    for (i = 0; i < n; i++) {
        const char *row = h_str("\n%u u%d\n", p[i].slot, p[i].user);
        unsigned held = pg_slot_of(dsn, p[i].user);

        if (strcmp(p[i].answer, pg_booked(p[i].slot)) == 0) {
            told++;
            if (strstr(rows, row) == NULL)
                h_fail("u%d was told slot %u, which hcs_bookings does not hold:%s", p[i].user,
                       p[i].slot, rows);
            continue;
        }
        tc_sendf(p[i].c, "appointment\n");
        pg_expect(p[i].c, h_now_ms() + h_timeout_ms,
                  h_str("u%d on %c (told unavailable)", p[i].user, 'A' + p[i].site),
                  held != 0 ? pg_appointment(held) : "appointment none");
    }
    for (s = 0; s < PG_SITES; s++)
        if (strstr(rows, h_str("\n%d u%d\n", PG4_SLOTS - s, PG4_PROBE + s)) == NULL)
            h_fail("u%d was told slot %d, which hcs_bookings does not hold:%s", PG4_PROBE + s,
                   PG4_SLOTS - s, rows);
    pg_expect_one_per_user(dsn);
    assert_true(told >= PG4_STREAM);
}

/*
 * 5. A center killed (SIGKILL) in the middle of a storm of bookings loses nothing it
 * confirmed: every "<doctor> <port>" A sent before it died (read by its patients even after
 * its death) is a row of hcs_bookings, and B, still serving, shows each of A's patients
 * what the database holds, lists the rest as free, and books.
 */
enum { PG5_PATS = 150, PG5_WINDOW = 24, PG5_KILL_AFTER = 40, PG5_SLOTS = 200 };

static void
test_center_killed(void **state)
{
    static struct pg_pat p[PG5_PATS];
    static unsigned char taken[PG5_SLOTS + 1];
    const char *dsn = pg_newdb(), *rows, *want;
    struct hproc *a;
    struct tconn *c;
    long long deadline;
    int i, sent, confirmed = 0, st;

    (void)state;
    memset(p, 0, sizeof p);
    memset(taken, 0, sizeof taken);
    pg_start_all(dsn, 400, pg_slots_text(1, PG5_SLOTS));
    a = pg_f[0]->hcs;
    for (i = 0; i < PG5_PATS; i++)
        p[i] = (struct pg_pat){.site = 0, .user = i, .slot = (unsigned)i + 1};
    pg_pats_login(p, PG5_PATS);

    sent = pg_stream(p, PG5_PATS, PG5_WINDOW, PG5_KILL_AFTER);
    assert_int_equal(kill(a->pid, SIGKILL), 0);
    st = h_wait(a);
    if (st != 128 + SIGKILL)
        h_fail("hcs-A: exit status %d, expected %d (SIGKILL)", st, 128 + SIGKILL);

    /* What A sent before it died is still to be read; then its connections end. */
    deadline = h_now_ms() + h_timeout_ms;
    for (i = 0; i < sent; i++) {
        while (!p[i].answered && p[i].c->end == TC_OPEN && h_now_ms() < deadline)
            if (!pg_take(&p[i]))
                tc_recv(p[i].c, pg_left(deadline));
        pg_take(&p[i]);
        if (!p[i].answered && p[i].c->end == TC_OPEN)
            h_fail("u%d: connection to the killed hcs-A still open", p[i].user);
        if (!p[i].answered)
            continue;
        if (strcmp(p[i].answer, pg_booked(p[i].slot)) != 0)
            h_fail("u%d on A: \"%s\" to selection %u, expected \"%s\"", p[i].user, p[i].answer,
                   p[i].slot, pg_booked(p[i].slot));
        confirmed++;
    }
    print_message("A killed with %d of %d selections confirmed\n", confirmed, sent);
    assert_true(confirmed >= PG5_KILL_AFTER);
    /* A's session may still be finishing its last batch: the table is final once no session
     * but the test's own is busy (B and C wait idle on LISTEN). */
    deadline = h_now_ms() + h_timeout_ms;
    while (pg_count(dsn,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid() AND state <> 'idle'") > 0) {
        if (h_now_ms() > deadline)
            h_fail("a session is still busy after hcs-A was killed:\n%s",
                   pg_rows(dsn, "SELECT pid, state, query FROM pg_stat_activity WHERE datname = "
                                "current_database() AND pid <> pg_backend_pid()"));
        h_pump(PG_POLL_MS);
    }

    /* Every confirmed booking is in the database. */
    rows = h_str("\n%s", pg_rows(dsn, "SELECT slot, username FROM hcs_bookings ORDER BY slot"));
    for (i = 0; i < sent; i++)
        if (p[i].answered && strstr(rows, h_str("\n%u u%d\n", p[i].slot, p[i].user)) == NULL)
            h_fail("hcs-A confirmed slot %u to u%d before it died; hcs_bookings does not hold "
                   "it:%s",
                   p[i].slot, p[i].user, rows);
    pg_expect_one_per_user(dsn);

    /* B shows each of A's patients what the database holds, confirmed or not. */
    deadline = h_now_ms() + PG_LONG_MS;
    for (i = 0; i < sent; i++) {
        unsigned held = pg_slot_of(dsn, p[i].user);

        if (held != 0 && held != p[i].slot)
            h_fail("u%d holds slot %u, it asked for %u", p[i].user, held, p[i].slot);
        if (held != 0)
            taken[held] = 1;
        pg_poll_appointment(1, p[i].user, held != 0 ? pg_appointment(held) : "appointment none",
                            deadline);
    }
    /* B, which has heard of all of them, lists as free exactly what the database does not
     * hold, and books. */
    c = pg_login(1, 300);
    want = pg_list_text(1, PG5_SLOTS, taken);
    pg_available(c, "u300 on B", want);
    tc_sendf(c, "selection %d\n", PG5_SLOTS);
    pg_expect(c, h_now_ms() + h_timeout_ms, "u300 on B", pg_booked(PG5_SLOTS));
}

/*
 * 6. The schedule is the database's: A starts first and its availabilities.txt becomes
 * hcs_slots; B and C, started on other files, list A's slots and warn that their file
 * "differs from the shared schedule". A's file gains slot 99 and kill -HUP A makes it the
 * shared schedule: waiting patients on C (and A, B) are pushed "* added 99 ...".
 */
static void
test_shared_schedule(void **state)
{
    const char *dsn = pg_newdb(), *list = pg_list_text(1, 6, NULL);
    const char *added = "* added 99 Sun 05pm";
    struct tconn *watch[PG_SITES];
    long long deadline;
    int s;

    (void)state;
    pg_start_site(0, dsn, 10, pg_slots_text(1, 6));
    /* B: fewer slots and one of its own; C: slot 3 at another time. */
    pg_start_site(1, dsn, 10, h_str("%s50 Sun 09am doc1 41001\n", pg_slots_text(1, 4)));
    pg_start_site(2, dsn, 10,
                  h_str("%s3 Sun 11am doc1 41001\n%s", pg_slots_text(1, 2), pg_slots_text(4, 6)));
    for (s = 1; s < PG_SITES; s++)
        h_wait_stderr(pg_f[s]->hcs, 0, "differs from the shared schedule");
    for (s = 0; s < PG_SITES; s++)
        watch[s] = pg_watcher(s, s, list);
    if (strstr(h_stderr(pg_f[0]->hcs), "differs from the shared schedule") != NULL)
        h_fail("hcs-A, which made the shared schedule, says its file differs from it");
    assert_string_equal(pg_rows(dsn, "SELECT slot, day, time, doctor, port FROM hcs_slots "
                                     "ORDER BY pos"),
                        pg_slots_text(1, 6));

    h_file(pg_f[0]->dir, "availabilities.txt", "%s99 Sun 05pm doc2 41002\n", pg_slots_text(1, 6));
    assert_int_equal(kill(pg_f[0]->hcs->pid, SIGHUP), 0);
    deadline = h_now_ms() + h_timeout_ms;
    pg_expect(watch[2], deadline, "watcher on C", added);
    pg_expect(watch[1], deadline, "watcher on B", added);
    pg_expect(watch[0], deadline, "watcher on A", added);
    assert_string_equal(pg_rows(dsn, "SELECT slot, day, time, doctor, port FROM hcs_slots "
                                     "WHERE slot = 99"),
                        "99 Sun 05pm doc2 41002\n");
    /* And it books through C, as the database now says. */
    tc_sendf(watch[2], "selection 99\n");
    pg_expect(watch[2], h_now_ms() + h_timeout_ms, "u2 on C", "doc2 41002");
}

/* A TCP port of 127.0.0.1 that nothing listens on (bound, then closed). */
static unsigned
pg_closed_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
        h_fail("cannot find a closed port: %s", strerror(errno));
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

/*
 * 7. A dsn listing two hosts (libpq's multi-host string): the first, 127.0.0.1 on a closed
 * port, refuses; hcs goes on to the second (the test server's socket folder), starts and
 * books.
 */
static void
test_multi_host_dsn(void **state)
{
    const char *dsn = pg_newdb(), *db = strstr(dsn, "dbname=");
    const char *multi;
    struct tconn *c;

    (void)state;
    assert_non_null(db);
    multi = h_str("host=127.0.0.1,%s port=%u,%d user=postgres %s", pgtest_dir(), pg_closed_port(),
                  pgtest_port(), db);
    pg_start_site(0, multi, 10, pg_slots_text(1, 6));
    c = pg_login(0, 1);
    pg_available(c, "u1 on A", pg_list_text(1, 6, NULL));
    tc_sendf(c, "selection 4\n");
    pg_expect(c, h_now_ms() + h_timeout_ms, "u1 on A", pg_booked(4));
    assert_string_equal(pg_rows(dsn, "SELECT slot, username FROM hcs_bookings"), "4 u1\n");
    assert_string_equal(pg_rows(dsn, "SELECT slot, day, time, doctor, port FROM hcs_slots "
                                     "ORDER BY pos"),
                        pg_slots_text(1, 6));
}

/* cmocka teardown: the case's lock connection, sockets, processes and folders. */
static int
pg_teardown(void **state)
{
    int s;

    if (pg_locker != NULL)
        PQfinish(pg_locker);
    pg_locker = NULL;
    free(pg_listbuf);
    pg_listbuf = NULL;
    pg_listcap = 0;
    for (s = 0; s < PG_SITES; s++)
        pg_f[s] = NULL;
    h_timeout_ms = H_TIMEOUT_MS;
    return fixture_teardown(state);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_race_three_centers, pg_teardown),
        cmocka_unit_test_teardown(test_push_across_centers, pg_teardown),
        cmocka_unit_test_teardown(test_cancel_frees_across, pg_teardown),
        cmocka_unit_test_teardown(test_postgresql_stopped, pg_teardown),
        cmocka_unit_test_teardown(test_center_killed, pg_teardown),
        cmocka_unit_test_teardown(test_shared_schedule, pg_teardown),
        cmocka_unit_test_teardown(test_multi_host_dsn, pg_teardown),
    };
    struct rlimit rl;

    h_init();
    /* HCS_PG_CASE=test_shared_schedule (a glob) runs only the cases it names. */
    if (getenv("HCS_PG_CASE") != NULL)
        cmocka_set_test_filter(getenv("HCS_PG_CASE"));
    /* Hundreds of patients at once, plus what the harness holds. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* No PostgreSQL is a failure here, not a skip: this test exists to run against it. */
    if (pgtest_start() == -1) {
        fprintf(stderr, "test_pg: the PostgreSQL test server did not start (see above)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
