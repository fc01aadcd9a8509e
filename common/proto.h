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

/* Formatters for the center's replies; each returns the length written. */
size_t proto_fmt_slot(char *buf, size_t size, uint32_t index, const char *day, const char *time);
size_t proto_fmt_booked(char *buf, size_t size, const char *doctor, unsigned port);

#endif
