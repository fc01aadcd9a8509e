/* conn.h: one patient connection: its state machine, line reader and replies. */
#ifndef HCS_CONN_H
#define HCS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "schedule.h"

struct center;
struct authpool_job;
struct evbuffer;
struct event;
struct user;

enum conn_state {
    CONN_NEW,     /* connected, not authenticated */
    CONN_WAIT,    /* login answer held back: a password check, or the throttle */
    CONN_READY,   /* authenticated */
    CONN_COMMIT,  /* a booking or cancellation waits for the store's commit */
    CONN_CLOSING, /* last reply queued; close once it is written */
    CONN_LINGER,  /* reply written, our side shut; discard input until EOF */
};

#define CONN_STAGED 1
#define CONN_INFLIGHT 2

/* One connection. conn_new and conn_free are the only ways in and out. */
struct conn {
    TAILQ_ENTRY(conn) entry; /* center.conns */
    TAILQ_ENTRY(conn) dirty_entry;
    int dirty;
    TAILQ_ENTRY(conn) commit_entry;
    int committing; /* 0, or on center.committing (CONN_STAGED) or .inflight */
    char held[64];  /* in CONN_COMMIT: the answer to send once committed */
    size_t heldlen;
    struct center *center;
    int fd;
    enum conn_state state;
    short evflags; /* what ev waits for now */
    struct event *ev;
    struct event *timer;
    struct evbuffer *out;
    char *pend; /* input not yet processed: a partial line, or a backlog */
    size_t pendlen;
    int backlog;    /* pend holds complete lines waiting for output to drain */
    size_t stalled; /* bytes the last flush could not write */
    int overflow;   /* pushes came while over max_output was stalled: drop */
    struct user *user;
    struct user *login;           /* in CONN_WAIT: the user named (or whose login succeeded) */
    int loginclear;               /* in CONN_WAIT: login's clear password matched */
    char *loginname;              /* in CONN_WAIT: the name tried, escaped for the screen */
    struct authpool_job *authjob; /* in CONN_WAIT: the password check under way */
    struct sched_sub sub;
    int64_t created; /* seconds, libevent's cached clock */
    int64_t lastline;
    char host[64];
    unsigned port;
};

/* Create a connection for an accepted socket (fd -1: no socket, for fuzzers). */
struct conn *conn_new(struct center *center, int fd, const struct sockaddr *sa);
void conn_free(struct conn *c);
/*
 * Feed received bytes (with any pending partial line already in front).
 * Handles every complete line, keeps the rest, queues replies in c->out.
 * Makes no system calls.
 */
void conn_process(struct conn *c, char *data, size_t len);
/*
 * The same from any buffer (tests, fuzzers): bytes are appended to the
 * pending partial line in the shared read buffer, in chunks that fit.
 */
void conn_feed(struct conn *c, const char *data, size_t len);
/* The store committed: send the held answer and go on. */
void conn_committed(struct conn *c);
/* Send "error <reason>" and close once it is written (e.g. busy). */
void conn_refuse(struct conn *c, const char *reason);
/* Write queued output; frees c on a write error. Returns -1 if c is gone. */
int conn_flush(struct conn *c);

#endif
