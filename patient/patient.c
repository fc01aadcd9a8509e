/* patient.c: the patient program: command line, sockets and stdin around the client module. */
#include "client.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "opts.h"
#include "profile.h"
#include "trace.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <editline/readline.h>

#define PATIENT_INMAX 256      /* bytes of one typed line kept; the rest is dropped */
#define PATIENT_READMAX 65536  /* bytes read from the center before its lines are taken */
#define PATIENT_UDPMAX 512     /* bytes of the doctor's answer */
#define PATIENT_DOCADDRS 4     /* addresses of the doctor's host tried in turn */
#define PATIENT_TLS_CHAINMAX 8 /* intermediate certificates kept with a TLS session */

/* The command line, with its defaults. */
struct patient_opts {
    struct opts common;    /* --id, --config, --config-dir, --check, -v */
    uint32_t slot;         /* --slot K; 0: ask */
    enum client_mode mode; /* --show, --cancel, or book */
};

/* Everything the running patient owns, freed in reverse order of creation. */
struct patient {
    struct patient_config cfg;
    struct profile prof;
    struct client client;
    struct event_base *base;
    struct bufferevent *bev; /* TCP (or TLS over it) to the center, until booked */
    SSL_CTX *ssl_ctx;        /* tls = yes: the client context that verifies the center */
    char *session_path;      /* tls = yes: the file keeping the session ticket, or NULL */
    STACK_OF(X509) * chain;  /* the intermediate certificates kept with the session, or NULL */
    int handshaking;         /* the TLS handshake runs: nothing may be sent yet */
    struct event *ev_timer;  /* deadline for the center's answer */
    struct event *ev_stdin;  /* the person's input, only while at the prompt */
    struct event *ev_udp;    /* the doctor's answer */
    struct event *ev_retry;  /* resend to the doctor */
    int udp_fd;
    int center_family;                                 /* address family that reached the center */
    struct sockaddr_storage docaddr[PATIENT_DOCADDRS]; /* the doctor host's addresses, in turn */
    socklen_t docaddrlen[PATIENT_DOCADDRS];
    unsigned ndocaddr; /* addresses in docaddr */
    unsigned docnext;  /* the next one to try */
    int docmove;       /* the doctor's address refused: ev_retry moves on to the next */
    int stdin_added;   /* ev_stdin is added */
    int stdin_eof;     /* read() gave 0 or failed */
    int stdin_skip;    /* dropping the rest of an over-long typed line */
    int editor;        /* stdin and stdout are terminals: libedit reads the person's lines */
    int editing;       /* the editor's prompt and typed text are on the screen */
    int cleared;       /* ... but were erased to print above them: redraw them */
    char *edline;      /* a line the editor finished, not yet given to the client */
    size_t inlen;
    char in[PATIENT_INMAX]; /* typed bytes not yet given to the client */
    char dochost[64];       /* the doctor's address, as text */
};

static void patient_sync(struct patient *pt, int rearm);
static int patient_doctor_open(struct patient *pt);
static void patient_doctor_refused(struct patient *pt);
static void patient_center_close(struct patient *pt);
static void patient_trace(struct patient *pt, enum trace_dir dir, int udp, const char *data,
                          size_t len);

/* The patient whose line editor is installed: libedit's callbacks take no argument. */
static struct patient *patient_editing;

/* Print how to run the program, with the defaults. */
static void
patient_usage(FILE *fp)
{
    fprintf(fp,
            "usage: patient [--id N | -c FILE] [--config-dir DIR] [--slot K | --show | --cancel]\n"
            "               [--trace] [--check] [-v] [-h] [-V]\n");
    opts_usage(fp, "patient", OPTS_USAGE_ALL);
    fprintf(fp, "      %-18s%s\n", "--slot K", "choose slot K without asking");
    fprintf(fp, "      %-18s%s\n", "--show", "show the appointment held, then exit");
    fprintf(fp, "      %-18s%s\n", "--cancel", "cancel the appointment held, then exit");
    fprintf(fp, "      %-18s%s\n", "--trace",
            "print every message sent and received among the screen lines");
    fprintf(fp,
            "At the prompt, Enter alone shows the list of free slots again; a change of the\n"
            "schedule shows the whole list again only when it holds at most %d slots.\n"
            "Exit status: 0 booked and priced (or --show/--cancel answered), 1 usage or\n"
            "config error, 2 authentication failed, 3 no appointment made, 4 the doctor\n"
            "gave no price, 5 the center could not be reached or broke the protocol\n"
            "(with tls = yes: also when its certificate or name did not verify).\n"
            "Config defaults: timeout_ms = 2000, udp_retries = 3.\n",
            CLIENT_SHORTLIST);
}

/* Parse the command line into o. Returns 0, 1 to exit with 0, -1 to exit with 1. */
static int
patient_parse_args(int argc, char **argv, struct patient_opts *o)
{
    enum { OPT_SLOT = OPTS_OWN, OPT_SHOW, OPT_CANCEL, OPT_TRACE };
    static const struct option longopts[] = {
        OPTS_LONGOPTS,
        {"slot", required_argument, NULL, OPT_SLOT},
        {"show", no_argument, NULL, OPT_SHOW},
        {"cancel", no_argument, NULL, OPT_CANCEL},
        {"trace", no_argument, NULL, OPT_TRACE},
        {NULL, 0, NULL, 0},
    };
    int ch, rc, show = 0, cancel = 0;
    uint64_t v;

    memset(o, 0, sizeof *o);
    while ((ch = getopt_long(argc, argv, OPTS_SHORTOPTS, longopts, NULL)) != -1) {
        if ((rc = opts_take(&o->common, ch, optarg, "patient", patient_usage)) != OPTS_OTHER) {
            if (rc != 0)
                return rc;
            continue;
        }
        switch (ch) {
        case OPT_SLOT:
            if (util_parse_uint_str(optarg, 1, PROTO_MAXINDEX, &v) == -1) {
                log_warnx("--slot must be a whole number from 1 to %u", PROTO_MAXINDEX);
                opts_try("patient");
                return -1;
            }
            o->slot = (uint32_t)v;
            break;
        case OPT_SHOW:
            show = 1;
            break;
        case OPT_CANCEL:
            cancel = 1;
            break;
        case OPT_TRACE:
            trace_on = 1;
            break;
        default:
            opts_try("patient");
            return -1;
        }
    }
    if (opts_finish(&o->common, argc, argv, patient_usage) == -1)
        return -1;
    if (show + cancel + (o->slot != 0) > 1) {
        log_warnx("--show, --cancel and --slot exclude each other");
        opts_try("patient");
        return -1;
    }
    o->mode = show ? CLIENT_SHOW : cancel ? CLIENT_CANCEL : CLIENT_BOOK;
    return 0;
}

/* Load the config file and the two data files named in it. Returns 0 or -1. */
static int
patient_load(struct patient *pt, const struct patient_opts *o)
{
    char err[768], *file;
    int rc = -1;

    if ((file = opts_config_path(&o->common, "patient")) == NULL) {
        log_warnx("out of memory");
        return -1;
    }
    if (config_load_patient(&pt->cfg, file, err, sizeof err) == -1) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    opts_check_id(&o->common, file, pt->cfg.id);
    if (profile_load_credentials(&pt->prof, pt->cfg.credentials, err, sizeof err) == -1 ||
        profile_load_insurance(&pt->prof, pt->cfg.insurance, err, sizeof err) == -1) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    rc = 0;
out:
    free(file);
    return rc;
}

/* Take the line the editor finished (or the end of input) to the client. Returns 1 if it did. */
static int
patient_editor_take(struct patient *pt)
{
    char *line = pt->edline;

    if (line != NULL) {
        pt->edline = NULL;
        client_input_line(&pt->client, line, strlen(line));
        free(line);
        return 1;
    }
    if (!pt->stdin_eof)
        return 0;
    client_input_eof(&pt->client);
    return 1;
}

/* Take one line (or the end) of typed input to the client. Returns 1 if it took something. */
static int
patient_input_take(struct patient *pt)
{
    struct client *c = &pt->client;
    char *nl = memchr(pt->in, '\n', pt->inlen);
    size_t len;

    if (pt->editor)
        return patient_editor_take(pt);
    if (nl != NULL) {
        len = (size_t)(nl - pt->in);
        if (pt->stdin_skip)
            pt->stdin_skip = 0;
        else
            client_input_line(c, pt->in, len);
        pt->inlen -= len + 1;
        memmove(pt->in, nl + 1, pt->inlen);
        return 1;
    }
    if (pt->inlen == sizeof pt->in) {
        /* An over-long line: show its start, drop the rest up to its newline. */
        if (!pt->stdin_skip)
            client_input_line(c, pt->in, pt->inlen);
        pt->stdin_skip = 1;
        pt->inlen = 0;
        return 1;
    }
    if (!pt->stdin_eof)
        return 0;
    if (pt->inlen > 0) { /* a last line without a newline */
        if (!pt->stdin_skip)
            client_input_line(c, pt->in, pt->inlen);
        pt->inlen = 0;
        return 1;
    }
    client_input_eof(c);
    return 1;
}

/* libedit reads the terminal through this: one byte, or -1 at the end of input. */
static int
patient_editor_getc(FILE *fp)
{
    unsigned char ch;
    ssize_t n;

    (void)fp;
    do
        n = read(STDIN_FILENO, &ch, 1);
    while (n == -1 && errno == EINTR);
    if (n == 1)
        return ch;
    if (n == -1)
        log_warn("reading the standard input");
    if (patient_editing != NULL)
        patient_editing->stdin_eof = 1;
    return -1;
}

/* Take the editor off the terminal, which goes back to its normal mode. */
static void
patient_editor_remove(struct patient *pt)
{
    rl_callback_handler_remove();
    pt->editing = 0;
    pt->cleared = 0;
}

/* libedit finished a line (NULL: the person typed the end of input on an empty line). */
static void
patient_editor_line(char *line)
{
    struct patient *pt = patient_editing;

    patient_editor_remove(pt);
    if (line == NULL) {
        pt->stdin_eof = 1;
        fputs("\n", stdout); /* the end of input left the cursor after the prompt */
        return;
    }
    free(pt->edline);
    pt->edline = line;
}

/*
 * Erase the editor's prompt and typed text from the screen so that a message
 * can be printed in their place; patient_editor_set draws them again below.
 * They may wrap over several rows: the cursor is on the row of the point,
 * so go up to the first one, then erase to the end of the screen.
 */
static void
patient_editor_clear(struct patient *pt)
{
    int cols = 0;
    size_t at = strlen(CLIENT_PROMPT_TEXT) + (rl_point > 0 ? (size_t)rl_point : 0);

    rl_get_screen_size(NULL, &cols);
    fputs("\r", stdout);
    if (cols > 0 && at / (size_t)cols > 0)
        fprintf(stdout, "\033[%zuA", at / (size_t)cols);
    fputs("\033[J", stdout);
    pt->cleared = 1;
}

/* Show the editor's prompt (on), redraw it after a message, or take it away (off). */
static void
patient_editor_set(struct patient *pt, int on)
{
    if (!pt->editor)
        return;
    if (on && !pt->editing) {
        patient_editing = pt;
        rl_callback_handler_install(CLIENT_PROMPT_TEXT, patient_editor_line);
        pt->editing = 1;
    } else if (on && pt->cleared) {
        rl_forced_update_display();
        pt->cleared = 0;
    } else if (!on && pt->editing) {
        if (!pt->cleared)
            patient_editor_clear(pt); /* what comes next replaces the prompt */
        patient_editor_remove(pt);
    }
    fflush(stdout);
}

/* The terminal has a key for the editor at the prompt. */
static void
patient_editor_read(struct patient *pt)
{
    rl_callback_read_char();
    if (pt->stdin_eof && pt->editing) { /* the terminal went away */
        patient_editor_remove(pt);
        fputs("\n", stdout);
    }
    patient_sync(pt, 0);
}

/* stdin is readable at the prompt: read what is there and give the client its lines. */
static void
patient_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
    struct patient *pt = arg;
    ssize_t n;

    (void)what;
    if (pt->editor) {
        patient_editor_read(pt);
        return;
    }
    n = read(fd, pt->in + pt->inlen, sizeof pt->in - pt->inlen);
    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n == -1)
        log_warn("reading the standard input");
    if (n <= 0)
        pt->stdin_eof = 1;
    else
        pt->inlen += (size_t)n;
    patient_sync(pt, 0);
}

/* Lines from the center: take each one, bounded, to the client. */
static void
patient_read_cb(struct bufferevent *bev, void *arg)
{
    struct patient *pt = arg;
    struct evbuffer *input = bufferevent_get_input(bev);
    char what[64];
    int got = 0;

    while (client_waits_center(&pt->client) || client_waits_input(&pt->client)) {
        size_t n;
        char *line = evbuffer_readln(input, &n, EVBUFFER_EOL_LF);

        if (line == NULL) {
            if (evbuffer_get_length(input) > CLIENT_MAXLINE) {
                snprintf(what, sizeof what, "a line longer than %d bytes", CLIENT_MAXLINE);
                client_center_garbage(&pt->client, what);
            }
            break;
        }
        got = 1;
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n > CLIENT_MAXLINE) {
            snprintf(what, sizeof what, "a line longer than %d bytes", CLIENT_MAXLINE);
            client_center_garbage(&pt->client, what);
        } else if (strlen(line) != n) {
            client_center_garbage(&pt->client, "a line holding a NUL byte");
        } else {
            if (trace_on)
                patient_trace(pt, TRACE_IN, 0, line, n);
            client_center_line(&pt->client, line, n);
        }
        free(line);
    }
    patient_sync(pt, got);
}

/* Why the connection failed: OpenSSL's first error if it has one, else the socket's. */
static const char *
patient_center_error(struct patient *pt, int err, char *buf, size_t len)
{
    unsigned long e, first = 0;

    if (pt->ssl_ctx != NULL)
        while ((e = bufferevent_get_openssl_error(pt->bev)) != 0)
            if (first == 0)
                first = e;
    if (first != 0) {
        if (ERR_reason_error_string(first) != NULL)
            snprintf(buf, len, "%s", ERR_reason_error_string(first));
        else
            ERR_error_string_n(first, buf, len);
        return buf;
    }
    return err != 0 ? evutil_socket_error_to_string(err) : "the connection failed";
}

/* Print the connection's addresses and let the client send its first request. */
static void
patient_connected(struct patient *pt)
{
    char host[64];
    unsigned port;

    if (net_local_addr(bufferevent_getfd(pt->bev), host, sizeof host, &port) == -1) {
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "cannot read the connection's address: %s",
                    strerror(errno));
        return;
    }
    client_connected(&pt->client, host, port);
}

/*
 * The TLS handshake ended (what holds BEV_EVENT_CONNECTED) or failed. Only a
 * handshake whose certificate chain and name verified lets the client send
 * authenticate; a certificate that did not verify ends the patient with
 * PATIENT_EXIT_TLS, any other failure with PATIENT_EXIT_CENTER.
 */
static void
patient_tls_done(struct patient *pt, short what, int err)
{
    SSL *ssl = bufferevent_openssl_get_ssl(pt->bev);
    long vr = SSL_get_verify_result(ssl);
    char why[256];

    pt->handshaking = 0;
    if ((what & BEV_EVENT_CONNECTED) && vr == X509_V_OK && SSL_get0_peer_certificate(ssl) != NULL) {
        log_debug("%s TLS session: %s, %s", SSL_session_reused(ssl) ? "resumed" : "new",
                  SSL_get_version(ssl), SSL_get_cipher_name(ssl));
        patient_connected(pt);
        return;
    }
    patient_center_error(pt, err, why, sizeof why); /* empties libevent's error queue */
    if (vr != X509_V_OK)
        client_fail(&pt->client, PATIENT_EXIT_TLS,
                    "the center's certificate did not verify for %s: %s", pt->cfg.tls_name,
                    X509_verify_cert_error_string(vr));
    else if (what & BEV_EVENT_CONNECTED)
        client_fail(&pt->client, PATIENT_EXIT_TLS, "the center showed no certificate");
    else if (what & BEV_EVENT_EOF)
        client_fail(&pt->client, PATIENT_EXIT_CENTER,
                    "the center closed the connection during the TLS handshake");
    else
        client_fail(&pt->client, PATIENT_EXIT_CENTER,
                    "the TLS handshake with the center failed: %s", why);
}

/* The TLS handshake ended, or the center closed the connection or it failed. */
static void
patient_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct patient *pt = arg;
    int err = EVUTIL_SOCKET_ERROR();
    char why[256];

    (void)bev;
    if (pt->handshaking) {
        patient_tls_done(pt, what, err);
        patient_sync(pt, 1);
        return;
    }
    if (what & BEV_EVENT_EOF)
        client_center_closed(&pt->client, NULL);
    else if (what & BEV_EVENT_ERROR)
        client_center_closed(&pt->client, patient_center_error(pt, err, why, sizeof why));
    patient_sync(pt, 0);
}

/* The center's answer did not come in time. */
static void
patient_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct patient *pt = arg;

    (void)fd;
    (void)what;
    if (pt->handshaking)
        client_fail(&pt->client, PATIENT_EXIT_CENTER,
                    "the TLS handshake with the center did not finish within %u ms",
                    pt->cfg.timeout_ms);
    else
        client_center_timeout(&pt->client, pt->cfg.timeout_ms);
    patient_sync(pt, 0);
}

/* Send the insurance plan to the doctor and start the wait for its answer. */
static void
patient_doctor_send(struct patient *pt)
{
    struct timeval tv = {pt->cfg.timeout_ms / 1000, (pt->cfg.timeout_ms % 1000) * 1000};
    char req[PROFILE_PLANMAX + PROTO_PRICE_PAD];
    size_t len = strlen(pt->prof.plan);
    ssize_t n;
    int err;

    /* Padded with spaces so that the doctor's every answer fits (see PROTO_PRICE_PAD). */
    memcpy(req, pt->prof.plan, len);
    for (; len < PROTO_PRICE_PAD; len++)
        req[len] = ' ';
    n = send(pt->udp_fd, req, len, 0);
    err = errno;
    if (trace_on && n >= 0)
        patient_trace(pt, TRACE_OUT, 1, req, (size_t)n);
    client_doctor_sent(&pt->client, pt->dochost);
    if (n == -1 && err == ECONNREFUSED) {
        /* An earlier try found no doctor there (ICMP port unreachable). */
        patient_doctor_refused(pt);
        return;
    }
    if (n == -1) {
        errno = err;
        log_warn("sending to the doctor");
    }
    evtimer_add(pt->ev_retry, &tv);
}

/* Datagrams from the doctor. */
static void
patient_udp_cb(evutil_socket_t fd, short what, void *arg)
{
    struct patient *pt = arg;
    char buf[PATIENT_UDPMAX];
    int i;

    (void)what;
    for (i = 0; i < 16 && pt->client.state == CLIENT_DOCTOR; i++) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr msg;
        ssize_t n;

        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if ((n = recvmsg(fd, &msg, 0)) == -1) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNREFUSED) {
                /* ICMP port unreachable: nobody listens there; retries would not help. */
                patient_doctor_refused(pt);
                break;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("reading from the doctor");
            break;
        }
        if (trace_on)
            patient_trace(pt, TRACE_IN, 1, buf, (size_t)n);
        client_doctor_reply(&pt->client, buf, (size_t)n, (msg.msg_flags & MSG_TRUNC) != 0);
    }
    patient_sync(pt, 0);
}

/* No answer from the doctor in time: send again or give up. */
static void
patient_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct patient *pt = arg;

    (void)fd;
    (void)what;
    if (pt->docmove) {
        pt->docmove = 0;
        client_doctor_next(&pt->client);
        patient_doctor_open(pt);
    } else if (client_doctor_timeout(&pt->client)) {
        patient_doctor_send(pt);
    }
    patient_sync(pt, 0);
}

/*
 * Resolve the doctor's host for UDP into pt->docaddr, the family that
 * reached the center first. A name such as localhost may give ::1 and
 * 127.0.0.1 while the doctor listens on one of them only, and UDP cannot
 * try each address the way TCP connect does: an address that is refused
 * (ICMP port unreachable) gives way to the next (patient_doctor_refused).
 */
static int
patient_doctor_resolve(struct patient *pt, char *err, size_t errlen)
{
    struct addrinfo hints, *res, *ai;
    char portstr[16];
    int rc, pass;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(portstr, sizeof portstr, "%u", pt->client.port);
    if ((rc = getaddrinfo(pt->cfg.doctor_host, portstr, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", pt->cfg.doctor_host, gai_strerror(rc));
        return -1;
    }
    pt->ndocaddr = pt->docnext = 0;
    for (pass = 0; pass < 2; pass++)
        for (ai = res; ai != NULL && pt->ndocaddr < PATIENT_DOCADDRS; ai = ai->ai_next)
            if ((ai->ai_family == pt->center_family) == (pass == 0) &&
                ai->ai_addrlen <= sizeof pt->docaddr[0]) {
                memcpy(&pt->docaddr[pt->ndocaddr], ai->ai_addr, ai->ai_addrlen);
                pt->docaddrlen[pt->ndocaddr++] = ai->ai_addrlen;
            }
    freeaddrinfo(res);
    if (pt->ndocaddr == 0) {
        snprintf(err, errlen, "cannot resolve %s: no usable address", pt->cfg.doctor_host);
        return -1;
    }
    return 0;
}

/*
 * A connected UDP socket to the doctor's next address (closing the one
 * before), and the request sent on it. Returns 0 or -1.
 */
static int
patient_doctor_open(struct patient *pt)
{
    struct client *c = &pt->client;
    struct sockaddr_storage *ss = &pt->docaddr[pt->docnext];
    socklen_t sslen = pt->docaddrlen[pt->docnext];
    char host[64];
    unsigned port, docport;

    pt->docnext++;
    if (pt->ev_udp != NULL) {
        event_free(pt->ev_udp);
        pt->ev_udp = NULL;
    }
    if (pt->udp_fd != -1)
        close(pt->udp_fd);
    if ((pt->udp_fd = socket(ss->ss_family, SOCK_DGRAM, 0)) == -1 ||
        fcntl(pt->udp_fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(pt->udp_fd) == -1 ||
        connect(pt->udp_fd, (struct sockaddr *)ss, sslen) == -1 ||
        net_local_addr(pt->udp_fd, host, sizeof host, &port) == -1) {
        client_fail(c, PATIENT_EXIT_NOPRICE, "cannot set up the UDP socket to %s port %u: %s",
                    pt->cfg.doctor_host, c->port, strerror(errno));
        return -1;
    }
    net_addr_str((struct sockaddr *)ss, pt->dochost, sizeof pt->dochost, &docport);
    if ((pt->ev_udp = event_new(pt->base, pt->udp_fd, EV_READ | EV_PERSIST, patient_udp_cb, pt)) ==
            NULL ||
        event_add(pt->ev_udp, NULL) == -1) {
        client_fail(c, PATIENT_EXIT_CONFIG, "cannot set up events");
        return -1;
    }
    client_doctor_ready(c, host, port);
    patient_doctor_send(pt);
    return 0;
}

/*
 * Nobody listens at the doctor's address: try its next one (from the retry
 * timer, not inside the socket's own callback), or give up.
 */
static void
patient_doctor_refused(struct patient *pt)
{
    struct timeval now = {0, 0};

    if (pt->docnext >= pt->ndocaddr) {
        client_doctor_refused(&pt->client);
        return;
    }
    log_debug("the doctor's address %s refused the request; trying the next", pt->dochost);
    pt->docmove = 1;
    evtimer_add(pt->ev_retry, &now);
}

/* Phase 3: a UDP socket to the doctor the center named. Returns 0 or -1. */
static int
patient_doctor_start(struct patient *pt)
{
    struct client *c = &pt->client;
    char err[512];

    if (patient_doctor_resolve(pt, err, sizeof err) == -1) {
        client_fail(c, PATIENT_EXIT_NOPRICE, "%s", err);
        return -1;
    }
    if ((pt->ev_retry = evtimer_new(pt->base, patient_retry_cb, pt)) == NULL) {
        client_fail(c, PATIENT_EXIT_CONFIG, "cannot set up events");
        return -1;
    }
    return patient_doctor_open(pt);
}

/* Turn stdin reading on or off. */
static void
patient_stdin_set(struct patient *pt, int on)
{
    if (on && !pt->stdin_added) {
        if (event_add(pt->ev_stdin, NULL) == -1) {
            client_fail(&pt->client, PATIENT_EXIT_NOBOOKING, "cannot wait for the standard input");
            return;
        }
        pt->stdin_added = 1;
    } else if (!on && pt->stdin_added) {
        event_del(pt->ev_stdin);
        pt->stdin_added = 0;
    }
}

/*
 * After every event: write what the client produced, give it any typed line
 * already read, and set the events and timers its state asks for. rearm
 * restarts the center's deadline (a request was sent or a line came in).
 */
static void
patient_sync(struct patient *pt, int rearm)
{
    struct client *c = &pt->client;
    struct timeval tv = {pt->cfg.timeout_ms / 1000, (pt->cfg.timeout_ms % 1000) * 1000};

    for (;;) {
        if (c->screen.len > 0) {
            if (pt->editing && !pt->cleared)
                patient_editor_clear(pt);
            fwrite(c->screen.data, 1, c->screen.len, stdout);
            c->screen.len = 0;
            fflush(stdout);
        }
        if (c->wire.len > 0 && !pt->handshaking) { /* never before the center is verified */
            if (trace_on)
                patient_trace(pt, TRACE_OUT, 0, c->wire.data, c->wire.len);
            if (pt->bev != NULL && bufferevent_write(pt->bev, c->wire.data, c->wire.len) == -1)
                client_fail(c, PATIENT_EXIT_CENTER, "cannot queue a request to the center");
            memset(c->wire.data, 0, c->wire.len);
            c->wire.len = 0;
            rearm = 1;
        }
        if (c->state == CLIENT_DONE) {
            patient_editor_set(pt, 0);
            patient_stdin_set(pt, 0);
            event_base_loopbreak(pt->base);
            return;
        }
        if (c->state == CLIENT_DOCTOR && pt->bev != NULL) {
            /* Booked: the spec closes TCP here, before phase 3. */
            patient_center_close(pt);
            evtimer_del(pt->ev_timer);
            patient_editor_set(pt, 0);
            patient_stdin_set(pt, 0);
            patient_doctor_start(pt);
            continue;
        }
        if (client_waits_input(c) && pt->client.p.slot == 0 && patient_input_take(pt))
            continue;
        break;
    }
    patient_editor_set(pt, client_waits_input(c) && !pt->stdin_eof);
    patient_stdin_set(pt, client_waits_input(c) && !pt->stdin_eof);
    if (!client_waits_center(c) && !pt->handshaking)
        evtimer_del(pt->ev_timer);
    else if (rearm || !evtimer_pending(pt->ev_timer, NULL))
        evtimer_add(pt->ev_timer, &tv);
}

/* Close the connection to the center, telling a TLS peer first (close_notify). */
static void
patient_center_close(struct patient *pt)
{
    SSL *ssl;

    if (pt->bev == NULL)
        return;
    if (pt->ssl_ctx != NULL && !pt->handshaking &&
        (ssl = bufferevent_openssl_get_ssl(pt->bev)) != NULL) {
        ERR_clear_error();
        SSL_shutdown(ssl); /* one try on the non-blocking socket; nothing to wait for */
        ERR_clear_error();
    }
    bufferevent_free(pt->bev);
    pt->bev = NULL;
}

/*
 * The default file of the session ticket: $XDG_STATE_HOME/hcs/ (an absolute
 * XDG_STATE_HOME only, as the XDG spec says) or ~/.local/state/hcs/, then
 * "session-HOST-PORT" with any byte of the host outside [A-Za-z0-9.:_-]
 * made "_". NULL when neither variable is set (no session is kept).
 */
static char *
patient_tls_default_path(const struct patient_config *cfg)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char path[PATH_MAX], *p;
    int n;

    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(path, sizeof path, "%s/hcs/", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(path, sizeof path, "%s/.local/state/hcs/", home);
    else
        return NULL;
    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    p = path + n;
    n = snprintf(p, sizeof path - (size_t)n, "session-%s-%u", cfg->center_host, cfg->center_port);
    if (n < 0 || (size_t)n >= sizeof path - (size_t)(p - path))
        return NULL;
    for (; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(".:_-", *p) != NULL))
            *p = '_';
    return strdup(path);
}

/* Make the folders above path that do not exist, each 0700. Returns 0 or -1 (errno). */
static int
patient_tls_mkdirs(const char *path)
{
    char *dir, *p;
    int rc = 0;

    if ((dir = strdup(path)) == NULL)
        return -1;
    for (p = strchr(dir + 1, '/'); p != NULL && rc == 0; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) == -1 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    free(dir);
    return rc;
}

/*
 * The certificates the center sent with its own (what a check of the kept
 * session needs to reach tls_ca through an intermediate CA): the chain of
 * this handshake, or for a resumed one the chain kept with its session.
 * Written after the session, at most PATIENT_TLS_CHAINMAX of them.
 */
static int
patient_tls_write_chain(struct patient *pt, SSL *ssl, SSL_SESSION *sess, FILE *fp)
{
    STACK_OF(X509) *chain = SSL_session_reused(ssl) ? pt->chain : SSL_get_peer_cert_chain(ssl);
    X509 *peer = SSL_SESSION_get0_peer(sess);
    int i, n = chain != NULL ? sk_X509_num(chain) : 0, kept = 0;

    for (i = 0; i < n && kept < PATIENT_TLS_CHAINMAX; i++) {
        X509 *x = sk_X509_value(chain, i);

        if (peer != NULL && X509_cmp(x, peer) == 0)
            continue; /* the center's own: in the session already */
        if (PEM_write_X509(fp, x) != 1)
            return -1;
        kept++;
    }
    return 0;
}

/* Write sess, then the chain, to the session file: a 0600 temporary file renamed over it. */
static void
patient_tls_save(struct patient *pt, SSL *ssl, SSL_SESSION *sess)
{
    char tmp[PATH_MAX + 8];
    FILE *fp = NULL;
    int fd = -1, made = 0, ok = 0;

    if (pt->cfg.tls_session == NULL && patient_tls_mkdirs(pt->session_path) == -1)
        goto out;
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", pt->session_path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        goto out;
    }
    if ((fd = mkstemp(tmp)) != -1)
        made = 1;
    if (fd == -1 || fchmod(fd, 0600) == -1 || (fp = fdopen(fd, "w")) == NULL)
        goto out;
    fd = -1;
    ok = PEM_write_SSL_SESSION(fp, sess) == 1 && patient_tls_write_chain(pt, ssl, sess, fp) == 0;
    ok = fclose(fp) == 0 && ok;
    fp = NULL;
    ok = ok && rename(tmp, pt->session_path) == 0;
out:
    if (fp != NULL)
        fclose(fp);
    if (fd != -1)
        close(fd);
    if (!ok) {
        log_warn("cannot keep the TLS session in %s", pt->session_path);
        if (made)
            unlink(tmp);
    } else {
        log_debug("kept the TLS session in %s", pt->session_path);
    }
    ERR_clear_error();
}

/* OpenSSL has a new session (a TLS 1.3 ticket, or a TLS 1.2 session): keep it. */
static int
patient_tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct patient *pt = SSL_get_app_data(ssl);

    if (pt != NULL && pt->session_path != NULL)
        patient_tls_save(pt, ssl, sess);
    return 0; /* OpenSSL keeps its reference */
}

/* The certificates after the session in its file (see patient_tls_write_chain) into pt->chain. */
static void
patient_tls_read_chain(struct patient *pt, FILE *fp)
{
    X509 *x;

    sk_X509_pop_free(pt->chain, X509_free);
    if ((pt->chain = sk_X509_new_null()) == NULL)
        return;
    while (sk_X509_num(pt->chain) < PATIENT_TLS_CHAINMAX &&
           (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(pt->chain, x) == 0) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error(); /* the end of the file ends the loop with an error */
}

/*
 * Whether sess may be resumed on ssl. A resumed handshake shows no
 * certificate, so OpenSSL would take the saved one on trust: check it here
 * against today's trust store and name, as a full handshake would (a changed
 * tls_ca or tls_name, or an expired certificate, gives a full handshake).
 */
static int
patient_tls_session_ok(SSL *ssl, SSL_SESSION *sess, STACK_OF(X509) * chain)
{
    X509 *peer = SSL_SESSION_get0_peer(sess);
    X509_STORE_CTX *xs;
    int ok = 0;

    if (peer == NULL || !SSL_SESSION_is_resumable(sess) || (xs = X509_STORE_CTX_new()) == NULL)
        return 0;
    if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), peer, chain) == 1 &&
        X509_STORE_CTX_set_default(xs, "ssl_server") == 1 &&
        X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs), SSL_get0_param(ssl)) == 1)
        ok = X509_verify_cert(xs) == 1;
    if (!ok)
        log_debug("the saved TLS session's certificate does not verify: %s",
                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
    X509_STORE_CTX_free(xs);
    ERR_clear_error();
    return ok;
}

/*
 * Offer the saved session, if the file is a private regular file of this
 * user (another user who could write it could plant a session of their own)
 * and its certificate still verifies, through the intermediate certificates
 * kept after it. Anything wrong means a full handshake. The file is opened
 * without blocking: a FIFO put there must not hang the patient.
 */
static void
patient_tls_load(struct patient *pt, SSL *ssl)
{
    const char *path = pt->session_path;
    SSL_SESSION *sess;
    struct stat st;
    FILE *fp;
    int fd;

    if (path == NULL)
        return;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1) {
        if (errno == ENOENT)
            log_debug("no TLS session kept in %s yet", path);
        else
            log_warn("%s: cannot read the TLS session", path);
        return;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        log_warnx("%s: not a private file of this user (mode 0600): TLS session ignored", path);
        close(fd);
        return;
    }
    if ((fp = fdopen(fd, "r")) == NULL) {
        close(fd);
        return;
    }
    sess = PEM_read_SSL_SESSION(fp, NULL, NULL, NULL);
    if (sess != NULL)
        patient_tls_read_chain(pt, fp);
    fclose(fp);
    if (sess == NULL)
        log_warnx("%s: not a TLS session: ignored", path);
    else if (patient_tls_session_ok(ssl, sess, pt->chain) && SSL_set_session(ssl, sess) == 1)
        log_debug("offering the TLS session kept in %s", path);
    SSL_SESSION_free(sess);
    ERR_clear_error();
}

/* The reason of OpenSSL's last error, for a message. */
static const char *
patient_tls_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());

    return r != NULL ? r : "unknown error";
}

/*
 * tls = yes: the client context. TLS 1.2 at least, the peer verified against
 * tls_ca (or the system's store), sessions handed to patient_tls_new_session.
 * Returns 0, or -1 with err set (a configuration error).
 */
static int
patient_tls_init(struct patient *pt, char *err, size_t errlen)
{
    const struct patient_config *cfg = &pt->cfg;
    SSL_CTX *ctx;

    if ((ctx = pt->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        snprintf(err, errlen, "cannot create a TLS context: %s", patient_tls_reason());
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A center that closes without close_notify ends like a plain TCP close. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cfg->tls_ca != NULL ? SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1
                            : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "%s: tls_ca: cannot load %s: %s", cfg->path,
                 cfg->tls_ca != NULL ? cfg->tls_ca : "the system's trust store",
                 patient_tls_reason());
        return -1;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, patient_tls_new_session);
    pt->session_path =
        cfg->tls_session != NULL ? strdup(cfg->tls_session) : patient_tls_default_path(cfg);
    if (pt->session_path == NULL)
        log_debug("no folder for the TLS session (HOME unset): none kept");
    return 0;
}

/*
 * A TLS bufferevent on fd, in the connecting state: the name to verify
 * (an address is checked against the certificate's IP entries, a name
 * against its DNS entries and sent as SNI) and the saved session.
 */
static struct bufferevent *
patient_tls_bev(struct patient *pt, int fd)
{
    const char *name = pt->cfg.tls_name;
    struct bufferevent *bev;
    unsigned char addr[16];
    SSL *ssl;
    int ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;

    if ((ssl = SSL_new(pt->ssl_ctx)) == NULL)
        return NULL;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1
            : SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1) ||
        SSL_set_app_data(ssl, pt) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    patient_tls_load(pt, ssl);
    if ((bev = bufferevent_openssl_socket_new(pt->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                              BEV_OPT_CLOSE_ON_FREE)) == NULL)
        SSL_free(ssl);
    return bev;
}

/* Write one trace line on stdout (see patient_trace). */
static void
patient_trace_sink(const char *line, size_t len, void *arg)
{
    (void)arg;
    fprintf(stdout, "%.*s\n", (int)len, line);
}

/*
 * --trace: print a message to or from the center (udp 0: its lines) or one
 * datagram to or from the doctor (udp 1) on stdout, after the screen text
 * queued before it and in place of the editor's prompt, which is drawn
 * again below (patient_sync).
 */
static void
patient_trace(struct patient *pt, enum trace_dir dir, int udp, const char *data, size_t len)
{
    struct client *c = &pt->client;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char host[64], peer[TRACE_PEERLEN], line[TRACE_LINEMAX];
    unsigned port = udp ? c->port : pt->cfg.center_port;

    snprintf(host, sizeof host, "%s", udp ? pt->dochost : pt->cfg.center_host);
    if (!udp && pt->bev != NULL &&
        getpeername(bufferevent_getfd(pt->bev), (struct sockaddr *)&ss, &sslen) == 0)
        net_addr_str((struct sockaddr *)&ss, host, sizeof host, &port);
    trace_peer(peer, sizeof peer, host, port);
    if (pt->editing && !pt->cleared)
        patient_editor_clear(pt);
    if (c->screen.len > 0) {
        fwrite(c->screen.data, 1, c->screen.len, stdout);
        c->screen.len = 0;
    }
    if (c->midline && !pt->editing) { /* after the prompt of a piped session */
        fputs("\n", stdout);
        client_line_ended(c);
    }
    if (udp)
        patient_trace_sink(line, trace_format(line, sizeof line, dir, peer, 3, data, len), NULL);
    else
        trace_lines(dir, peer, trace_tcp_phase(data, len, c->state > CLIENT_AUTH), data, len,
                    patient_trace_sink, NULL);
    fflush(stdout);
}

/* Connect to the center and set up the events of phases 1 and 2. Returns 0 or -1. */
static int
patient_start(struct patient *pt, const struct patient_opts *o)
{
    struct sockaddr_storage peer;
    socklen_t peerlen = sizeof peer;
    struct client_params p;
    struct event_config *ecfg;
    char err[768];
    int fd;

    memset(&p, 0, sizeof p);
    p.id = pt->cfg.id;
    p.user = pt->prof.user;
    p.password = pt->prof.password;
    p.plan = pt->prof.plan;
    p.mode = o->mode;
    p.slot = o->slot;
    p.echo = !isatty(STDIN_FILENO);
    p.retries = pt->cfg.udp_retries;
    /* A person at a terminal gets a line editor that keeps the typed text across messages. */
    pt->editor = p.editor =
        o->mode == CLIENT_BOOK && o->slot == 0 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (pt->editor) {
        rl_readline_name = "patient";
        rl_getc_function = patient_editor_getc;
    }
    if (client_init(&pt->client, &p) == -1) {
        log_warnx("out of memory");
        return -1;
    }
    /* epoll refuses regular files and /dev/null, which stdin may well be; poll takes them. */
    if ((ecfg = event_config_new()) == NULL)
        return -1;
    event_config_avoid_method(ecfg, "epoll");
    pt->base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (pt->base == NULL) {
        log_warnx("cannot create the event loop");
        return -1;
    }
    log_debug("event method %s", event_base_get_method(pt->base));
    if ((pt->ev_timer = evtimer_new(pt->base, patient_timer_cb, pt)) == NULL ||
        (pt->ev_stdin = event_new(pt->base, STDIN_FILENO, EV_READ | EV_PERSIST, patient_stdin_cb,
                                  pt)) == NULL) {
        log_warnx("cannot set up events");
        return -1;
    }
    if (pt->cfg.tls && patient_tls_init(pt, err, sizeof err) == -1) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if ((fd = net_connect_tcp(pt->cfg.center_host, pt->cfg.center_port, pt->cfg.timeout_ms, err,
                              sizeof err)) == -1) {
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "%s", err);
        return 0;
    }
    pt->bev = pt->cfg.tls ? patient_tls_bev(pt, fd)
                          : bufferevent_socket_new(pt->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (pt->bev == NULL) {
        close(fd);
        log_warnx("cannot set up events");
        return -1;
    }
    pt->handshaking = pt->cfg.tls;
    bufferevent_setcb(pt->bev, patient_read_cb, NULL, patient_event_cb, pt);
    bufferevent_setwatermark(pt->bev, EV_READ, 0, PATIENT_READMAX);
    if (bufferevent_enable(pt->bev, EV_READ) == -1) {
        log_warnx("cannot set up events");
        return -1;
    }
    if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) == -1) {
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "cannot read the center's address: %s",
                    strerror(errno));
        return 0;
    }
    pt->center_family = peer.ss_family;
    if (!pt->handshaking) /* TLS: once the handshake verified the center (patient_tls_done) */
        patient_connected(pt);
    patient_sync(pt, 1);
    return 0;
}

/* Free what patient_start and patient_load made, in reverse order. */
static void
patient_free(struct patient *pt)
{
    if (pt->editing)
        patient_editor_remove(pt);
    free(pt->edline);
    if (pt->ev_retry != NULL)
        event_free(pt->ev_retry);
    if (pt->ev_udp != NULL)
        event_free(pt->ev_udp);
    if (pt->udp_fd != -1)
        close(pt->udp_fd);
    patient_center_close(pt);
    if (pt->ssl_ctx != NULL)
        SSL_CTX_free(pt->ssl_ctx);
    sk_X509_pop_free(pt->chain, X509_free);
    free(pt->session_path);
    if (pt->ev_stdin != NULL)
        event_free(pt->ev_stdin);
    if (pt->ev_timer != NULL)
        event_free(pt->ev_timer);
    if (pt->base != NULL)
        event_base_free(pt->base);
    client_free(&pt->client);
    profile_clear(&pt->prof);
    config_free_patient(&pt->cfg);
}

/* Open /dev/null on any of fds 0 to 2 that is closed, so no socket can become stdin. */
static void
patient_std_fds(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= STDERR_FILENO)
        continue;
    if (fd > STDERR_FILENO)
        close(fd);
}

/* Load, run the three phases, free, and exit with the session's status. */
int
main(int argc, char **argv)
{
    struct patient_opts o;
    struct patient *pt;
    enum patient_exit status = PATIENT_EXIT_CONFIG;
    int rc;

    patient_std_fds();
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_init("patient", 0);
    if ((rc = patient_parse_args(argc, argv, &o)) != 0)
        return rc == 1 ? PATIENT_EXIT_OK : PATIENT_EXIT_CONFIG;
    log_init("patient", o.common.verbose ? 1 : 0);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fatal("signal");
    if ((pt = calloc(1, sizeof *pt)) == NULL)
        fatal("calloc");
    pt->udp_fd = -1;
    if (patient_load(pt, &o) == -1)
        goto out;
    if (o.common.check) {
        char err[768];

        if (pt->cfg.tls && patient_tls_init(pt, err, sizeof err) == -1) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        printf("%s: ok (patient %u, username %s, insurance %s", pt->cfg.path, pt->cfg.id,
               pt->prof.user, pt->prof.plan);
        if (pt->cfg.tls)
            printf(", TLS name %s, session file %s", pt->cfg.tls_name,
                   pt->session_path != NULL ? pt->session_path : "none");
        printf(")\n");
        status = PATIENT_EXIT_OK;
        goto out;
    }
    if (patient_start(pt, &o) == -1)
        goto out;
    if (pt->client.state != CLIENT_DONE && event_base_dispatch(pt->base) == -1)
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "the event loop failed");
    if (pt->client.state != CLIENT_DONE)
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "the session ended without an answer");
    fflush(stdout);
    if (pt->client.screen.len > 0)
        fwrite(pt->client.screen.data, 1, pt->client.screen.len, stdout);
    fflush(stdout);
    if (pt->client.diag[0] != '\0')
        log_warnx("%s", pt->client.diag);
    status = pt->client.status;
out:
    patient_free(pt);
    free(pt);
    libevent_global_shutdown();
    return status;
}
