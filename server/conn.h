/* conn.h: one patient connection: socket I/O, line framing, back-pressure, timers, states. */
#ifndef HCS_CONN_H
#define HCS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event_struct.h>

#include "proto.h"
#include "schedule.h"
#include "trace.h"

struct center;
struct authpool_job;
struct evbuffer;
struct throttle_src;
struct transport_ops;
struct user;

/*
 * The states. Lines are read and handled in NEW and READY; in AUTH,
 * THROTTLED and COMMIT the connection waits for one answer (input that
 * comes meanwhile is kept and handled after it); CLOSING and LINGER end it.
 */
enum conn_state {
    CONN_NEW,       /* connected, not authenticated */
    CONN_AUTH,      /* a password check runs on the authpool */
    CONN_THROTTLED, /* the login's answer waits out the throttle's delay */
    CONN_READY,     /* authenticated */
    CONN_COMMIT,    /* a booking or cancellation waits for the store */
    CONN_CLOSING,   /* last reply queued; close once it is written */
    CONN_LINGER,    /* reply written, our side shut; discard input until EOF */
};

/*
 * One connection. conn_new and conn_close are the only ways in and out.
 * An idle authenticated patient costs this struct (packed: flags in bits,
 * the address in 20 bytes, its socket's event inside it) and nothing more:
 * the output buffer exists only while output waits, and its deadline is a
 * place in the center's one heap of deadlines (struct conn_timers), not a
 * timer event of its own.
 */
struct conn {
    TAILQ_ENTRY(conn) entry;       /* center.conns, or center.lost once closed */
    TAILQ_ENTRY(conn) dirty_entry; /* center.dirty: pushes to write */
    struct center *center;
    const struct transport_ops *xprt; /* NULL: no socket (tests, fuzzers) */
    void *xprtdata;       /* the transport's own state (TLS: its SSL); NULL for plain TCP */
    struct evbuffer *out; /* output waiting; NULL while none (see conn_out) */
    char *pend;           /* input not yet processed: a partial line, or a backlog */
    struct user *user;
    struct user *login;           /* in AUTH/THROTTLED: the user named (or whose login succeeded) */
    char *loginname;              /* in AUTH/THROTTLED: the name tried, escaped for the screen */
    struct authpool_job *authjob; /* in AUTH: the password check under way */
    struct throttle_src *src;     /* its source's counts; NULL: not counted (refused, no socket) */
    TAILQ_ENTRY(conn) unauth_entry; /* center.unauth, while unauthlisted */
    TAILQ_ENTRY(conn) wait_entry;   /* center.authwait, while checkwait */
    char *loginpass;                /* while checkwait: the password to check, wiped when done */
    struct sched_sub sub;
    int64_t created;     /* seconds, libevent's cached clock */
    int64_t lastline;    /* seconds: the last complete line */
    int64_t deadline;    /* when the timer fires (milliseconds), while timeridx is set */
    uint32_t timeridx;   /* its place in center.timers' heap; CONN_NO_TIMER: not armed */
    uint32_t changeslot; /* in CONN_COMMIT: the slot of the change */
    uint32_t pendlen;    /* bytes in pend (at most a read buffer's) */
    uint32_t stalled;    /* bytes the last flush could not write */
    uint32_t loginpasslen;
    int fd;
    unsigned char addr[16]; /* the peer's address (4 bytes of it for IPv4); see conn_host */
    uint16_t port;
    unsigned state : 3;   /* enum conn_state */
    unsigned family : 4;  /* CONN_AF_*: what addr holds */
    unsigned evflags : 3; /* what ev waits for now (EV_READ, EV_WRITE) */
    unsigned dirty : 1;
    unsigned lost : 1;        /* closed: freed by the center at the end of the loop pass */
    unsigned committing : 1;  /* its change is staged or being written by the store */
    unsigned changeput : 1;   /* in CONN_COMMIT: 1 a selection, 0 a cancel, waits for the store */
    unsigned backlog : 1;     /* pend holds complete lines waiting for output to drain */
    unsigned handshaking : 1; /* the transport's opening is under way: no lines yet */
    unsigned readwantswrite : 1; /* the last read waits for the socket to be writable */
    unsigned overflow : 1;       /* pushes came while over max_output was stalled: drop */
    unsigned loginclear : 1;     /* in AUTH: login's clear password matched */
    unsigned refused : 1;        /* refused at accept ("busy"): not counted in max_clients */
    unsigned unauthlisted : 1;
    unsigned checkwait : 1; /* in AUTH: waits for its source's share of the checks */
    unsigned timed : 1;     /* has a socket: its deadlines are kept (not in tests, fuzzers) */
    unsigned evset : 1;     /* ev was assigned (and may be added) */
    struct event ev;        /* the socket's readiness (event_assign: no allocation) */
};

#define CONN_NO_TIMER UINT32_MAX
/* What conn.addr holds. */
#define CONN_AF_NONE 0    /* no socket (tests, fuzzers) */
#define CONN_AF_INET 1    /* an IPv4 address */
#define CONN_AF_INET6 2   /* an IPv6 address */
#define CONN_AF_UNKNOWN 3 /* another family */

/*
 * The deadlines of a center's connections: a binary min-heap by deadline
 * and one timer event set for the earliest (as libevent keeps its own
 * timers), so a connection needs no timer event of its own.
 */
struct conn_timers {
    struct event *ev; /* fires at heap[0]'s deadline; made on first use */
    struct conn **heap;
    size_t n, cap;
    struct conn **due; /* the connections popped by one firing, handled in order */
    size_t duecap;
};

/*
 * Create a connection for an accepted socket moving bytes through xprt
 * (fd -1 and xprt NULL: no socket, for tests and fuzzers).
 */
struct conn *conn_new(struct center *center, int fd, const struct sockaddr *sa,
                      const struct transport_ops *xprt);
/*
 * Close a connection: its socket, events and subscriptions go at once, the
 * struct at the end of the loop pass (center_reap), so a caller up the
 * stack may still look at c->lost. A change it made stays.
 */
void conn_close(struct conn *c);
/* Free a closed connection (the center's reaper and teardown only). */
void conn_free(struct conn *c);
/*
 * Feed received bytes (with any pending partial line already in front).
 * Handles every complete line, keeps the rest, queues replies in c->out,
 * and wipes data if it held a login or came before one (it may hold a
 * password). Makes no system calls.
 */
void conn_process(struct conn *c, char *data, size_t len);
/*
 * The same from any buffer (tests, fuzzers): bytes are appended to the
 * pending partial line in the shared read buffer, in chunks that fit.
 */
void conn_feed(struct conn *c, const char *data, size_t len);
/* Write queued output, then read what was held back; a write error closes c. */
void conn_flush(struct conn *c);
/* Send "error <reason>" and close once it is written (e.g. busy). */
void conn_refuse(struct conn *c, enum proto_error e);

/* For the commands (command.c): replies, waits and the end of a connection. */

/* Queue a reply. */
void conn_reply(struct conn *c, const char *s, size_t len);
/* Queue a formatted reply. */
void conn_replyf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queue an error line; an error that closes also starts closing. */
void conn_error(struct conn *c, enum proto_error e);
/* Queue a last reply and close once it is written. */
void conn_close_after(struct conn *c, const char *s, size_t len);
/* Wait in AUTH, THROTTLED (for secs) or COMMIT: stop reading until conn_done_waiting. */
void conn_wait(struct conn *c, enum conn_state state, unsigned secs);
/* The wait is over: go on in state (NEW or READY) with the answer queued; write it. */
void conn_done_waiting(struct conn *c, enum conn_state state);
/* Seconds on libevent's cached clock (no system call). */
int64_t conn_now(const struct conn *c);
/* --trace (callers test trace_on first): print the lines of one message to or from c. */
void conn_trace(const struct conn *c, enum trace_dir dir, const char *s, size_t len);
/* --trace: print what was queued to c from offset from of c->out on (the list of slots). */
void conn_trace_queued(const struct conn *c, size_t from);
/* Whether c keeps deadlines (it has a socket and is not closed): a throttle can wait. */
int conn_timed(const struct conn *c);
/* The output buffer, made if there is none (NULL: out of memory). */
struct evbuffer *conn_out(struct conn *c);
/* Bytes of output waiting. */
size_t conn_outlen(const struct conn *c);
/* The peer's address as text, formatted now into a buffer that the next few calls reuse. */
const char *conn_host(const struct conn *c);

/* Free the center's deadline heap and its timer (center teardown). */
void conn_timers_free(struct conn_timers *t);

#endif
