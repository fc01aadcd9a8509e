/* doctor.c: the doctor, a UDP server that answers cost estimates from its price table. */
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#define DOCTOR_BUFSIZE 512 /* bytes of one request datagram; longer ones get error too-long */
#define DOCTOR_BURST 64    /* datagrams read per callback before the loop runs again */

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
    uint64_t served;  /* replies with a price */
    uint64_t errored; /* replies with an error */
    uint64_t dropped; /* datagrams read but not answered */
    int quiet;        /* -q: no per-request screen lines */
    char buf[DOCTOR_BUFSIZE];
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
            "SIGHUP reads the prices file again; SIGINT or SIGTERM stops the doctor.\n",
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

/* Queue the screen lines for one answered request and send the reply. */
static void
doctor_reply(struct doctor *d, const struct sockaddr *sa, socklen_t salen,
             const struct prices_answer *a)
{
    char host[64];
    unsigned port;

    net_addr_str(sa, host, sizeof host, &port);
    if (!d->quiet)
        out_line(OUT_STDOUT,
                 "Phase 3: Doctor %u receives the request from the patient with port number %u "
                 "and the insurance plan %s.",
                 d->cfg.id, port, a->plan);
    if (sendto(d->fd, a->reply, a->len, 0, sa, salen) == -1) {
        log_warn("cannot send %s to %s port %u", a->reply, host, port);
        d->dropped++;
        return;
    }
    if (trace_on)
        doctor_trace(TRACE_OUT, sa, a->reply, a->len);
    if (a->status == PRICES_PRICE) {
        if (!d->quiet)
            out_line(OUT_STDOUT,
                     "Phase 3: Doctor %u has sent estimated price %" PRId64
                     "$ to patient with port number %u.",
                     d->cfg.id, a->cost, port);
        d->served++;
    } else {
        if (!d->quiet)
            out_line(OUT_STDOUT, "Phase 3: Doctor %u has sent %s to patient with port number %u.",
                     d->cfg.id, a->reply, port);
        d->errored++;
        log_debug("%s from %s port %u: %" PRIu64 " error%s so far", a->reply, host, port,
                  d->errored, d->errored == 1 ? "" : "s");
    }
}

/* Read pending datagrams (at most DOCTOR_BURST) and answer each one. */
static void
doctor_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct doctor *d = arg;
    int i;

    (void)what;
    for (i = 0; i < DOCTOR_BURST; i++) {
        struct sockaddr_storage ss;
        struct prices_answer a;
        struct iovec iov = {d->buf, sizeof d->buf};
        struct msghdr msg;
        ssize_t n;

        memset(&msg, 0, sizeof msg);
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof ss;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        /* recvmsg sets MSG_TRUNC in msg_flags when the datagram did not fit. */
        if ((n = recvmsg(fd, &msg, 0)) == -1) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warn("recvmsg");
                d->dropped++;
            }
            return;
        }
        if (msg.msg_namelen == 0 || msg.msg_namelen > sizeof ss) {
            log_debug("datagram without a sender address dropped (%" PRIu64 " dropped)",
                      ++d->dropped);
            continue;
        }
        if (trace_on)
            doctor_trace(TRACE_IN, (struct sockaddr *)&ss, d->buf, (size_t)n);
        prices_answer(&d->prices, d->buf, (size_t)n, (msg.msg_flags & MSG_TRUNC) != 0, &a);
        doctor_reply(d, (struct sockaddr *)&ss, msg.msg_namelen, &a);
    }
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
        event_add(d->ev_read, NULL) == -1 || event_add(d->ev_int, NULL) == -1 ||
        event_add(d->ev_term, NULL) == -1 || event_add(d->ev_hup, NULL) == -1) {
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
    d->quiet = quiet;
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
    log_debug("served %" PRIu64 ", errors %" PRIu64 ", dropped %" PRIu64, d->served, d->errored,
              d->dropped);
    status = 0;
out:
    doctor_free(d);
    free(d);
    libevent_global_shutdown();
    out_stop();
    return status;
}
