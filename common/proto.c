/* proto.c: the TCP wire protocol between patient and center, as pure functions. */
#include "proto.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Split a line at single spaces, refusing any other spacing. */
int
proto_split(const char *line, size_t len, struct proto_fields *pf)
{
    size_t i, start = 0;

    pf->n = 0;
    if (len == 0)
        return -1;
    for (i = 0; i <= len; i++) {
        if (i < len && line[i] != ' ')
            continue;
        if (i == start)
            return -1; /* empty field: leading, trailing or double space */
        if (pf->n < PROTO_MAXFIELDS) {
            pf->f[pf->n] = line + start;
            pf->len[pf->n] = i - start;
        }
        pf->n++;
        start = i + 1;
    }
    return 0;
}

/* Compare field i with a word. */
int
proto_field_is(const struct proto_fields *pf, int i, const char *w)
{
    size_t wl = strlen(w);

    return i < pf->n && i < PROTO_MAXFIELDS && pf->len[i] == wl && memcmp(pf->f[i], w, wl) == 0;
}

/* Parse field i as a slot index. */
int
proto_field_index(const struct proto_fields *pf, int i, uint32_t *out)
{
    uint64_t v;

    if (i >= pf->n || i >= PROTO_MAXFIELDS ||
        util_parse_uint(pf->f[i], pf->len[i], 1, PROTO_MAXINDEX, &v) == -1)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Copy field i into a fixed buffer if it is a token that fits. */
static int
proto_field_copy(const struct proto_fields *pf, int i, char *dst, size_t size)
{
    if (i >= pf->n || i >= PROTO_MAXFIELDS || pf->len[i] >= size ||
        !util_token_ok(pf->f[i], pf->len[i]))
        return -1;
    memcpy(dst, pf->f[i], pf->len[i]);
    dst[pf->len[i]] = '\0';
    return 0;
}

/* Parse field i as a port number (1 to 65535). */
static int
proto_field_port(const struct proto_fields *pf, int i, unsigned *out)
{
    uint64_t v;

    if (i >= pf->n || i >= PROTO_MAXFIELDS ||
        util_parse_uint(pf->f[i], pf->len[i], 1, 65535, &v) == -1)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Parse "<index> <day> <time>" starting at field i into r. */
static int
proto_parse_slot_fields(const struct proto_fields *pf, int i, struct proto_reply *r)
{
    if (proto_field_index(pf, i, &r->index) == -1 ||
        proto_field_copy(pf, i + 1, r->day, sizeof r->day) == -1 ||
        proto_field_copy(pf, i + 2, r->time, sizeof r->time) == -1)
        return -1;
    return 0;
}

/* Parse a line that starts with "* ": a schedule change pushed by the center. */
static int
proto_parse_push(const struct proto_fields *pf, struct proto_reply *r)
{
    if (pf->n == 3 && proto_field_is(pf, 1, "reserved") &&
        proto_field_index(pf, 2, &r->index) == 0) {
        r->kind = PROTO_PUSH_RESERVED;
        return 0;
    }
    if (pf->n == 5 && proto_field_is(pf, 1, "released") && proto_parse_slot_fields(pf, 2, r) == 0) {
        r->kind = PROTO_PUSH_RELEASED;
        return 0;
    }
    if (pf->n == 5 && proto_field_is(pf, 1, "added") && proto_parse_slot_fields(pf, 2, r) == 0) {
        r->kind = PROTO_PUSH_ADDED;
        return 0;
    }
    if (pf->n == 3 && proto_field_is(pf, 1, "removed") &&
        proto_field_index(pf, 2, &r->index) == 0) {
        r->kind = PROTO_PUSH_REMOVED;
        return 0;
    }
    return -1;
}

/* Classify and parse one line from the center. */
int
proto_parse_reply(const char *line, size_t len, struct proto_reply *r)
{
    struct proto_fields pf;
    uint64_t v;

    memset(r, 0, sizeof *r);
    r->kind = PROTO_INVALID;
    if (proto_split(line, len, &pf) == -1)
        return -1;
    if (proto_field_is(&pf, 0, "*"))
        return proto_parse_push(&pf, r);
    if (proto_field_is(&pf, 0, "error")) {
        size_t i, rl = len - 6; /* the reason is the rest of the line */
        if (pf.n < 2 || rl >= sizeof r->reason)
            return -1;
        /* Words are single-spaced already; no other byte may be a control. */
        for (i = 6; i < len; i++)
            if (line[i] != ' ' && !util_token_ok(line + i, 1))
                return -1;
        memcpy(r->reason, line + 6, rl);
        r->reason[rl] = '\0';
        r->kind = PROTO_ERROR;
        return 0;
    }
    if (pf.n == 1) {
        if (proto_field_is(&pf, 0, "success"))
            r->kind = PROTO_SUCCESS;
        else if (proto_field_is(&pf, 0, "failure"))
            r->kind = PROTO_FAILURE;
        else if (proto_field_is(&pf, 0, "notavailable"))
            r->kind = PROTO_NOTAVAILABLE;
        return r->kind == PROTO_INVALID ? -1 : 0;
    }
    if (pf.n == 2 && proto_field_is(&pf, 0, "slots")) {
        if (util_parse_uint(pf.f[1], pf.len[1], 0, PROTO_MAXINDEX, &v) == -1)
            return -1;
        r->count = (uint32_t)v;
        r->kind = PROTO_SLOTS;
        return 0;
    }
    if (pf.n == 2 && proto_field_is(&pf, 0, "cancelled")) {
        if (proto_field_index(&pf, 1, &r->index) == -1)
            return -1;
        r->kind = PROTO_CANCELLED;
        return 0;
    }
    if (proto_field_is(&pf, 0, "appointment")) {
        if (pf.n == 2 && proto_field_is(&pf, 1, "none")) {
            r->kind = PROTO_APPOINTMENT_NONE;
            return 0;
        }
        if (pf.n != 6 || proto_parse_slot_fields(&pf, 1, r) == -1 ||
            proto_field_copy(&pf, 4, r->doctor, sizeof r->doctor) == -1 ||
            proto_field_port(&pf, 5, &r->port) == -1)
            return -1;
        r->kind = PROTO_APPOINTMENT;
        return 0;
    }
    if (pf.n == 3) {
        if (proto_parse_slot_fields(&pf, 0, r) == -1)
            return -1;
        r->kind = PROTO_SLOT;
        return 0;
    }
    if (pf.n == 2) {
        if (proto_field_copy(&pf, 0, r->doctor, sizeof r->doctor) == -1 ||
            proto_field_port(&pf, 1, &r->port) == -1)
            return -1;
        r->kind = PROTO_BOOKED;
        return 0;
    }
    return -1;
}

/* Format a slot line of the list. */
size_t
proto_fmt_slot(char *buf, size_t size, uint32_t index, const char *day, const char *time)
{
    int n = snprintf(buf, size, "%u %s %s\n", index, day, time);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Format the reply to a successful selection. */
size_t
proto_fmt_booked(char *buf, size_t size, const char *doctor, unsigned port)
{
    int n = snprintf(buf, size, "%s %u\n", doctor, port);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Format the push line of a slot just taken. */
size_t
proto_fmt_reserved(char *buf, size_t size, uint32_t index)
{
    int n = snprintf(buf, size, "* reserved %u\n", index);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Format the push line of a slot given back. */
size_t
proto_fmt_released(char *buf, size_t size, uint32_t index, const char *day, const char *time)
{
    int n = snprintf(buf, size, "* released %u %s %s\n", index, day, time);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Format the push line of a slot added to the schedule. */
size_t
proto_fmt_added(char *buf, size_t size, uint32_t index, const char *day, const char *time)
{
    int n = snprintf(buf, size, "* added %u %s %s\n", index, day, time);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Format the push line of a free slot taken off the schedule. */
size_t
proto_fmt_removed(char *buf, size_t size, uint32_t index)
{
    int n = snprintf(buf, size, "* removed %u\n", index);

    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

#define PROTO_ERROR_INFO(name, reason, closes)                                                     \
    {reason, "error " reason "\n", sizeof("error " reason "\n") - 1, closes},
const struct proto_error_info proto_errors[PROTO_NERRORS] = {PROTO_ERRORS(PROTO_ERROR_INFO)};
#undef PROTO_ERROR_INFO

/* Find an error by its reason, which ends at len or at a space. */
int
proto_error_find(const char *s, size_t len)
{
    const char *sp = memchr(s, ' ', len);
    size_t i, n = sp != NULL ? (size_t)(sp - s) : len;

    for (i = 0; i < PROTO_NERRORS; i++)
        if (strlen(proto_errors[i].reason) == n && memcmp(proto_errors[i].reason, s, n) == 0)
            return (int)i;
    return -1;
}
