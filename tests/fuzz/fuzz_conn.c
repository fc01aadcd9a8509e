/*
 * fuzz_conn.c: the center's line reader and command dispatcher, fed through
 * the real connection code with a fake transport (conn_new with fd -1 and
 * conn_feed), checking every reply and the schedule after each feed.
 *
 * Input: segments separated by the byte 0xff. The first segment goes to
 * connection 0 in one piece. The byte after each 0xff says how to feed the
 * segment that follows it:
 *   bits 0-1  connection (0, 1, 2; 3 means 0)
 *   bit 2     that client stops reading its replies (until a segment without it)
 *   bit 3     that client hangs up first and a new one takes its place
 *   bits 4-6  chunk size: whole, 1, 2, 3, 7, 16, 64 or 300 bytes per conn_feed
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "center.h"
#include "conn.h"
#include "proto.h"
#include "schedule.h"
#include "users.h"

#define FUZZ_NCONN 3
#define FUZZ_MAX_LINE 64 /* the smallest center.conf allows */
#define FUZZ_READ 100    /* a small shared read buffer: partial lines cross it often */
#define FUZZ_MAX_OUTPUT 8192
#define FUZZ_SEP 0xff

/* The passwords never appear in anything the center sends or prints. */
static const char fuzz_users[] = "alice Pa55-alice-7q\r\n"
                                 "bob Pa55-bob-7q\n"
                                 "\n"
                                 "j\xc3\xb6rg Pa55-jorg-7q\n"
                                 "carol\tPa55-carol-7q";
static const char *const fuzz_passwords[] = {"Pa55-alice-7q", "Pa55-bob-7q", "Pa55-jorg-7q",
                                             "Pa55-carol-7q"};

static const char fuzz_slots[] = "1 Mon 09am docA 41001\n"
                                 "2 Tue 10am docB 41002\n"
                                 "3 Wed 11am docA 41001\n"
                                 "10 Thu 01pm docC 41003\r\n"
                                 "11 Fri 02pm docB 41002\n"
                                 "12 Sat 03pm docA 41001\n"
                                 "20 Sun 04pm docC 41003\n"
                                 "99 Mon 05pm docA 41001\n"
                                 "4294967295 Tue 06pm docB 41002\n"
                                 "4294967294 Wed\t07pm docC 41003";

static const size_t fuzz_chunks[8] = {0, 1, 2, 3, 7, 16, 64, 300};

/* The errors the center may send here (no timeouts, no busy, no store trouble). */
static const enum proto_error fuzz_errors[] = {
    PROTO_ERR_UNKNOWN_COMMAND, PROTO_ERR_WRONG_ARGUMENTS,   PROTO_ERR_BAD_INDEX,
    PROTO_ERR_BAD_SPACING,     PROTO_ERR_NOT_AUTHENTICATED, PROTO_ERR_ALREADY_AUTHENTICATED,
    PROTO_ERR_NO_APPOINTMENT,  PROTO_ERR_EMPTY_LINE,        PROTO_ERR_LINE_TOO_LONG,
    PROTO_ERR_BAD_LINE,        PROTO_ERR_OUT_OF_MEMORY,
};

/* One fake client: its connection and what it has been told so far. */
struct fuzz_peer {
    struct conn *c;
    int hold;       /* does not read its replies */
    int closed;     /* the center has sent its last line */
    uint32_t slots; /* lines of a "slots n" list still to come */
};

/* The screen (stdout), captured in memory to check what the center prints. */
static FILE *fuzz_screen_fp;
static char *fuzz_screen;
static size_t fuzz_screenlen;  /* bytes printed, as of the last fflush */
static size_t fuzz_screenseen; /* bytes already checked */

/* Send stdout to a fresh memory buffer. */
static void
fuzz_screen_open(void)
{
    fflush(stdout);
    if ((fuzz_screen_fp = open_memstream(&fuzz_screen, &fuzz_screenlen)) == NULL)
        abort();
    fuzz_screenseen = 0;
    stdout = fuzz_screen_fp; /* glibc allows assigning the standard streams */
}

/* Whether the n bytes of s contain the NUL-terminated string w. */
static int
fuzz_contains(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    const char *p = s, *end = s + n;

    while (p + wl <= end && (p = memchr(p, w[0], (size_t)(end - p - (ptrdiff_t)wl + 1))) != NULL) {
        if (memcmp(p, w, wl) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* The error of a reason the center may send here, or -1. */
static int
fuzz_error(const char *reason)
{
    int e = proto_error_find(reason, strlen(reason));
    size_t i;

    for (i = 0; e != -1 && i < sizeof fuzz_errors / sizeof fuzz_errors[0]; i++)
        if (fuzz_errors[i] == (enum proto_error)e && strcmp(proto_errors[e].reason, reason) == 0)
            return e;
    return -1;
}

/* Whether a parsed reply is the last thing the center says before closing. */
static int
fuzz_is_closing(const struct proto_reply *r)
{
    int e;

    if (r->kind == PROTO_FAILURE)
        return 1;
    return r->kind == PROTO_ERROR && (e = fuzz_error(r->reason)) != -1 && proto_errors[e].closes;
}

/* The slot with this index, which must exist and match day and time. */
static const struct slot *
fuzz_slot(struct center *center, uint32_t index, const char *day, const char *time)
{
    const struct slot *slot = schedule_find(&center->sched, index);

    if (slot == NULL)
        abort();
    if (day != NULL && (strcmp(slot->day, day) != 0 || strcmp(slot->time, time) != 0))
        abort();
    return slot;
}

/* Check one reply line (without its "\n") against the protocol and the schedule. */
static void
fuzz_check_line(struct center *center, struct fuzz_peer *p, const char *line, size_t len,
                struct proto_reply *r)
{
    const struct sched_doctor *doc;
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] == 0x7f)
            abort();
    if (proto_parse_reply(line, len, r) == -1)
        abort();
    if (p->slots > 0) {
        /* Nothing may come between the lines of a list, not even a push. */
        if (r->kind != PROTO_SLOT)
            abort();
        fuzz_slot(center, r->index, r->day, r->time);
        p->slots--;
        return;
    }
    switch (r->kind) {
    case PROTO_INVALID:
    case PROTO_SLOT:       /* a list line outside a list */
    case PROTO_PUSH_ADDED: /* the schedule never changes here */
    case PROTO_PUSH_REMOVED:
        abort();
    case PROTO_SLOTS:
        if (r->count > center->sched.n)
            abort();
        p->slots = r->count;
        break;
    case PROTO_PUSH_RESERVED:
    case PROTO_CANCELLED:
        fuzz_slot(center, r->index, NULL, NULL);
        break;
    case PROTO_PUSH_RELEASED:
        fuzz_slot(center, r->index, r->day, r->time);
        break;
    case PROTO_APPOINTMENT:
        doc = schedule_doctor(&center->sched, fuzz_slot(center, r->index, r->day, r->time));
        if (strcmp(doc->name, r->doctor) != 0 || doc->port != r->port)
            abort();
        break;
    case PROTO_BOOKED:
        for (i = 0; i < center->sched.ndoctors; i++) {
            doc = &center->sched.doctors[i];
            if (strcmp(doc->name, r->doctor) == 0 && doc->port == r->port)
                break;
        }
        if (i == center->sched.ndoctors)
            abort();
        break;
    case PROTO_ERROR:
        if (strncmp(r->reason, "already-booked ", 15) == 0)
            fuzz_slot(center, (uint32_t)strtoul(r->reason + 15, NULL, 10), NULL, NULL);
        else if (fuzz_error(r->reason) == -1)
            abort();
        break;
    case PROTO_SUCCESS:
    case PROTO_FAILURE:
    case PROTO_NOTAVAILABLE:
    case PROTO_APPOINTMENT_NONE:
        break;
    }
}

/* Read and check everything queued to one client, as the client would. */
static void
fuzz_take(struct center *center, struct fuzz_peer *p)
{
    struct evbuffer *out = p->c->out;
    size_t len = conn_outlen(p->c), i;
    const char *buf, *line, *nl;
    struct proto_reply r;
    int closing = 0;

    if (len == 0)
        return;
    if (p->closed) /* output after the line that ends the connection */
        abort();
    buf = (const char *)evbuffer_pullup(out, -1);
    if (buf == NULL || buf[len - 1] != '\n')
        abort();
    for (line = buf; line < buf + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(buf + len - line));
        if (closing)
            abort();
        fuzz_check_line(center, p, line, (size_t)(nl - line), &r);
        closing = fuzz_is_closing(&r);
    }
    if (p->slots > 0) /* a list cut short */
        abort();
    for (i = 0; i < sizeof fuzz_passwords / sizeof fuzz_passwords[0]; i++)
        if (fuzz_contains(buf, len, fuzz_passwords[i]))
            abort();
    /* The closing line comes exactly when the connection is closing. */
    if (closing != (p->c->state == CONN_CLOSING || p->c->state == CONN_LINGER))
        abort();
    p->closed = closing;
    evbuffer_drain(out, len);
}

/* Check the screen lines printed since the last call, then forget them. */
static void
fuzz_check_screen(void)
{
    static const char recv[] = "Phase 1: The Health Center Server has received request from a "
                               "patient with username ";
    static const char masked[] = " and password ********.";
    const char *line, *nl, *end;
    size_t len;

    fflush(stdout);
    end = fuzz_screen + fuzz_screenlen;
    for (line = fuzz_screen + fuzz_screenseen; line < end; line = nl + 1) {
        if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
            abort(); /* a screen line without its end */
        len = (size_t)(nl - line);
        for (const char *q = line; q < nl; q++)
            if ((unsigned char)*q < 0x20 || (unsigned char)*q == 0x7f)
                abort(); /* untrusted bytes printed unescaped */
        if (len >= sizeof recv - 1 && memcmp(line, recv, sizeof recv - 1) == 0 &&
            (len < sizeof recv - 1 + sizeof masked - 1 ||
             memcmp(nl - (sizeof masked - 1), masked, sizeof masked - 1) != 0))
            abort(); /* the password was not masked */
    }
    fuzz_screenseen = fuzz_screenlen;
    if (fuzz_screenlen > (1u << 20)) {
        fclose(fuzz_screen_fp);
        free(fuzz_screen);
        fuzz_screen_open();
    }
}

/* Check the bookings: one holder per slot, one slot per user, both sides agree. */
static void
fuzz_check_center(struct center *center)
{
    const struct schedule *s = &center->sched;
    const struct users *u = &center->users;
    const struct sched_sub *sub;
    const struct conn *c;
    size_t i, nfree = 0, n = 0;

    for (i = 0; i < s->n; i++) {
        const struct slot *slot = &s->slots[i];
        if (slot->holder == SCHEDULE_FREE) {
            nfree++;
            continue;
        }
        if (slot->holder >= u->n || u->v[slot->holder].booked != slot->index)
            abort();
    }
    if (nfree != s->nfree)
        abort();
    for (i = 0; i < u->n; i++) {
        const struct slot *slot;
        if (u->v[i].booked == 0)
            continue;
        slot = schedule_find(s, u->v[i].booked);
        if (slot == NULL || slot->holder != i)
            abort();
    }
    for (c = TAILQ_FIRST(&center->conns); c != NULL; c = TAILQ_NEXT(c, entry))
        n++;
    if (n != center->nconns)
        abort();
    /* Only authenticated clients watch the schedule. */
    n = 0;
    for (sub = TAILQ_FIRST(&s->subs); sub != NULL; sub = TAILQ_NEXT(sub, entry)) {
        c = sub->arg;
        if (!sub->active || c->state != CONN_READY)
            abort();
        n++;
    }
    if (n != s->nsubs)
        abort();
}

/* The client hangs up; a new one connects in its place. */
static void
fuzz_reconnect(struct center *center, struct fuzz_peer *p)
{
    fuzz_take(center, p);
    conn_close(p->c);
    center_reap(center);
    memset(p, 0, sizeof *p);
    if ((p->c = conn_new(center, -1, NULL, NULL)) == NULL)
        abort();
}

/*
 * Do what the event loop would: every client that reads takes its replies,
 * input held back behind a full output is handled (as conn_resume does), a
 * client that does not read leaves all its output stalled (as a flush that
 * writes nothing), and one that let its pushes overflow is closed (as
 * conn_flush does).
 */
static void
fuzz_pump(struct center *center, struct fuzz_peer *peers)
{
    struct fuzz_peer *p;
    size_t len;

    for (p = peers; p < peers + FUZZ_NCONN; p++) {
        if (!p->hold) {
            fuzz_take(center, p);
            while (p->c->backlog) {
                len = p->c->pendlen;
                memcpy(center->rbuf, p->c->pend, len);
                p->c->backlog = 0;
                conn_process(p->c, center->rbuf, len);
                fuzz_take(center, p);
            }
        }
        p->c->stalled = conn_outlen(p->c);
        if (p->c->overflow)
            fuzz_reconnect(center, p);
    }
    fuzz_check_center(center);
    fuzz_check_screen();
}

/* Feed one segment to the client its op byte names. */
static void
fuzz_segment(struct center *center, struct fuzz_peer *peers, unsigned op, const uint8_t *data,
             size_t len)
{
    struct fuzz_peer *p = &peers[(op & 3) % FUZZ_NCONN];
    size_t chunk = fuzz_chunks[(op >> 4) & 7], n;

    if (op & 8)
        fuzz_reconnect(center, p);
    p->hold = (op & 4) != 0;
    while (len > 0) {
        n = chunk == 0 || chunk > len ? len : chunk;
        conn_feed(p->c, (const char *)data, n);
        data += n;
        len -= n;
        fuzz_pump(center, peers);
    }
    fuzz_pump(center, peers);
}

/* A center with the fixed users and schedule, the memory store and no sockets. */
static struct center *
fuzz_center_new(void)
{
    static const char conf[] = "[center]\n"
                               "users = users\n"
                               "availabilities = slots\n"
                               "max_line = 64\n"
                               "max_output = 8192\n"
                               "max_clients = 100\n";
    struct center *c = calloc(1, sizeof *c);
    char err[256];

    if (c == NULL)
        abort();
    /* Not quiet: the screen lines are checked too. */
    if (center_init_text(c, conf, fuzz_users, fuzz_slots, 0, err, sizeof err) == -1) {
        fprintf(stderr, "fuzz_conn: %s\n", err);
        abort();
    }
    if (c->cfg.max_line != FUZZ_MAX_LINE || c->cfg.max_output != FUZZ_MAX_OUTPUT)
        abort();
    /* A small shared read buffer: partial lines cross it often. */
    free(c->rbuf);
    c->rbufsize = FUZZ_MAX_LINE + 1 + FUZZ_READ;
    if ((c->rbuf = malloc(c->rbufsize)) == NULL)
        abort();
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One run: a fresh center, three clients, the input fed in segments. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_peer peers[FUZZ_NCONN];
    struct center *center;
    const uint8_t *sep;
    unsigned op = 0;
    size_t i = 0, end;

    if (fuzz_screen_fp == NULL)
        fuzz_screen_open();
    center = fuzz_center_new();
    memset(peers, 0, sizeof peers);
    for (i = 0; i < FUZZ_NCONN; i++)
        if ((peers[i].c = conn_new(center, -1, NULL, NULL)) == NULL)
            abort();
    for (i = 0; size > 0;) {
        sep = memchr(data + i, FUZZ_SEP, size - i);
        end = sep != NULL ? (size_t)(sep - data) : size;
        fuzz_segment(center, peers, op, data + i, end - i);
        if (sep == NULL)
            break;
        i = end + 1;
        op = i < size ? data[i++] : 0;
    }
    /* In the end every client reads what it was sent. */
    for (i = 0; i < FUZZ_NCONN; i++)
        peers[i].hold = 0;
    fuzz_pump(center, peers);
    center_free(center);
    free(center);
    return 0;
}
