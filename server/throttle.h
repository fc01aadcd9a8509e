/* throttle.h: what each source (an IPv4 address, or an IPv6 prefix) and each user may do. */
#ifndef HCS_THROTTLE_H
#define HCS_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define THROTTLE_LIMIT 5      /* failures from one source within the window ... */
#define THROTTLE_WINDOW 60    /* ... seconds, after which answers wait */
#define THROTTLE_DELAY 1      /* seconds each answer then waits */
#define THROTTLE_HISTORY 4096 /* sources without connections whose counts are kept */
#define THROTTLE_USERS 65536  /* users whose failures are counted at once */
#define THROTTLE_KEYLEN 17    /* a source: its family, then 4 or 16 address bytes */
#define THROTTLE_NAMEMAX 64   /* bytes of a user name kept */

/* The limits, from center.conf. 0 means no limit (ipv6_prefix: 0 to 128 bits). */
struct throttle_limits {
    unsigned ipv6_prefix;       /* leading bits of an IPv6 address that name its source */
    unsigned max_conns;         /* connections from one source at once */
    unsigned max_checks;        /* password checks queued or running per source */
    unsigned max_failures;      /* failed or abandoned logins per source per window */
    unsigned max_user_failures; /* failures per user per window before its answers wait */
};

/*
 * One source. Counts of the present (conns, unauth, checks, waiting) are
 * exact while any is non-zero: such a source is never evicted. The window
 * counts (attempts, fails, lost) cover THROTTLE_WINDOW seconds from start.
 */
struct throttle_src {
    struct throttle_src *next;       /* hash chain */
    TAILQ_ENTRY(throttle_src) entry; /* on the idle list while nothing holds it */
    int idle;
    uint8_t key[THROTTLE_KEYLEN];
    uint32_t conns;    /* connections now */
    uint32_t unauth;   /* of them, not authenticated */
    uint32_t checks;   /* password checks queued or running */
    uint32_t waiting;  /* logins waiting for the source's share of the checks */
    uint32_t attempts; /* logins begun in the window */
    uint32_t fails;    /* logins that failed in the window */
    uint32_t lost;     /* logins abandoned (closed or timed out before the answer) */
    int64_t start;     /* when the window began */
};

/* Failures of one user in its window. */
struct throttle_user {
    struct throttle_user *next;
    TAILQ_ENTRY(throttle_user) entry; /* oldest window first */
    uint32_t fails;
    int64_t start;
    size_t namelen;
    char name[THROTTLE_NAMEMAX];
};

/* A message that may come often: at most one line per second, counting the rest. */
struct throttle_ratelog {
    int64_t last; /* second of the last line, or -1 */
    uint64_t count;
};

TAILQ_HEAD(throttle_srcs, throttle_src);
TAILQ_HEAD(throttle_users, throttle_user);

/* Every source and user counted, in tables keyed with a secret chosen at start-up. */
struct throttle {
    struct throttle_limits lim;
    uint64_t k0, k1; /* SipHash key */
    struct throttle_src **src;
    size_t srcmask, nsrc, maxsrc;
    struct throttle_srcs idle; /* sources nothing holds, oldest first: evicted first */
    struct throttle_user **user;
    size_t usermask, nuser;
    struct throttle_users users;
    struct throttle_ratelog backed;  /* "password checks are backed up" */
    struct throttle_ratelog refused; /* connections over a source's limits */
    struct throttle_ratelog failing; /* logins of a source with too many failures */
};

/* What throttle_login says of a new login. */
enum throttle_login {
    THROTTLE_CHECK,  /* go on: a password check may start now */
    THROTTLE_WAIT,   /* the source's checks are all in use: wait for one (no hash yet) */
    THROTTLE_REFUSE, /* too many failed logins from the source this window: refuse */
};

/* How a login ended, for throttle_login_done. */
enum throttle_result { THROTTLE_OK, THROTTLE_FAILED, THROTTLE_LOST };

/*
 * Set a table up for max_conns connections at once (plus THROTTLE_HISTORY
 * sources without any), with a random key. -1 when out of memory or no
 * random bytes can be had.
 */
int throttle_init(struct throttle *t, const struct throttle_limits *lim, size_t max_conns);
void throttle_free(struct throttle *t);
/* SipHash-2-4 of len bytes with the key (k0, k1). */
uint64_t throttle_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

/*
 * A connection from sa at time now: its source, counted (connected, not
 * authenticated), or NULL when the source is at max_conns or the table is
 * full of sources with connections (answer "busy").
 */
struct throttle_src *throttle_connect(struct throttle *t, const struct sockaddr *sa, int64_t now);
/* The connection authenticated. */
void throttle_authenticated(struct throttle *t, struct throttle_src *s);
/* The connection closed (authenticated or not); s may be freed. */
void throttle_disconnect(struct throttle *t, struct throttle_src *s, int authenticated,
                         int64_t now);

/*
 * A login begins (an "authenticate" line): refuse it, or go on. When it
 * needs a password check (check), say whether the check may start now
 * (counted in checks until throttle_check_end) or must wait (counted in
 * waiting, until throttle_check_take or throttle_unwait).
 */
enum throttle_login throttle_login(struct throttle *t, struct throttle_src *s, int check,
                                   int64_t now);
/* A password check of s ended (answered or cancelled). */
void throttle_check_end(struct throttle *t, struct throttle_src *s);
/* Whether a waiting login of s may start its check now; if so it is counted as one. */
int throttle_check_take(struct throttle *t, struct throttle_src *s);
/* A waiting login of s went away without a check. */
void throttle_unwait(struct throttle *t, struct throttle_src *s);
/* A login of s ended: answered success or failure, or abandoned. */
void throttle_login_done(struct throttle *t, struct throttle_src *s, enum throttle_result r,
                         int64_t now);
/* Seconds an answer to s waits at time now: 0, or THROTTLE_DELAY after recent failures. */
unsigned throttle_delay(const struct throttle *t, const struct throttle_src *s, int64_t now);

/* Count a failed login of the user name (a user of users.txt). */
void throttle_user_failure(struct throttle *t, const char *name, size_t len, int64_t now);
/* Seconds an answer to a login of name waits: THROTTLE_DELAY past max_user_failures, else 0. */
unsigned throttle_user_delay(const struct throttle *t, const char *name, size_t len, int64_t now);

/*
 * One more event of a rate-limited message at time now: the number of
 * events to report on a line now (this one and those held back since the
 * last line), or 0 when a line was already printed this second.
 */
uint64_t throttle_ratelog(struct throttle_ratelog *r, int64_t now);

#endif
