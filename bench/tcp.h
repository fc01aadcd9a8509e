/* tcp.h: the TCP engine of hcs-bench: one run (struct tcp) of client connections (struct
 * tcp_conn). tcp.c drives the run, sock.c moves the bytes, and each mode keeps its own
 * steps and report in its file (session.c, request.c for list and line, idle.c, race.c,
 * fanout.c). */
#ifndef HCS_BENCH_TCP_H
#define HCS_BENCH_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench.h"
#include "hist.h"
#include "load.h"

#define TCP_PART 256   /* bytes of one reply line kept across reads */
#define TCP_OUT 192    /* bytes of one queued request */
#define TCP_RBUF 65536 /* bytes read at once */

/* Where one connection is. */
enum tcp_conn_state {
    ST_OFF,        /* no socket */
    ST_CONNECTING, /* connect() in progress */
    ST_TLS,        /* --tls: the handshake in progress */
    ST_TICKET,     /* handshake mode: done, waiting for the session ticket to resume */
    ST_AUTH,       /* authenticate sent */
    ST_READY,      /* connected (and logged in); nothing outstanding */
    ST_LIST,       /* available sent; reading "slots n" and n lines */
    ST_REPLY,      /* a one-line request sent (line mode, idle) */
    ST_SELECT,     /* selection sent */
    ST_CANCEL,     /* cancel sent */
    ST_APPT,       /* appointment sent (race verification) */
};

/* Steps of a session (and of the fanout booker), each with its own latencies. */
enum tcp_step { STEP_CONNECT, STEP_AUTH, STEP_LIST, STEP_SELECT, STEP_CANCEL, STEP_N };

/* Phases of the whole run. */
enum tcp_phase { TP_SETUP, TP_RUN, TP_HOLD, TP_VERIFY, TP_DONE };

/* One client connection. */
struct tcp_conn {
    int fd;
    void *ssl;       /* --tls: its SSL (tlsc.c); NULL otherwise */
    void *tls_sess;  /* --tls-resume: the last session the server gave it */
    int tls_newsess; /* ... and it came on this connection */
    unsigned id;
    unsigned gen; /* bumped on close, so a handler can tell its socket went away */
    enum tcp_conn_state st;
    uint32_t user;
    uint32_t nlist; /* n of the "slots n" being read; */
    uint32_t want;  /* list lines still to come; 0 with inlist == 0: "slots n" next */
    int inlist;
    uint32_t pos;  /* list line number being read */
    uint32_t pick; /* list line whose index this connection wants */
    uint32_t slot; /* session: chosen slot; race, fanout: slot asked for */
    int measured;  /* the outstanding request counts */
    int won;       /* race: 1 won, 0 lost, -1 no valid answer */
    unsigned retries;
    uint64_t t_req;   /* when the outstanding request was sent */
    uint64_t t_start; /* session: when it began */
    uint64_t pushes;
    uint16_t partlen, outlen, outoff;
    char part[TCP_PART];
    char out[TCP_OUT];
};

/* The whole run. */
struct tcp {
    const struct bench_opts *o;
    struct sockaddr_storage ss[BENCH_MAXPORTS]; /* one per port of -p */
    socklen_t sslen[BENCH_MAXPORTS];
    int ep;
    struct tcp_conn *c;
    unsigned n;
    enum tcp_phase phase;
    int stop;
    uint64_t setup_end;       /* deadline of the set-up */
    unsigned next_connect;    /* set-up: next connection to open */
    unsigned connecting;      /* set-up: connects in flight */
    unsigned nready, nfailed; /* set-up outcome */
    uint64_t errors;
    uint64_t pushes;
    struct load load; /* phases and the measured window (race, fanout: window only) */
    struct hist steps[STEP_N];
    /* session */
    uint32_t next_user;
    uint64_t conflicts, nofree, nobook, booked;
    /* race */
    uint64_t t_fire, t_sent, t_first, t_last, run_end;
    unsigned nanswered, nwon, nlost, ndup, nverified, nbad;
    unsigned char *taken;
    /* fanout */
    uint32_t fan_slot;
    uint32_t cycles;
    uint32_t ev_sent;    /* requests the booker sent */
    unsigned ev_got;     /* watchers that have the push of the booker's last request */
    int booker_answered; /* the booker's last request is answered */
    unsigned wdone;
    int booker_done;
    uint64_t t_lastpush;
    uint64_t *t_event;    /* when the booker sent its k-th request (selection, cancel, ...) */
    uint64_t push_wrong;  /* push lines other than the one the booker's request made */
    struct hist push_lat; /* from the booker's request to each watcher's push line */
    /* handshake */
    uint64_t resumed; /* handshakes that resumed a session */
    /* idle */
    long rss0, rss1, rss2;
    uint64_t hold_end;
    char rbuf[TCP_RBUF];
};

/* tcp.c: the run, its set-up, the dispatch of replies, the verification round. */

/* Does the line start with this prefix? */
int tcp_starts(const char *line, size_t len, const char *prefix);
/* Which of the ports of -p (0 .. nports-1) connection c uses. */
unsigned tcp_port_of(const struct tcp *t, const struct tcp_conn *c);
/* Is the one-line reply good for line mode and idle? */
int tcp_reply_ok(const struct tcp *t, const char *line, size_t len);
/* Act on what the load phases say. */
void tcp_load_action(struct tcp *t, enum load_action act);
/* One more connection finished its set-up. */
void tcp_setup_one(struct tcp *t, int ok);
/* The socket of c connected: log in, or go straight to ready. */
void tcp_connected(struct tcp *t, struct tcp_conn *c);
/* Record the latency of a step of the outstanding request. */
void tcp_step(struct tcp *t, struct tcp_conn *c, enum tcp_step step);
/* A connection broke or got a wrong answer: count it and carry on without it. */
void tcp_fail(struct tcp *t, struct tcp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Handle one line from the server. */
void tcp_line(struct tcp *t, struct tcp_conn *c, const char *line, size_t len);
/* Start the verification round of race and idle. */
void tcp_verify(struct tcp *t);
/* Check deadlines and time-driven phase changes. */
void tcp_tick(struct tcp *t);

/* session.c: connect, log in, list, book (another slot on "notavailable"), cancel, close. */

/* Start a new session on this connection, if the load allows one. */
void session_begin(struct tcp *t, struct tcp_conn *c);
/* Logged in: ask available, or (--direct) book the user's own slot. */
void session_logged_in(struct tcp *t, struct tcp_conn *c);
/* The session ended (ok or not): close, count, start the next. */
void session_end(struct tcp *t, struct tcp_conn *c, int ok);
/* A complete reply to available arrived: book the chosen slot. */
void session_list_done(struct tcp *t, struct tcp_conn *c);
/* The answer to selection. */
void session_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked);
/* Print the session results. */
void session_report(struct tcp *t);

/* handshake.c: connect, TLS handshake, close; then again (full or resumed handshakes). */

/* Open the next connection, if the load allows one. */
void handshake_begin(struct tcp *t, struct tcp_conn *c);
/* The handshake of c is done: count it (once a session to resume is saved, if asked). */
void handshake_done(struct tcp *t, struct tcp_conn *c);
/* In ST_TICKET: read until the server's session ticket has come. */
void handshake_ticket(struct tcp *t, struct tcp_conn *c);
/* The connection ended (ok or not): close, count, start the next. */
void handshake_end(struct tcp *t, struct tcp_conn *c, int ok);
/* Print the handshake results. */
void handshake_report(struct tcp *t);

/* request.c: list and line, one request after another on every connection. */

/* Send the next request of a list or line connection, if the load allows one. */
void request_next(struct tcp *t, struct tcp_conn *c);
/* The answer to one request (the whole list, or the one reply line) arrived. */
void request_answered(struct tcp *t, struct tcp_conn *c, int ok);
/* The reply line to a line-mode request. */
void request_on_reply(struct tcp *t, struct tcp_conn *c, const char *line, size_t len);
/* Print the list and line results. */
void request_report(struct tcp *t);

/* idle.c: hold logged-in connections, then ask once more; the server's memory. */

/* Every connection is ready: hold them. */
void idle_start(struct tcp *t);
/* Connected and logged in: send the line, if any, before counting it ready. */
void idle_ready(struct tcp *t, struct tcp_conn *c);
/* The reply to the line sent by idle_ready. */
void idle_on_reply(struct tcp *t, struct tcp_conn *c, const char *line, size_t len);
/* Check the end of the hold and of the verification round. */
void idle_tick(struct tcp *t, uint64_t now);
/* Print the idle results. Returns 1 if a check failed. */
int idle_report(struct tcp *t);

/* race.c: every patient asks for a slot at the same instant. */

/* Every patient asks for its slot at once. */
void race_fire(struct tcp *t);
/* After the last answer, stop the clock and check every patient's appointment. */
void race_check(struct tcp *t);
/* The answer to selection. */
void race_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked);
/* Is the answer to appointment what the race said? */
int race_verified(const struct tcp_conn *c, const char *line, size_t len);
/* Check the deadlines of the race and of its verification. */
void race_tick(struct tcp *t, uint64_t now);
/* Print the race results. Returns 1 if a check failed. */
int race_report(struct tcp *t);

/* fanout.c: watchers wait after available while one more connection books and cancels. */

/* Every connection is ready: the booker starts. */
void fanout_start(struct tcp *t);
/* Connected and logged in: a watcher asks available, the booker is ready. */
void fanout_ready(struct tcp *t, struct tcp_conn *c);
/* The booker's answer to selection. */
void fanout_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked);
/* The booker's answer to cancel. */
void fanout_on_cancel(struct tcp *t, struct tcp_conn *c);
/* A watcher got a push line. */
void fanout_on_push(struct tcp *t, struct tcp_conn *c, const char *line, size_t len);
/* Check the end of the run. */
void fanout_tick(struct tcp *t, uint64_t now);
/* Print the fanout results. Returns 1 if a check failed. */
int fanout_report(struct tcp *t);

#endif
