/* udp.c: closed-loop datagram queries (insurance plans to a doctor, or memcached's UDP
 * port with its frame header): --conns requests outstanding on one socket, read with
 * recvmmsg and sent with sendmmsg once per wake-up, resent after a timeout (the doctor's
 * only after a refusal), every latency recorded; and the amplify mode, the worst
 * reply/request byte ratio. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "addr.h"
#include "bench.h"
#include "load.h"
#include "report.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define UDP_BATCH 64 /* answers read by one recvmmsg */
#define UDP_TICK_MS 20
#define UDP_RESEND_NS 200000000ull /* resend a request unanswered this long */
#define UDP_MCHDR 8                /* memcached's UDP frame: id, seq 0, total 1, reserved 0 */
#define UDP_MAXREQ 1500            /* bytes of one request datagram */
#define UDP_AMP_WAIT_MS 200        /* amplify: how long each probe waits for replies */
#define UDP_NIL UINT32_MAX         /* the end of the list of requests in flight */

/*
 * One request slot (--conns of them, all on one socket): at most one
 * request in flight, kept in the list of requests in flight in the order
 * they were (last) sent.
 */
struct uc {
    int busy;            /* a request is outstanding */
    int measured;        /* it counts */
    int queued;          /* it waits for the next sendmmsg */
    int fresh;           /* queued as a new request (not a resend): its time starts when sent */
    uint64_t t_req;      /* first sent */
    uint64_t t_sent;     /* last sent */
    uint32_t prev, next; /* the list of requests in flight */
};

/* The buffers of one wake-up, allocated once: answers read, requests to send. */
struct udp_io {
    struct mmsghdr in[UDP_BATCH];
    struct iovec iniov[UDP_BATCH];
    char inbuf[UDP_BATCH][UDP_MAXREQ + 1];
    struct mmsghdr *out; /* --conns of them */
    struct iovec *outiov;
    uint32_t *outof; /* the slot of each queued request */
    unsigned nout;
};

/* The whole run. */
struct udp {
    const struct bench_opts *o;
    struct uc *c;
    unsigned n;
    int fd;
    int stop;
    uint32_t head, tail; /* the list of requests in flight, oldest first */
    uint64_t errors, resent, refused, late, wakeups, recvcalls, sendcalls;
    uint64_t refused_seen; /* refusals when the doctor's requests were last resent */
    size_t reqlen;
    char *req; /* each slot's request (the line; with --memcached-udp after its frame header) */
    struct udp_io *io;
    struct load load;
};

/*
 * Make the request datagram: the line as it is, or (memcached) an 8-byte
 * frame header (request id, sequence 0, 1 datagram, reserved 0) and the
 * line with CRLF. Returns its length, or 0 when it does not fit.
 */
static size_t
udp_make(char *buf, size_t size, const char *line, int mc)
{
    size_t len = strlen(line), hdr = mc ? UDP_MCHDR : 0, crlf = mc ? 2 : 0;

    if (hdr + len + crlf > size)
        return 0;
    memset(buf, 0, hdr);
    if (mc)
        buf[5] = 1; /* total datagrams: 1 (big-endian 16 bits at offset 4) */
    memcpy(buf + hdr, line, len);
    memcpy(buf + hdr + len, "\r\n", crlf);
    return hdr + len + crlf;
}

/* Take slot i out of the list of requests in flight. */
static void
udp_unlink(struct udp *u, uint32_t i)
{
    struct uc *c = &u->c[i];

    if (c->prev != UDP_NIL)
        u->c[c->prev].next = c->next;
    else
        u->head = c->next;
    if (c->next != UDP_NIL)
        u->c[c->next].prev = c->prev;
    else
        u->tail = c->prev;
    c->prev = c->next = UDP_NIL;
}

/* Queue the request of slot i for the next sendmmsg, at the end of the list in flight. */
static void
udp_queue(struct udp *u, uint32_t i, int fresh)
{
    struct uc *c = &u->c[i];

    if (c->queued)
        return;
    if (c->prev != UDP_NIL || u->head == i)
        udp_unlink(u, i);
    c->prev = u->tail;
    c->next = UDP_NIL;
    if (u->tail != UDP_NIL)
        u->c[u->tail].next = i;
    else
        u->head = i;
    u->tail = i;
    c->queued = 1;
    c->fresh = fresh;
    u->io->outof[u->io->nout++] = i;
}

/*
 * Send every queued request with as few sendmmsg as it takes, and start
 * their clocks. A request the socket refuses (nobody listens yet, or a full
 * send buffer) stays in flight: the resend timer tries it again.
 */
static void
udp_flush(struct udp *u)
{
    struct udp_io *io = u->io;
    uint64_t now = bench_now();
    unsigned k;
    int r;

    for (k = 0; k < io->nout; k++) {
        struct uc *c = &u->c[io->outof[k]];

        c->queued = 0;
        c->t_sent = now;
        if (c->fresh)
            c->t_req = now;
        io->outiov[k].iov_base = u->req + (u->o->mc_udp ? io->outof[k] * u->reqlen : 0);
        io->outiov[k].iov_len = u->reqlen;
        io->out[k].msg_hdr.msg_iov = &io->outiov[k];
        io->out[k].msg_hdr.msg_iovlen = 1;
    }
    for (k = 0; k < io->nout;) {
        u->sendcalls++;
        if ((r = sendmmsg(u->fd, io->out + k, io->nout - k, 0)) == -1) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNREFUSED)
                u->refused++;
            else if (errno != EAGAIN)
                report_problem("sendmmsg: %s", strerror(errno));
            k++; /* that one waits for its resend */
            continue;
        }
        k += (unsigned)r;
    }
    io->nout = 0;
}

/* Queue the next request on slot i if the load allows one. */
static void
udp_request(struct udp *u, uint32_t i)
{
    struct uc *c = &u->c[i];
    int measured;

    if (!load_issue(&u->load, &measured))
        return;
    c->busy = 1;
    c->measured = measured;
    udp_queue(u, i, 1);
}

/* Act on what the load phases say. */
static void
udp_action(struct udp *u, enum load_action act)
{
    uint32_t i;

    if (act == LOAD_STOP)
        u->stop = 1;
    else if (act == LOAD_KICK)
        for (i = 0; i < u->n; i++)
            if (!u->c[i].busy)
                udp_request(u, i);
}

/*
 * The slot an answer belongs to, or UDP_NIL for a late copy of one already
 * answered. memcached's frame header names it (its request id, checked with
 * sequence 0 of 1 datagram; a bad header sets *text to NULL and gives the oldest);
 * the doctor's answer does not, and the doctor answers in the order it reads
 * (one socket, loopback keeps order): it is the oldest request in flight.
 */
static uint32_t
udp_match(struct udp *u, const char *buf, ssize_t n, const char **text)
{
    uint32_t id;

    *text = buf;
    if (!u->o->mc_udp)
        return u->head;
    id = (uint32_t)((unsigned char)buf[0] << 8 | (unsigned char)buf[1]);
    if (n < UDP_MCHDR || buf[2] != 0 || buf[3] != 0 || buf[4] != 0 || buf[5] != 1 || id >= u->n) {
        *text = NULL;
        return u->head;
    }
    *text = buf + UDP_MCHDR;
    return u->c[id].busy ? id : UDP_NIL;
}

/* Check one answer of n bytes read at now, and refill its slot. */
static void
udp_answer(struct udp *u, char *buf, ssize_t n, uint64_t now)
{
    const char *text;
    uint32_t i;
    struct uc *c;
    int ok;

    buf[n] = '\0';
    i = udp_match(u, buf, n, &text);
    if (text == NULL) { /* a bad frame header: an error, of the oldest request if any */
        u->errors++;
        report_problem("answer without the frame header of a request in flight");
        if (i == UDP_NIL)
            return;
        ok = 0;
    } else if (i == UDP_NIL) {
        u->late++; /* a late answer to a request already answered (after a resend) */
        return;
    } else {
        ok = text[0] != '\0' && strncmp(text, "error", 5) != 0 &&
             (u->o->expect == NULL || strncmp(text, u->o->expect, strlen(u->o->expect)) == 0);
        if (!ok) {
            u->errors++;
            report_problem("answer \"%.60s\"", text);
        }
    }
    c = &u->c[i];
    c->busy = 0;
    udp_unlink(u, i);
    udp_action(u, load_answered(&u->load, c->measured, now - c->t_req, ok));
    if (!u->stop && !c->busy) /* a new phase may have given c a request already */
        udp_request(u, i);
}

/*
 * Read every answer that waits: recvmmsg until one reads less than a full
 * batch (so that a wake-up costs no recvmmsg that finds nothing when fewer
 * than UDP_BATCH answers wait), checking each and queueing its refill.
 */
static void
udp_read(struct udp *u)
{
    struct udp_io *io = u->io;
    uint64_t now;
    int r, k;

    while (!u->stop) {
        for (k = 0; k < UDP_BATCH; k++)
            io->in[k].msg_hdr.msg_flags = 0;
        u->recvcalls++;
        if ((r = recvmmsg(u->fd, io->in, UDP_BATCH, MSG_DONTWAIT, NULL)) == -1) {
            if (errno == ECONNREFUSED) {
                u->refused++; /* nobody listens yet: the resend timer tries again */
                continue;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                report_problem("recvmmsg: %s", strerror(errno));
            return;
        }
        now = bench_now();
        for (k = 0; k < r && !u->stop; k++)
            udp_answer(u, io->inbuf[k], (ssize_t)io->in[k].msg_len, now);
        if (r < UDP_BATCH)
            return;
    }
}

/*
 * Resend what has waited too long (the oldest first); check the phases and
 * the deadline. The doctor's answers are matched in order, so a request it
 * may still answer is not resent (its copy's answer would shift every later
 * match): only after a refusal (nobody listened, what was sent is gone).
 * Loopback loses nothing else; a silent loss ends at the deadline.
 */
static void
udp_tick(struct udp *u)
{
    uint64_t now = bench_now(), resent = u->resent;
    uint32_t i, next;

    for (i = u->head; i != UDP_NIL && (u->o->mc_udp || u->refused != u->refused_seen); i = next) {
        struct uc *c = &u->c[i];

        next = c->next;
        if (c->queued)
            continue; /* not sent yet */
        if (now - c->t_sent < UDP_RESEND_NS)
            break; /* the list is in the order of sending: the rest are younger */
        u->resent++;
        udp_queue(u, i, 0);
    }
    if (u->resent != resent)
        u->refused_seen = u->refused;
    udp_action(u, load_tick(&u->load));
    if (!u->stop && now >= load_deadline(&u->load)) {
        report_problem("%llu requests unanswered at the deadline",
                       (unsigned long long)u->load.outstanding);
        u->errors += u->load.outstanding;
        u->stop = 1;
    }
}

/* Allocate the buffers of the run: the slots, each slot's request, the batches. */
static int
udp_alloc(struct udp *u)
{
    struct udp_io *io;
    unsigned i, nreq = u->o->mc_udp ? u->n : 1;

    if ((u->c = calloc(u->n, sizeof *u->c)) == NULL || (u->io = calloc(1, sizeof *u->io)) == NULL ||
        (u->req = malloc(nreq * u->reqlen + 1)) == NULL)
        return -1;
    io = u->io;
    if ((io->out = calloc(u->n, sizeof *io->out)) == NULL ||
        (io->outiov = calloc(u->n, sizeof *io->outiov)) == NULL ||
        (io->outof = calloc(u->n, sizeof *io->outof)) == NULL)
        return -1;
    for (i = 0; i < UDP_BATCH; i++) {
        io->iniov[i].iov_base = io->inbuf[i];
        io->iniov[i].iov_len = UDP_MAXREQ;
        io->in[i].msg_hdr.msg_iov = &io->iniov[i];
        io->in[i].msg_hdr.msg_iovlen = 1;
    }
    for (i = 0; i < u->n; i++) {
        u->c[i].prev = u->c[i].next = UDP_NIL;
        if (i < nreq) {
            udp_make(u->req + i * u->reqlen, u->reqlen + 1, u->o->line, u->o->mc_udp);
            if (u->o->mc_udp) { /* the slot's request id; the reply carries it back */
                u->req[i * u->reqlen] = (char)(i >> 8);
                u->req[i * u->reqlen + 1] = (char)(i & 0xff);
            }
        }
    }
    return 0;
}

/* Free what udp_alloc allocated. */
static void
udp_free(struct udp *u)
{
    if (u->io != NULL) {
        free(u->io->out);
        free(u->io->outiov);
        free(u->io->outof);
    }
    free(u->io);
    free(u->req);
    free(u->c);
}

/* Run the udp mode. */
int
udp_run(const struct bench_opts *o)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct udp u;
    char err[256], tmp[UDP_MAXREQ];
    int rc = 1;

    memset(&u, 0, sizeof u);
    u.o = o;
    u.n = o->conns;
    u.fd = -1;
    u.head = u.tail = UDP_NIL;
    if ((u.reqlen = udp_make(tmp, sizeof tmp, o->line, o->mc_udp)) == 0 && o->mc_udp) {
        fprintf(stderr, "hcs-bench: --line is too long for one datagram\n");
        return 1;
    }
    if (o->mc_udp && u.n > 65536) {
        fprintf(stderr, "hcs-bench: --memcached-udp takes at most 65536 --conns (request ids)\n");
        return 1;
    }
    if (addr_resolve(o->host, o->port, o->allow_remote, &ss, &sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    if (udp_alloc(&u) == -1 || load_init(&u.load, o) == -1)
        goto out;
    if ((u.fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
        connect(u.fd, (struct sockaddr *)&ss, sslen) == -1) {
        fprintf(stderr, "hcs-bench: udp socket: %s\n", strerror(errno));
        goto out;
    }
    udp_action(&u, load_start(&u.load));
    udp_flush(&u);
    while (!u.stop) {
        struct pollfd pfd = {.fd = u.fd, .events = POLLIN};

        u.wakeups++;
        if (poll(&pfd, 1, UDP_TICK_MS) > 0)
            udp_read(&u);
        if (!u.stop)
            udp_tick(&u);
        if (!u.stop)
            udp_flush(&u);
    }
    report_kv("conns", "%u", u.n);
    load_report(&u.load, u.errors, "req");
    report_kv("resent", "%llu", (unsigned long long)u.resent);
    report_kv("refused", "%llu", (unsigned long long)u.refused);
    report_kv("late", "%llu", (unsigned long long)u.late);
    report_kv("client_wakeups", "%llu", (unsigned long long)u.wakeups);
    report_kv("client_recvmmsg", "%llu", (unsigned long long)u.recvcalls);
    report_kv("client_sendmmsg", "%llu", (unsigned long long)u.sendcalls);
    report_flush();
    rc = u.errors > 0 ? 2 : 0;
out:
    if (rc == 1)
        fprintf(stderr, "hcs-bench: udp set-up failed\n");
    if (u.fd != -1)
        close(u.fd);
    window_close(&u.load.win);
    udp_free(&u);
    return rc;
}

/* One probe of the amplify mode: bytes (or a byte repeated) and a name for the report. */
struct udp_probe {
    const char *name;
    const char *data; /* NULL: size bytes of fill */
    size_t size;
    char fill;
};

/* The worst requests: empty, one byte, unknown and bad plans, long garbage. */
static const struct udp_probe udp_probes[] = {
    {"empty", "", 0, 0},
    {"one-byte", "x", 1, 0},
    {"newline", "\n", 1, 0},
    {"unknown-short", "zz", 2, 0},
    {"unknown", "nosuchplan", 10, 0},
    {"bad-bytes", "\x01\x02\x03", 3, 0},
    {"garbage-63", NULL, 63, '\xff'},
    {"garbage-512", NULL, 512, '\xff'},
    {"garbage-1400", NULL, 1400, 'q'},
    {"line", NULL, 0, 0}, /* --line, as udp sends it */
};

/*
 * Send one probe on fd and total the bytes of every reply that comes within
 * UDP_AMP_WAIT_MS. Returns the reply bytes, or -1 on a send error.
 */
static long
udp_probe(int fd, const char *req, size_t len, unsigned *replies)
{
    char buf[65536];
    uint64_t end;
    long total = 0;
    ssize_t n;

    *replies = 0;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) /* late replies of the last probe */
        ;
    if (send(fd, req, len, 0) == -1 && errno != ECONNREFUSED)
        return -1;
    end = bench_now() + UDP_AMP_WAIT_MS * 1000000ull;
    for (;;) {
        uint64_t now = bench_now();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000000u) + 1) <= 0)
            break; /* the wait is over */
        if ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) == -1)
            continue; /* ECONNREFUSED (nobody listens), EAGAIN */
        total += n;
        (*replies)++;
    }
    return total;
}

/*
 * The amplify mode: send each probe of udp_probes (with --memcached-udp,
 * after the frame header), wait for what comes back, and report the worst
 * ratio of reply bytes to request bytes (an empty request answered counts
 * its reply bytes as the ratio).
 */
int
udp_amplify_run(const struct bench_opts *o)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char err[256], data[UDP_MAXREQ], req[UDP_MAXREQ];
    double worst = 0;
    const char *worst_name = "none";
    unsigned i, answered = 0;
    int fd;

    if (addr_resolve(o->host, o->port, o->allow_remote, &ss, &sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
        connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
        fprintf(stderr, "hcs-bench: udp socket: %s\n", strerror(errno));
        if (fd != -1)
            close(fd);
        return 1;
    }
    for (i = 0; i < sizeof udp_probes / sizeof udp_probes[0]; i++) {
        const struct udp_probe *p = &udp_probes[i];
        size_t len = p->size, hdr = o->mc_udp ? UDP_MCHDR : 0;
        unsigned replies;
        double ratio;
        long got;

        if (p->data == NULL && p->size == 0) { /* the line, as the udp mode sends it */
            if (o->line == NULL || (len = udp_make(req, sizeof req, o->line, o->mc_udp)) == 0)
                continue;
        } else {
            if (p->data != NULL)
                memcpy(data, p->data, len);
            else
                memset(data, p->fill, len);
            if (hdr + len > sizeof req)
                len = sizeof req - hdr;
            memset(req, 0, hdr);
            if (o->mc_udp)
                req[5] = 1;
            memcpy(req + hdr, data, len);
            len += hdr;
        }
        if ((got = udp_probe(fd, req, len, &replies)) == -1) {
            fprintf(stderr, "hcs-bench: send: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
        ratio = len > 0 ? (double)got / (double)len : (double)got;
        printf("  probe %-14s request %4zu bytes, %u repl%s, %5ld bytes: ratio %.2f\n", p->name,
               len, replies, replies == 1 ? "y" : "ies", got, ratio);
        answered += replies > 0;
        if (ratio > worst) {
            worst = ratio;
            worst_name = p->name;
        }
    }
    close(fd);
    report_kv("probes", "%zu", sizeof udp_probes / sizeof udp_probes[0]);
    report_kv("answered", "%u", answered);
    report_kv("amp_max_ratio", "%.2f", worst);
    report_kv("amp_worst", "%s", worst_name);
    report_flush();
    return 0;
}
