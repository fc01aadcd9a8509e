/* prices.h: a doctor's price table and its answer to one UDP request, as pure functions. */
#ifndef HCS_PRICES_H
#define HCS_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"

#define PRICES_NAMEMAX 63       /* bytes in an insurance plan name */
#define PRICES_COSTMAX 1000000  /* highest cost a price file may give */
#define PRICES_ROWSMAX 10000000 /* rows in one price file */
#define PRICES_REPLYLEN 32      /* reply text, NUL included */
#define PRICES_PLANLEN 256      /* escaped plan name for the screen, NUL included */
#define PRICES_SHOWLONG 48      /* bytes of an over-long request shown on screen */

/* One row of a price file. */
struct prices_item {
    char name[PRICES_NAMEMAX + 1];
    uint32_t len;
    uint32_t cost;
    unsigned line; /* where the row was, for duplicate messages */
};

/* The whole table: rows in file order, indexed by name. */
struct prices {
    struct prices_item *items;
    size_t count;
    size_t cap;
    struct htab index;
};

/* What prices_answer made of a request. */
enum prices_status {
    PRICES_PRICE,       /* <cost> */
    PRICES_EMPTY,       /* error empty */
    PRICES_TOO_LONG,    /* error too-long: the datagram did not fit the buffer */
    PRICES_BAD_REQUEST, /* error bad-request: not a plan name (bytes or length) */
    PRICES_UNKNOWN,     /* error unknown-insurance */
};

/* The reply to one request, and what to show on screen. */
struct prices_answer {
    enum prices_status status;
    int64_t cost;                /* the price, or -1 for an error reply */
    size_t len;                  /* bytes of reply, NUL excluded; this is the datagram */
    char reply[PRICES_REPLYLEN]; /* "<cost>" or "error <reason>", no line ending */
    /* The request escaped for printing; one over PRICES_NAMEMAX bytes or cut */
    /* by the buffer shows its first PRICES_SHOWLONG bytes and "...". */
    char plan[PRICES_PLANLEN];
};

/*
 * Load a price file of rows "insurance cost". On error return -1 with
 * "file:line: message" in err; p is then empty (prices_free is harmless).
 */
int prices_load(struct prices *p, const char *path, char *err, size_t errlen);

/* Same as prices_load for len bytes in memory; name is shown in messages. */
int prices_load_mem(struct prices *p, const char *name, const void *data, size_t len, char *err,
                    size_t errlen);

/* The cost of plan name (len bytes), or -1 if the table does not have it. */
int64_t prices_find(const struct prices *p, const char *name, size_t len);

/* How a new table differs from the one it replaces, plan by plan. */
struct prices_diff {
    size_t added;   /* plans only in the new table */
    size_t removed; /* plans only in the old table */
    size_t changed; /* plans in both, at another cost */
};

/* Count the plans added, removed and changed from old to new. */
void prices_diff(const struct prices *old, const struct prices *new, struct prices_diff *d);

/* The line that reports a reload: "reload: 2 prices added, 1 removed, 0 changed". */
void prices_diff_line(const struct prices_diff *d, char *buf, size_t len);

/* Free the table; p is left empty. */
void prices_free(struct prices *p);

/*
 * Answer one datagram of len bytes (truncated: it was longer than the bytes
 * given). One trailing "\n" or "\r\n" is removed, then trailing spaces (the
 * patient's padding, PROTO_PRICE_PAD); what is left must be a plan name of 1
 * to PRICES_NAMEMAX visible bytes. Fills every field of a.
 */
void prices_answer(const struct prices *p, const char *req, size_t len, int truncated,
                   struct prices_answer *a);

#endif
