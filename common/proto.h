/* proto.h: the TCP wire protocol between patient and center, as pure functions. */
#ifndef HCS_PROTO_H
#define HCS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAXFIELDS 6
#define PROTO_DAYLEN 16    /* day and time fields, NUL included */
#define PROTO_NAMELEN 32   /* doctor names, NUL included */
#define PROTO_REASONLEN 64 /* error reasons, NUL included */
#define PROTO_MAXINDEX 4294967295u
/*
 * A price request (patient to doctor, UDP) is the plan padded with spaces
 * to at least this many bytes: the doctor never answers with more bytes than
 * it was sent, and its longest answer, "error unknown-insurance", is 23.
 */
#define PROTO_PRICE_PAD 24

/*
 * A line split into fields (pointers into the line, not NUL-terminated).
 * n counts every field; only the first PROTO_MAXFIELDS are stored.
 */
struct proto_fields {
    int n;
    const char *f[PROTO_MAXFIELDS];
    size_t len[PROTO_MAXFIELDS];
};

/*
 * Split a line (without its line ending) at single spaces. Returns 0, or -1
 * when the line is empty or has a space at either end or two in a row.
 */
int proto_split(const char *line, size_t len, struct proto_fields *pf);

/* Whether field i equals the NUL-terminated word w. */
int proto_field_is(const struct proto_fields *pf, int i, const char *w);

/* Parse field i as a slot index (1 to PROTO_MAXINDEX). Returns 0 or -1. */
int proto_field_index(const struct proto_fields *pf, int i, uint32_t *out);

/* What a line from the center is. */
enum proto_reply_kind {
    PROTO_INVALID,
    PROTO_SUCCESS,      /* success */
    PROTO_FAILURE,      /* failure */
    PROTO_SLOTS,        /* slots <count> */
    PROTO_SLOT,         /* <index> <day> <time> */
    PROTO_BOOKED,       /* <doctor> <port> */
    PROTO_NOTAVAILABLE, /* notavailable */
    PROTO_APPOINTMENT,  /* appointment <index> <day> <time> <doctor> <port> */
    PROTO_APPOINTMENT_NONE /* appointment none */,
    PROTO_CANCELLED,     /* cancelled <index> */
    PROTO_ERROR,         /* error <reason...> */
    PROTO_PUSH_RESERVED, /* * reserved <index> */
    PROTO_PUSH_RELEASED, /* * released <index> <day> <time> */
    PROTO_PUSH_ADDED,    /* * added <index> <day> <time> */
    PROTO_PUSH_REMOVED,  /* * removed <index> */
};

/* A parsed line from the center; only the fields of its kind are set. */
struct proto_reply {
    enum proto_reply_kind kind;
    uint32_t index;
    uint32_t count;
    unsigned port;
    char day[PROTO_DAYLEN];
    char time[PROTO_DAYLEN];
    char doctor[PROTO_NAMELEN];
    char reason[PROTO_REASONLEN];
};

/* Classify and parse one line from the center (without its line ending). */
int proto_parse_reply(const char *line, size_t len, struct proto_reply *r);

/*
 * The reasons of the center's "error <reason>" lines, as the README's
 * error table lists them: name, reason, and whether the center closes the
 * connection after the line.
 */
#define PROTO_ERRORS(X)                                                                            \
    X(EMPTY_LINE, "empty-line", 0)                                                                 \
    X(BAD_SPACING, "bad-spacing", 0)                                                               \
    X(UNKNOWN_COMMAND, "unknown-command", 0)                                                       \
    X(WRONG_ARGUMENTS, "wrong-arguments", 0)                                                       \
    X(BAD_INDEX, "bad-index", 0)                                                                   \
    X(NOT_AUTHENTICATED, "not-authenticated", 0)                                                   \
    X(ALREADY_AUTHENTICATED, "already-authenticated", 0)                                           \
    X(ALREADY_BOOKED, "already-booked", 0)                                                         \
    X(NO_APPOINTMENT, "no-appointment", 0)                                                         \
    X(UNAVAILABLE, "unavailable", 0)                                                               \
    X(LINE_TOO_LONG, "line-too-long", 1)                                                           \
    X(BAD_LINE, "bad-line", 1)                                                                     \
    X(IDLE_TIMEOUT, "idle-timeout", 1)                                                             \
    X(AUTH_TIMEOUT, "auth-timeout", 1)                                                             \
    X(BUSY, "busy", 1)                                                                             \
    X(OUT_OF_MEMORY, "out-of-memory", 1)

#define PROTO_ERROR_ENUM(name, reason, closes) PROTO_ERR_##name,
enum proto_error { PROTO_ERRORS(PROTO_ERROR_ENUM) PROTO_NERRORS };
#undef PROTO_ERROR_ENUM

/* One error reason and its whole line, "error <reason>\n", counted by the compiler. */
struct proto_error_info {
    const char *reason;
    const char *line;
    size_t linelen;
    int closes;
};

extern const struct proto_error_info proto_errors[PROTO_NERRORS];

/* The error whose reason is the first len bytes of s (up to a space), or -1. */
int proto_error_find(const char *s, size_t len);

/* A string literal and its length, for replies whose length the compiler counts. */
#define PROTO_LIT(s) ("" s), (sizeof(s) - 1)

/* Formatters for the center's replies; each returns the length written. */
size_t proto_fmt_slot(char *buf, size_t size, uint32_t index, const char *day, const char *time);
size_t proto_fmt_booked(char *buf, size_t size, const char *doctor, unsigned port);
/*
 * The push lines: "* reserved <index>", "* released <index> <day> <time>",
 * and from a change of the schedule "* added <index> <day> <time>" and
 * "* removed <index>".
 */
size_t proto_fmt_reserved(char *buf, size_t size, uint32_t index);
size_t proto_fmt_released(char *buf, size_t size, uint32_t index, const char *day,
                          const char *time);
size_t proto_fmt_added(char *buf, size_t size, uint32_t index, const char *day, const char *time);
size_t proto_fmt_removed(char *buf, size_t size, uint32_t index);

#endif
