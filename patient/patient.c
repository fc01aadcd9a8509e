/* patient.c: the patient program: command line, sockets and stdin around the client module. */
#include "client.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "opts.h"
#include "profile.h"
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <editline/readline.h>

#define PATIENT_INMAX 256     /* bytes of one typed line kept; the rest is dropped */
#define PATIENT_READMAX 65536 /* bytes read from the center before its lines are taken */
#define PATIENT_UDPMAX 512    /* bytes of the doctor's answer */

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
    struct bufferevent *bev; /* TCP to the center, until booked */
    struct event *ev_timer;  /* deadline for the center's answer */
    struct event *ev_stdin;  /* the person's input, only while at the prompt */
    struct event *ev_udp;    /* the doctor's answer */
    struct event *ev_retry;  /* resend to the doctor */
    int udp_fd;
    int center_family; /* address family that reached the center */
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
            "gave no price, 5 the center could not be reached or broke the protocol.\n"
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

/* The center closed the connection or it failed. */
static void
patient_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct patient *pt = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)bev;
    if (what & BEV_EVENT_EOF)
        client_center_closed(&pt->client, NULL);
    else if (what & BEV_EVENT_ERROR)
        client_center_closed(&pt->client, evutil_socket_error_to_string(err));
    patient_sync(pt, 0);
}

/* The center's answer did not come in time. */
static void
patient_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct patient *pt = arg;

    (void)fd;
    (void)what;
    client_center_timeout(&pt->client, pt->cfg.timeout_ms);
    patient_sync(pt, 0);
}

/* Send the insurance plan to the doctor and start the wait for its answer. */
static void
patient_doctor_send(struct patient *pt)
{
    struct timeval tv = {pt->cfg.timeout_ms / 1000, (pt->cfg.timeout_ms % 1000) * 1000};
    ssize_t n = send(pt->udp_fd, pt->prof.plan, strlen(pt->prof.plan), 0);
    int err = errno;

    if (trace_on && n >= 0)
        patient_trace(pt, TRACE_OUT, 1, pt->prof.plan, (size_t)n);
    client_doctor_sent(&pt->client, pt->dochost);
    if (n == -1 && err == ECONNREFUSED) {
        /* An earlier try found no doctor there (ICMP port unreachable). */
        client_doctor_refused(&pt->client);
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
                client_doctor_refused(&pt->client);
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
    if (client_doctor_timeout(&pt->client))
        patient_doctor_send(pt);
    patient_sync(pt, 0);
}

/*
 * Resolve the doctor's host for UDP. A name such as localhost may give ::1
 * first while the doctor listens on 127.0.0.1, and UDP cannot try each
 * address the way TCP connect does: prefer the family that reached the center.
 */
static int
patient_doctor_resolve(struct patient *pt, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                       size_t errlen)
{
    struct addrinfo hints, *res, *ai, *pick;
    char portstr[16];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(portstr, sizeof portstr, "%u", pt->client.port);
    if ((rc = getaddrinfo(pt->cfg.doctor_host, portstr, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", pt->cfg.doctor_host, gai_strerror(rc));
        return -1;
    }
    pick = res;
    for (ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_family == pt->center_family) {
            pick = ai;
            break;
        }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *sslen = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Phase 3: one connected UDP socket to the doctor the center named. Returns 0 or -1. */
static int
patient_doctor_start(struct patient *pt)
{
    struct client *c = &pt->client;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char err[512], host[64];
    unsigned port, docport;

    if (patient_doctor_resolve(pt, &ss, &sslen, err, sizeof err) == -1) {
        client_fail(c, PATIENT_EXIT_NOPRICE, "%s", err);
        return -1;
    }
    if ((pt->udp_fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
        fcntl(pt->udp_fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(pt->udp_fd) == -1 ||
        connect(pt->udp_fd, (struct sockaddr *)&ss, sslen) == -1 ||
        net_local_addr(pt->udp_fd, host, sizeof host, &port) == -1) {
        client_fail(c, PATIENT_EXIT_NOPRICE, "cannot set up the UDP socket to %s port %u: %s",
                    pt->cfg.doctor_host, c->port, strerror(errno));
        return -1;
    }
    net_addr_str((struct sockaddr *)&ss, pt->dochost, sizeof pt->dochost, &docport);
    if ((pt->ev_udp = event_new(pt->base, pt->udp_fd, EV_READ | EV_PERSIST, patient_udp_cb, pt)) ==
            NULL ||
        (pt->ev_retry = evtimer_new(pt->base, patient_retry_cb, pt)) == NULL ||
        event_add(pt->ev_udp, NULL) == -1) {
        client_fail(c, PATIENT_EXIT_CONFIG, "cannot set up events");
        return -1;
    }
    client_doctor_ready(c, host, port);
    patient_doctor_send(pt);
    return 0;
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
        if (c->wire.len > 0) {
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
            bufferevent_free(pt->bev);
            pt->bev = NULL;
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
    if (!client_waits_center(c))
        evtimer_del(pt->ev_timer);
    else if (rearm || !evtimer_pending(pt->ev_timer, NULL))
        evtimer_add(pt->ev_timer, &tv);
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
    char err[512], host[64];
    unsigned port;
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
    if ((fd = net_connect_tcp(pt->cfg.center_host, pt->cfg.center_port, pt->cfg.timeout_ms, err,
                              sizeof err)) == -1) {
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "%s", err);
        return 0;
    }
    if ((pt->bev = bufferevent_socket_new(pt->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        close(fd);
        log_warnx("cannot set up events");
        return -1;
    }
    bufferevent_setcb(pt->bev, patient_read_cb, NULL, patient_event_cb, pt);
    bufferevent_setwatermark(pt->bev, EV_READ, 0, PATIENT_READMAX);
    if (bufferevent_enable(pt->bev, EV_READ) == -1) {
        log_warnx("cannot set up events");
        return -1;
    }
    if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) == -1 ||
        net_local_addr(fd, host, sizeof host, &port) == -1) {
        client_fail(&pt->client, PATIENT_EXIT_CENTER, "cannot read the connection's addresses: %s",
                    strerror(errno));
        return 0;
    }
    pt->center_family = peer.ss_family;
    client_connected(&pt->client, host, port);
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
    if (pt->bev != NULL)
        bufferevent_free(pt->bev);
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
        printf("%s: ok (patient %u, username %s, insurance %s)\n", pt->cfg.path, pt->cfg.id,
               pt->prof.user, pt->prof.plan);
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
