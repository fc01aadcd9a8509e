/* doctor.c: the doctor, a UDP server that answers cost estimates from its price table. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "config.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "opts.h"
#include "out.h"
#include "prices.h"
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define DOCTOR_BUFSIZE 512 /* bytes of one request datagram; longer ones get error too-long */
#define DOCTOR_BATCH 64    /* datagrams read by one recvmmsg, answered by one sendmmsg */
#define DOCTOR_ROUNDS 64   /* batches read per callback at most, before the loop runs again */
#define DOCTOR_SCREEN 8192 /* bytes of screen lines gathered before one write */

/* What became of one datagram of a batch. */
enum doctor_fate {
    DOCTOR_NONE,       /* no sender address: not answered, counted as dropped */
    DOCTOR_UNANSWERED, /* its reply would be longer than it: not sent, counted */
    DOCTOR_QUEUED,     /* its reply waits for the batch's sendmmsg */
    DOCTOR_SENT,       /* its reply went out */
    DOCTOR_FAILED,     /* sendmmsg could not send its reply: counted as dropped */
};

/*
 * One batch: the datagrams one recvmmsg reads and the replies one sendmmsg
 * sends, all made once at start-up (no allocation per request). A reply
 * goes back to its datagram's sender address, in the order they came.
 */
struct doctor_batch {
    struct mmsghdr in[DOCTOR_BATCH];
    struct iovec iniov[DOCTOR_BATCH];
    struct sockaddr_storage from[DOCTOR_BATCH];
    char buf[DOCTOR_BATCH][DOCTOR_BUFSIZE];
    struct prices_answer ans[DOCTOR_BATCH];
    enum doctor_fate fate[DOCTOR_BATCH];
    struct mmsghdr out[DOCTOR_BATCH];
    struct iovec outiov[DOCTOR_BATCH];
    unsigned outof[DOCTOR_BATCH]; /* the datagram each reply answers */
    unsigned nout;
    char screen[DOCTOR_SCREEN]; /* the batch's screen lines, written at once */
    size_t screenlen;
};

/* Everything the running doctor owns, freed in reverse order of creation. */
struct doctor {
    struct doctor_config cfg;
    struct prices prices;
    int fd;
    struct event_base *base;
    struct event *ev_read;
    struct event *ev_int;
    struct event *ev_term;
    struct event *ev_hup;
    struct event *ev_usr1;
    uint64_t served;     /* replies with a price */
    uint64_t errored;    /* replies with an error */
    uint64_t unanswered; /* requests whose reply would have been longer than they are */
    uint64_t dropped;    /* datagrams read but not answered: no address, or a failed send */
    int64_t sendlog;     /* second (monotonic) of the last "cannot send" line, or -1 */
    uint64_t sendheld;   /* failed sends not logged since that line */
    int quiet;           /* -q: no per-request screen lines */
    int verbose;         /* -v: debug lines */
    struct doctor_batch b;
};

/* Print how to run the program, with the defaults. */
static void
doctor_usage(FILE *fp)
{
    fprintf(fp,
            "usage: doctor [--id N | -c FILE] [--config-dir DIR] [--check] [-q] [--trace] [-v]\n"
            "              [--syslog] [-h] [-V]\n");
    opts_usage(fp, "doctor", OPTS_USAGE_ALL);
    fprintf(fp, "  -q, %-18sno per-request screen lines (benchmarks)\n", "--quiet");
    fprintf(fp, "      %-18sprint every datagram received and sent on stdout, one line each\n",
            "--trace");
    fprintf(fp, "      %-18slog through syslog(3) (facility daemon), not stderr\n", "--syslog");
    fprintf(fp,
            "Replies to datagrams of up to %d bytes; a longer one gets \"error too-long\".\n"
            "A reply is never longer than its request: one that would be is not sent\n"
            "(counted as unanswered). SIGUSR1 prints the counts; SIGHUP reads the prices\n"
            "file again; SIGINT or SIGTERM stops the doctor.\n",
            DOCTOR_BUFSIZE);
}

/* Parse the command line into o (and quiet, use_syslog). Returns 0, 1 to exit with 0, -1 to
 * exit with 1. */
static int
doctor_parse_args(int argc, char **argv, struct opts *o, int *quiet, int *use_syslog)
{
    static const struct option longopts[] = {OPTS_LONGOPTS,
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"syslog", no_argument, NULL, OPTS_OWN},
                                             {"trace", no_argument, NULL, OPTS_OWN + 1},
                                             {NULL, 0, NULL, 0}};
    int ch, rc;

    memset(o, 0, sizeof *o);
    while ((ch = getopt_long(argc, argv, OPTS_SHORTOPTS "q", longopts, NULL)) != -1) {
        if (ch == 'q' || ch == OPTS_OWN) {
            *(ch == 'q' ? quiet : use_syslog) = 1;
            continue;
        }
        if (ch == OPTS_OWN + 1) {
            trace_on = 1;
            continue;
        }
        if ((rc = opts_take(o, ch, optarg, "doctor", doctor_usage)) == OPTS_OTHER) {
            opts_try("doctor");
            return -1;
        }
        if (rc != 0)
            return rc;
    }
    return opts_finish(o, argc, argv, doctor_usage);
}

/* Load the config file and the price table named in it. Returns 0 or -1. */
static int
doctor_load(struct doctor *d, const struct opts *o)
{
    char err[4096], *file;
    int rc = -1;

    if ((file = opts_config_path(o, "doctor")) == NULL) {
        log_warnx("out of memory");
        return -1;
    }
    if (config_load_doctor(&d->cfg, file, err, sizeof err) == -1) {
        log_text(LOGP_ERR, err);
        goto out;
    }
    opts_check_id(o, file, d->cfg.id);
    if (prices_load(&d->prices, d->cfg.prices, err, sizeof err) == -1) {
        log_text(LOGP_ERR, err);
        goto out;
    }
    rc = 0;
out:
    free(file);
    return rc;
}

/* --trace: print one datagram received from or sent to sa (a newline in it is escaped). */
static void
doctor_trace(enum trace_dir dir, const struct sockaddr *sa, const char *data, size_t len)
{
    char host[64], peer[TRACE_PEERLEN], line[TRACE_LINEMAX];
    unsigned port;

    net_addr_str(sa, host, sizeof host, &port);
    trace_format(line, sizeof line, dir, trace_peer(peer, sizeof peer, host, port), 3, data, len);
    out_line(OUT_STDOUT, "%s", line);
}

/* Make the batch's fixed parts: each datagram's buffer and address, each reply's header. */
static void
doctor_batch_init(struct doctor_batch *b)
{
    unsigned i;

    memset(b, 0, sizeof *b);
    for (i = 0; i < DOCTOR_BATCH; i++) {
        b->iniov[i].iov_base = b->buf[i];
        b->iniov[i].iov_len = sizeof b->buf[i];
        b->in[i].msg_hdr.msg_iov = &b->iniov[i];
        b->in[i].msg_hdr.msg_iovlen = 1;
        b->in[i].msg_hdr.msg_name = &b->from[i];
        b->out[i].msg_hdr.msg_iov = &b->outiov[i];
        b->out[i].msg_hdr.msg_iovlen = 1;
    }
}

/* Append one screen line to the batch's (written by doctor_screen_flush). */
static void doctor_screen(struct doctor *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write the batch's screen lines, all in one piece. */
static void
doctor_screen_flush(struct doctor *d)
{
    if (d->b.screenlen > 0)
        out_write(OUT_STDOUT, d->b.screen, d->b.screenlen);
    d->b.screenlen = 0;
}

/* Append one screen line to the batch's (written by doctor_screen_flush). */
static void
doctor_screen(struct doctor *d, const char *fmt, ...)
{
    struct doctor_batch *b = &d->b;
    va_list ap;
    int n;

    for (;;) {
        size_t room = sizeof b->screen - b->screenlen;

        va_start(ap, fmt);
        n = vsnprintf(b->screen + b->screenlen, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) { /* it fits, with its newline in place of the NUL */
            b->screenlen += (size_t)n;
            b->screen[b->screenlen++] = '\n';
            if (b->screenlen == sizeof b->screen)
                doctor_screen_flush(d);
            return;
        }
        if (b->screenlen == 0) { /* longer than the whole buffer: alone */
            out_line(OUT_STDOUT, "%.*s", (int)(sizeof b->screen - 1), b->screen);
            return;
        }
        doctor_screen_flush(d);
    }
}

/* The sender of datagram i as text, for the screen and the log. */
static void
doctor_peer(const struct doctor *d, unsigned i, char *host, size_t hostlen, unsigned *port)
{
    net_addr_str((const struct sockaddr *)&d->b.from[i], host, hostlen, port);
}

/* Queue the reply to datagram i for the batch's sendmmsg (the one place a reply is queued). */
static void
doctor_queue(struct doctor *d, unsigned i)
{
    struct doctor_batch *b = &d->b;
    unsigned k = b->nout++;

    b->outiov[k].iov_base = b->ans[i].reply;
    b->outiov[k].iov_len = b->ans[i].len;
    b->out[k].msg_hdr.msg_name = &b->from[i];
    b->out[k].msg_hdr.msg_namelen = b->in[i].msg_hdr.msg_namelen;
    b->outof[k] = i;
    b->fate[i] = DOCTOR_QUEUED;
}

/*
 * Answer datagram i of the batch (the one place a received request is
 * handled). Its reply is queued only when it is no longer than the request
 * (a spoofed sender gets no more bytes than it sent): an empty or short bad
 * request gets none, and is counted as unanswered.
 */
static void
doctor_handle(struct doctor *d, unsigned i)
{
    struct doctor_batch *b = &d->b;
    struct msghdr *m = &b->in[i].msg_hdr;
    size_t len = b->in[i].msg_len;
    int truncated = (m->msg_flags & MSG_TRUNC) != 0;

    if (m->msg_namelen == 0 || m->msg_namelen > sizeof b->from[i] ||
        net_addr_port((const struct sockaddr *)&b->from[i]) == 0) {
        b->fate[i] = DOCTOR_NONE;
        log_debug("datagram without a sender address or port dropped (%" PRIu64 " dropped)",
                  ++d->dropped);
        return;
    }
    if (trace_on)
        doctor_trace(TRACE_IN, (struct sockaddr *)&b->from[i], b->buf[i], len);
    prices_answer(&d->prices, b->buf[i], len, truncated, &b->ans[i]);
    /* A truncated datagram was longer than the buffer, so longer than any reply. */
    if (!truncated && b->ans[i].len > len) {
        b->fate[i] = DOCTOR_UNANSWERED;
        d->unanswered++;
        return;
    }
    doctor_queue(d, i);
}

/*
 * Replies k to k + n - 1 of the batch could not be sent (errno says why):
 * dropped, and said at most once a second with the count held back, so
 * that a flood the doctor cannot answer does not flood its log too.
 */
static void
doctor_send_failed(struct doctor *d, unsigned k, unsigned n)
{
    struct doctor_batch *b = &d->b;
    int err = errno;
    struct timespec ts;
    unsigned j;

    for (j = k; j < k + n; j++)
        b->fate[b->outof[j]] = DOCTOR_FAILED;
    d->dropped += n;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (d->sendlog == (int64_t)ts.tv_sec) {
        d->sendheld += n;
    } else {
        uint64_t all = d->sendheld + n;
        char host[64];
        unsigned port;

        doctor_peer(d, b->outof[k], host, sizeof host, &port);
        errno = err;
        log_warn("cannot send %s to %s port %u (%" PRIu64
                 " repl%s dropped since the last such message)",
                 b->ans[b->outof[k]].reply, host, port, all, all == 1 ? "y" : "ies");
        d->sendlog = (int64_t)ts.tv_sec;
        d->sendheld = 0;
    }
}

/*
 * Send the batch's replies with as few sendmmsg as it takes. A reply that
 * fails is dropped; when the socket's buffer is full (EAGAIN, ENOBUFS) so
 * are the ones after it, without trying each.
 */
static void
doctor_send(struct doctor *d)
{
    struct doctor_batch *b = &d->b;
    unsigned k = 0;
    int n;

    while (k < b->nout) {
        if ((n = sendmmsg(d->fd, b->out + k, b->nout - k, 0)) == -1) {
            unsigned fail = 1;

            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                fail = b->nout - k;
            doctor_send_failed(d, k, fail);
            k += fail;
            continue;
        }
        for (; n > 0; n--, k++) {
            unsigned i = b->outof[k];

            b->fate[i] = DOCTOR_SENT;
            if (trace_on)
                doctor_trace(TRACE_OUT, (struct sockaddr *)&b->from[i], b->ans[i].reply,
                             b->ans[i].len);
        }
    }
}

/* Count what the batch's n datagrams got and gather their screen lines, in order. */
static void
doctor_report(struct doctor *d, unsigned n)
{
    struct doctor_batch *b = &d->b;
    unsigned i;

    for (i = 0; i < n; i++) {
        const struct prices_answer *a = &b->ans[i];
        char host[64];
        unsigned port = 0;

        if (b->fate[i] == DOCTOR_NONE)
            continue;
        if (!d->quiet || d->verbose)
            doctor_peer(d, i, host, sizeof host, &port);
        if (!d->quiet)
            doctor_screen(d,
                          "Phase 3: Doctor %u receives the request from the patient with port "
                          "number %u and the insurance plan %s.",
                          d->cfg.id, port, a->plan);
        if (b->fate[i] == DOCTOR_UNANSWERED) {
            if (d->verbose)
                log_debug("%s from %s port %u not answered: its reply is longer (%" PRIu64
                          " so far)",
                          a->reply, host, port, d->unanswered);
            continue;
        }
        if (b->fate[i] != DOCTOR_SENT)
            continue;
        if (a->status == PRICES_PRICE) {
            if (!d->quiet)
                doctor_screen(d,
                              "Phase 3: Doctor %u has sent estimated price %" PRId64
                              "$ to patient with port number %u.",
                              d->cfg.id, a->cost, port);
            d->served++;
        } else {
            if (!d->quiet)
                doctor_screen(d, "Phase 3: Doctor %u has sent %s to patient with port number %u.",
                              d->cfg.id, a->reply, port);
            d->errored++;
            if (d->verbose)
                log_debug("%s from %s port %u: %" PRIu64 " error%s so far", a->reply, host, port,
                          d->errored, d->errored == 1 ? "" : "s");
        }
    }
    doctor_screen_flush(d);
}

/*
 * Read a batch of datagrams with one recvmmsg, answer them with one
 * sendmmsg, write their screen lines at once; then read again, until none
 * waits: while the replies went out, the patients answered may have asked
 * again, and a read that finds them spares the wait for readiness (at most
 * DOCTOR_ROUNDS batches, so that signals are seen under a flood).
 */
static void
doctor_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct doctor *d = arg;
    struct doctor_batch *b = &d->b;
    int round, n, i;

    (void)what;
    for (round = 0; round < DOCTOR_ROUNDS; round++) {
        for (i = 0; i < DOCTOR_BATCH; i++)
            b->in[i].msg_hdr.msg_namelen = sizeof b->from[i];
        if ((n = recvmmsg(fd, b->in, DOCTOR_BATCH, MSG_DONTWAIT, NULL)) == -1) {
            if (errno == EINTR) {
                round--;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warn("recvmmsg");
                d->dropped++;
            }
            return;
        }
        b->nout = 0;
        for (i = 0; i < n; i++)
            doctor_handle(d, (unsigned)i);
        doctor_send(d);
        doctor_report(d, (unsigned)n);
    }
}

/*
 * Print the counts (on SIGUSR1, and at exit when a datagram went without a
 * reply; otherwise at exit only with -v).
 */
static void
doctor_counts(const struct doctor *d, int always)
{
    char line[256];

    snprintf(line, sizeof line,
             "served %" PRIu64 ", errors %" PRIu64 ", unanswered %" PRIu64
             " (reply longer than the request), dropped %" PRIu64,
             d->served, d->errored, d->unanswered, d->dropped);
    if (always || d->unanswered > 0 || d->dropped > 0)
        log_info("%s", line);
    else
        log_debug("%s", line);
}

/* SIGUSR1: print the counts. */
static void
doctor_usr1_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    doctor_counts(arg, 1);
}

/* SIGINT or SIGTERM: leave the event loop so main can free everything. */
static void
doctor_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct doctor *d = arg;

    (void)what;
    log_info("stopping on signal %d", (int)sig);
    notify_tell("STOPPING=1");
    event_base_loopbreak(d->base);
}

/*
 * SIGHUP: read the prices file again. A bad file leaves the table as it was
 * and says why ("file:line: message" on stderr); a good one replaces it and
 * one line says what changed.
 */
static void
doctor_hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct doctor *d = arg;
    struct prices fresh;
    struct prices_diff diff;
    char err[768], line[128];

    (void)sig;
    (void)what;
    notify_tell("RELOADING=1");
    if (prices_load(&fresh, d->cfg.prices, err, sizeof err) == -1) {
        log_text(LOGP_ERR, err);
        log_warnx("reload failed: the %zu price%s loaded before stay", d->prices.count,
                  d->prices.count == 1 ? "" : "s");
        notify_tell("READY=1");
        return;
    }
    prices_diff(&d->prices, &fresh, &diff);
    prices_free(&d->prices);
    d->prices = fresh;
    prices_diff_line(&diff, line, sizeof line);
    out_line(OUT_STDOUT, "%s", line);
    notify_tell("READY=1");
}

/* Bind the socket, print the start-up line, and set up the events. Returns 0 or -1. */
static int
doctor_start(struct doctor *d)
{
    char err[512], host[64];
    unsigned port;

    if ((d->fd = net_bind(d->cfg.listen, d->cfg.port, SOCK_DGRAM, 0, err, sizeof err)) == -1) {
        log_warnx("%s: %s", d->cfg.path, err);
        return -1;
    }
    if (net_local_addr(d->fd, host, sizeof host, &port) == -1) {
        log_warn("getsockname");
        return -1;
    }
    if ((d->base = event_base_new()) == NULL) {
        log_warnx("cannot create the event loop");
        return -1;
    }
    if ((d->ev_read = event_new(d->base, d->fd, EV_READ | EV_PERSIST, doctor_read_cb, d)) == NULL ||
        (d->ev_int = evsignal_new(d->base, SIGINT, doctor_signal_cb, d)) == NULL ||
        (d->ev_term = evsignal_new(d->base, SIGTERM, doctor_signal_cb, d)) == NULL ||
        (d->ev_hup = evsignal_new(d->base, SIGHUP, doctor_hup_cb, d)) == NULL ||
        (d->ev_usr1 = evsignal_new(d->base, SIGUSR1, doctor_usr1_cb, d)) == NULL ||
        event_add(d->ev_read, NULL) == -1 || event_add(d->ev_int, NULL) == -1 ||
        event_add(d->ev_term, NULL) == -1 || event_add(d->ev_hup, NULL) == -1 ||
        event_add(d->ev_usr1, NULL) == -1) {
        log_warnx("cannot set up events");
        return -1;
    }
    out_line(OUT_STDOUT, "Phase 3: Doctor %u has a static UDP port %u and IP address %s.",
             d->cfg.id, port, host);
    return 0;
}

/* Free what doctor_start and doctor_load made, in reverse order. */
static void
doctor_free(struct doctor *d)
{
    if (d->ev_usr1 != NULL)
        event_free(d->ev_usr1);
    if (d->ev_hup != NULL)
        event_free(d->ev_hup);
    if (d->ev_term != NULL)
        event_free(d->ev_term);
    if (d->ev_int != NULL)
        event_free(d->ev_int);
    if (d->ev_read != NULL)
        event_free(d->ev_read);
    if (d->base != NULL)
        event_base_free(d->base);
    if (d->fd != -1)
        close(d->fd);
    prices_free(&d->prices);
    config_free_doctor(&d->cfg);
}

/* Load, bind, serve until SIGINT or SIGTERM, free. */
int
main(int argc, char **argv)
{
    struct opts o;
    struct doctor *d;
    int rc, status = 1, quiet = 0, use_syslog = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    log_init("doctor", 0);
    if ((rc = doctor_parse_args(argc, argv, &o, &quiet, &use_syslog)) != 0)
        return rc == 1 ? 0 : 1;
    log_init("doctor", o.verbose ? 1 : 0);
    if (use_syslog)
        log_syslog();
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fatal("signal");
    if ((d = calloc(1, sizeof *d)) == NULL)
        fatal("calloc");
    d->fd = -1;
    d->sendlog = -1;
    d->quiet = quiet;
    d->verbose = o.verbose;
    doctor_batch_init(&d->b);
    if (doctor_load(d, &o) == -1)
        goto out;
    if (o.check) {
        printf("%s: ok (%zu price%s in %s)\n", d->cfg.path, d->prices.count,
               d->prices.count == 1 ? "" : "s", d->cfg.prices);
        status = 0;
        goto out;
    }
    if (doctor_start(d) == -1)
        goto out;
    /* From here on screen and log lines are queued: a stalled reader never blocks the
     * loop. The start-up line went out directly, so that a center that prints nothing
     * more (-q) starts no writer thread. */
    if (out_start("doctor") == -1)
        log_warn("cannot start the output writers; lines are written directly");
    notify_tell("READY=1");
    if (event_base_dispatch(d->base) == -1) {
        log_warnx("event loop failed");
        goto out;
    }
    doctor_counts(d, 0);
    status = 0;
out:
    doctor_free(d);
    free(d);
    libevent_global_shutdown();
    out_stop();
    return status;
}
