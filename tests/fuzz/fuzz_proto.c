/*
 * fuzz_proto.c: the wire protocol's field splitter and the parser of the
 * center's reply lines. Splitting is checked against the rule in proto.h;
 * a parsed reply must hold NUL-terminated fields within their sizes and
 * read the same after being written out again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/*
 * The rule of proto_split: -1 for an empty line or bad spacing (a space at
 * either end or two in a row), else the number of fields.
 */
static long
fuzz_split_fields(const uint8_t *data, size_t size)
{
    size_t i, spaces = 0;

    if (size == 0 || data[0] == ' ' || data[size - 1] == ' ')
        return -1;
    for (i = 0; i < size; i++) {
        if (data[i] != ' ')
            continue;
        if (data[i + 1] == ' ')
            return -1;
        spaces++;
    }
    return (long)spaces + 1;
}

/* proto_split and the field helpers. */
static void
fuzz_split(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    long want = fuzz_split_fields(data, size);
    struct proto_fields pf;
    uint32_t index;
    const char *next = line;
    int i, stored;

    if (proto_split(line, size, &pf) == -1) {
        if (want != -1)
            abort();
        return;
    }
    if (want == -1 || pf.n != want)
        abort();
    /* The stored fields cover the line from its start, one space between each two. */
    stored = pf.n < PROTO_MAXFIELDS ? pf.n : PROTO_MAXFIELDS;
    for (i = 0; i < stored; i++) {
        if (pf.f[i] != next || pf.len[i] == 0 || memchr(pf.f[i], ' ', pf.len[i]) != NULL)
            abort();
        next = pf.f[i] + pf.len[i];
        if (i + 1 < pf.n) {
            if (*next != ' ')
                abort();
            next++;
        }
        if (proto_field_index(&pf, i, &index) == 0) {
            size_t j;
            if (index == 0)
                abort();
            for (j = 0; j < pf.len[i]; j++)
                if (pf.f[i][j] < '0' || pf.f[i][j] > '9')
                    abort();
        }
    }
    if (pf.n <= PROTO_MAXFIELDS && next != line + size)
        abort();
    /* Fields past the stored ones, or past the end, are never read. */
    for (i = stored; i <= pf.n && i < PROTO_MAXFIELDS + 2; i++)
        if (proto_field_index(&pf, i, &index) != -1 || proto_field_is(&pf, i, ""))
            abort();
}

/* Whether a fixed field is NUL-terminated inside its array. */
#define FUZZ_TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

/* Whether a field holds no control bytes up to its NUL, and nothing after it. */
static int
fuzz_text_ok(const char *s, size_t size)
{
    size_t len = strlen(s), i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    for (; i < size; i++)
        if (s[i] != '\0')
            return 0; /* bytes hidden behind a NUL */
    return 1;
}

/* Write a parsed reply back out as the center would send it; 0 if it has no text form. */
static size_t
fuzz_format(const struct proto_reply *r, char *buf, size_t size)
{
    int n = -1;

    switch (r->kind) {
    case PROTO_INVALID:
        return 0;
    case PROTO_SUCCESS:
        n = snprintf(buf, size, "success");
        break;
    case PROTO_FAILURE:
        n = snprintf(buf, size, "failure");
        break;
    case PROTO_NOTAVAILABLE:
        n = snprintf(buf, size, "notavailable");
        break;
    case PROTO_APPOINTMENT_NONE:
        n = snprintf(buf, size, "appointment none");
        break;
    case PROTO_SLOTS:
        n = snprintf(buf, size, "slots %u", r->count);
        break;
    case PROTO_SLOT:
        n = snprintf(buf, size, "%u %s %s", r->index, r->day, r->time);
        break;
    case PROTO_BOOKED:
        n = snprintf(buf, size, "%s %u", r->doctor, r->port);
        break;
    case PROTO_APPOINTMENT:
        n = snprintf(buf, size, "appointment %u %s %s %s %u", r->index, r->day, r->time, r->doctor,
                     r->port);
        break;
    case PROTO_CANCELLED:
        n = snprintf(buf, size, "cancelled %u", r->index);
        break;
    case PROTO_ERROR:
        n = snprintf(buf, size, "error %s", r->reason);
        break;
    case PROTO_PUSH_RESERVED:
        n = snprintf(buf, size, "* reserved %u", r->index);
        break;
    case PROTO_PUSH_ADDED:
        n = snprintf(buf, size, "* added %u %s %s", r->index, r->day, r->time);
        break;
    case PROTO_PUSH_REMOVED:
        n = snprintf(buf, size, "* removed %u", r->index);
        break;
    case PROTO_PUSH_RELEASED:
        n = snprintf(buf, size, "* released %u %s %s", r->index, r->day, r->time);
        break;
    }
    if (n <= 0 || (size_t)n >= size)
        abort();
    return (size_t)n;
}

/* proto_parse_reply: fields within bounds, and parse(format(parse(x))) == parse(x). */
static void
fuzz_reply(const uint8_t *data, size_t size)
{
    struct proto_reply r, again;
    char buf[256];
    size_t n;

    if (proto_parse_reply((const char *)data, size, &r) == -1) {
        if (r.kind != PROTO_INVALID)
            abort();
        return;
    }
    if (r.kind == PROTO_INVALID || r.kind > PROTO_PUSH_REMOVED)
        abort();
    if (!FUZZ_TERMINATED(r.day) || !FUZZ_TERMINATED(r.time) || !FUZZ_TERMINATED(r.doctor) ||
        !FUZZ_TERMINATED(r.reason))
        abort();
    /* Text a client may show holds no control bytes (the center never sends any). */
    if (!fuzz_text_ok(r.day, sizeof r.day) || !fuzz_text_ok(r.time, sizeof r.time) ||
        !fuzz_text_ok(r.doctor, sizeof r.doctor) || !fuzz_text_ok(r.reason, sizeof r.reason))
        abort();
    switch (r.kind) {
    case PROTO_SLOT:
    case PROTO_APPOINTMENT:
    case PROTO_PUSH_RELEASED:
    case PROTO_PUSH_ADDED:
        if (r.day[0] == '\0' || r.time[0] == '\0')
            abort();
        /* fall through */
    case PROTO_CANCELLED:
    case PROTO_PUSH_RESERVED:
    case PROTO_PUSH_REMOVED:
        if (r.index == 0)
            abort();
        break;
    case PROTO_ERROR:
        if (r.reason[0] == '\0' || r.reason[0] == ' ')
            abort();
        break;
    default:
        break;
    }
    if ((r.kind == PROTO_BOOKED || r.kind == PROTO_APPOINTMENT) &&
        (r.doctor[0] == '\0' || r.port < 1 || r.port > 65535))
        abort();
    n = fuzz_format(&r, buf, sizeof buf);
    if (proto_parse_reply(buf, n, &again) == -1 || again.kind != r.kind || again.index != r.index ||
        again.count != r.count || again.port != r.port || strcmp(again.day, r.day) != 0 ||
        strcmp(again.time, r.time) != 0 || strcmp(again.doctor, r.doctor) != 0 ||
        strcmp(again.reason, r.reason) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One run: the input as one line without its line ending. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_split(data, size);
    fuzz_reply(data, size);
    return 0;
}
