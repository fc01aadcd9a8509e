/* test_desk.c: the reception desk of the real hcs over raw HTTP: staff logins and their
 * throttle, the schedule as JSON, slots added and removed, bookings cancelled, the live event
 * stream and its slow readers, metrics, hostile requests, and a clean stop with streams open. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define STAFF_USER "alice"
#define STAFF_PASS "deskpass1"
#define DROP_LINE "desk: an event stream that does not read was dropped"

/* users.txt: two plain names, one with a quote and UTF-8, one with a backslash and a byte of
 * Latin-1 (malformed UTF-8). */
#define JORG "j\xc3\xb6\"rg"
#define JORG_JSON "\"j\xc3\xb6\\\"rg\""
#define MEL "m\xe9l\\x"
#define MEL_JSON "\"m\\u00e9l\\\\x\""
static const char users_text[] = "ann pw-ann-11\n"
                                 "bob pw-bob-22\n" JORG " pw-jorg-33\n" MEL " pw-mel-44\n";

static const char slots_text[] = "1 Mon 09am house 41001\n"
                                 "2 Tue 10am grey 41002\n"
                                 "3 Wed 11am house 41001\n"
                                 "5 Thu 02pm grey 41002\n";

/* The JSON of each slot above, free. */
#define SLOT1 "{\"index\":1,\"day\":\"Mon\",\"time\":\"09am\",\"doctor\":\"house\",\"port\":41001,"
#define SLOT2 "{\"index\":2,\"day\":\"Tue\",\"time\":\"10am\",\"doctor\":\"grey\",\"port\":41002,"
#define SLOT3 "{\"index\":3,\"day\":\"Wed\",\"time\":\"11am\",\"doctor\":\"house\",\"port\":41001,"
#define SLOT5 "{\"index\":5,\"day\":\"Thu\",\"time\":\"02pm\",\"doctor\":\"grey\",\"port\":41002,"
#define SLOT9 "{\"index\":9,\"day\":\"Mon\",\"time\":\"09am\",\"doctor\":\"house\",\"port\":41001,"
#define FREE "\"retired\":false,\"user\":null}"
#define HELD(user) "\"retired\":false,\"user\":\"" user "\"}"

/* ------------------------------------------------------------------------------------------ */
/* The staff file's row, made once by `hcs passwd`. */

static char *staff_row;

/* "alice $y$...": the row `hcs passwd alice` prints for STAFF_PASS. */
static const char *
staff_hash(void)
{
    struct hproc *p;
    const char *line;

    if (staff_row != NULL)
        return staff_row;
    p = h_start("passwd", NULL, "hcs", "passwd", STAFF_USER, NULL);
    h_send(p, "%s\n", STAFF_PASS);
    h_close_in(p);
    line = h_expect_prefix(p, STAFF_USER " $");
    if ((staff_row = strdup(line)) == NULL)
        abort();
    h_expect_exit(p, 0);
    return staff_row;
}

/* ------------------------------------------------------------------------------------------ */
/* A center with its desk. */

struct desk {
    struct fixture *f;
    unsigned port; /* the desk's HTTP port */
};

/* The desk's port in hcs's stderr, from offset from on. */
static unsigned
desk_port_at(const char *file, int line, struct fixture *f, size_t from)
{
    static const char key[] = "hcs: desk: http://127.0.0.1:";
    size_t off = h_wait_stderr_at(file, line, f->hcs, from, key);
    const char *s = h_stderr(f->hcs) + off + strlen(key);
    char *end;
    unsigned long port = strtoul(s, &end, 10);

    if (port == 0 || port > 65535 || strncmp(end, "/\n", 2) != 0)
        h_fail_at(file, line, "hcs: a desk line without a port");
    return (unsigned)port;
}

/*
 * A center on the test data with a desk: center is more of [center], desk more of [desk],
 * the staff file holds alice's hash; hcs started and both ports read.
 */
#define start(...) start_at(__FILE__, __LINE__, __VA_ARGS__)
static struct desk *
start_at(const char *file, int line, void **state, const char *center, const char *desk)
{
    struct desk *d = h_alloc(sizeof *d);
    struct fixture_opts o = {0};
    const char *row = staff_hash();

    o.users_text = users_text;
    o.slots_text = slots_text;
    o.config = h_str("%s[desk]\nport = 0\nstaff = staff.txt\n%s", center != NULL ? center : "",
                     desk != NULL ? desk : "");
    o.files_only = 1;
    d->f = fixture_setup_at(file, line, state, &o);
    h_file(d->f->dir, "staff.txt", "%s\n", row);
    fixture_start_at(file, line, d->f);
    d->port = desk_port_at(file, line, d->f, 0);
    return d;
}

/* ------------------------------------------------------------------------------------------ */
/* Small things. */

/* availabilities.txt of d as it is now. */
static const char *
schedule_text_file(struct desk *d)
{
    return h_slurp(h_path(d->f->dir, "availabilities.txt"));
}

/* Base64 of s (kept until h_cleanup). */
static const char *
b64(const char *s)
{
    static const char dig[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(s), i, o = 0;
    char *out = h_alloc(len / 3 * 4 + 8);

    for (i = 0; i < len; i += 3) {
        unsigned v = (unsigned)(unsigned char)s[i] << 16;

        if (i + 1 < len)
            v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)s[i + 2];
        out[o++] = dig[v >> 18 & 63];
        out[o++] = dig[v >> 12 & 63];
        out[o++] = i + 1 < len ? dig[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? dig[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* An Authorization header line for user:pass. */
static const char *
basic(const char *user, const char *pass)
{
    return h_str("Authorization: Basic %s\r\n", b64(h_str("%s:%s", user, pass)));
}

/* Basic alice:deskpass1 (checked against b64() in test_login). */
#define STAFF "Authorization: Basic YWxpY2U6ZGVza3Bhc3Mx\r\n"
#define JSON_TYPE "Content-Type: application/json\r\n"

/* How many times needle occurs in hay. */
static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += len;
    }
    return n;
}

/* Whether a line of text is exactly line. */
static int
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            return 1;
        p += len;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* A strict JSON checker (RFC 8259, UTF-8 checked too). */

static const char *jv_value(const char *p, const char *e, int depth);

static const char *
jv_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The length of the well-formed UTF-8 character at p, or 0. */
static size_t
jv_utf8(const unsigned char *p, const unsigned char *e)
{
    size_t n, i;
    unsigned cp;

    if (*p >= 0xc2 && *p <= 0xdf)
        n = 2, cp = *p & 0x1fu;
    else if (*p >= 0xe0 && *p <= 0xef)
        n = 3, cp = *p & 0x0fu;
    else if (*p >= 0xf0 && *p <= 0xf4)
        n = 4, cp = *p & 0x07u;
    else
        return 0;
    if ((size_t)(e - p) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static const char *
jv_string(const char *p, const char *e)
{
    if (p >= e || *p != '"')
        return NULL;
    for (p++; p < e && *p != '"';) {
        unsigned char ch = (unsigned char)*p;
        size_t n;
        int i;

        if (ch < 0x20)
            return NULL;
        if (ch == '\\') {
            if (++p >= e)
                return NULL;
            if (*p == 'u') {
                for (i = 1; i <= 4; i++)
                    if (p + i >= e || strchr("0123456789abcdefABCDEF", p[i]) == NULL ||
                        p[i] == '\0')
                        return NULL;
                p += 5;
            } else if (*p != '\0' && strchr("\"\\/bfnrt", *p) != NULL) {
                p++;
            } else {
                return NULL;
            }
        } else if (ch < 0x80) {
            p++;
        } else if ((n = jv_utf8((const unsigned char *)p, (const unsigned char *)e)) != 0) {
            p += n;
        } else {
            return NULL;
        }
    }
    return p < e ? p + 1 : NULL;
}

static const char *
jv_number(const char *p, const char *e)
{
    const char *s;

    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < e && *p == '.') {
        for (s = ++p; p < e && *p >= '0' && *p <= '9'; p++)
            continue;
        if (p == s)
            return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        for (s = p; p < e && *p >= '0' && *p <= '9'; p++)
            continue;
        if (p == s)
            return NULL;
    }
    return p;
}

static const char *
jv_value(const char *p, const char *e, int depth)
{
    static const char *const lits[] = {"true", "false", "null"};
    size_t i;
    char close;

    p = jv_ws(p, e);
    if (p >= e || depth > 64)
        return NULL;
    if (*p == '"')
        return jv_string(p, e);
    if (*p == '{' || *p == '[') {
        close = *p == '{' ? '}' : ']';
        p = jv_ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if ((p = jv_string(jv_ws(p, e), e)) == NULL)
                    return NULL;
                p = jv_ws(p, e);
                if (p >= e || *p++ != ':')
                    return NULL;
            }
            if ((p = jv_value(p, e, depth + 1)) == NULL)
                return NULL;
            p = jv_ws(p, e);
            if (p < e && *p == ',') {
                p++;
                continue;
            }
            return p < e && *p == close ? p + 1 : NULL;
        }
    }
    for (i = 0; i < 3; i++)
        if ((size_t)(e - p) >= strlen(lits[i]) && memcmp(p, lits[i], strlen(lits[i])) == 0)
            return p + strlen(lits[i]);
    return jv_number(p, e);
}

/* Whether s[0..len) is one valid JSON text. */
static int
json_ok(const char *s, size_t len)
{
    const char *e = s + len, *p = jv_value(s, e, 0);

    return p != NULL && jv_ws(p, e) == e;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP/1.1 over a raw connection. */

struct hresp {
    int status;       /* 0: no status line came */
    const char *head; /* the status line and the headers */
    const char *body; /* NUL-terminated (chunks joined) */
    size_t len;
    enum tc_end end; /* how the connection ended */
};

/* The value of header name in r, or NULL (kept until h_cleanup). */
static const char *
hdr(const struct hresp *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->head;

    while (p != NULL && (p = strstr(p, "\r\n")) != NULL) {
        const char *eol;

        p += 2;
        if ((eol = strstr(p, "\r\n")) == NULL)
            eol = p + strlen(p);
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (*v == ' ')
                v++;
            return h_str("%.*s", (int)(eol - v), v);
        }
    }
    return NULL;
}

/* The Content-Type of r, "" if none. */
static const char *
ctype(const struct hresp *r)
{
    const char *t = hdr(r, "Content-Type");

    return t != NULL ? t : "";
}

/* Decode a chunked body at s[0..len) into out (h_alloc'ed); its length, or -1 if malformed. */
static long
unchunk(const char *s, size_t len, char **out, int *complete)
{
    char *o = h_alloc(len + 1);
    size_t off = 0, n = 0;

    *complete = 0;
    while (off < len) {
        char *end;
        const char *crlf = strstr(s + off, "\r\n");
        unsigned long size = strtoul(s + off, &end, 16);

        if (crlf == NULL || crlf >= s + len || end == s + off)
            break;
        off = (size_t)(crlf - s) + 2;
        if (size == 0) {
            *complete = 1;
            break;
        }
        if (off + size + 2 > len)
            break;
        memcpy(o + n, s + off, size);
        n += size;
        off += size;
        if (memcmp(s + off, "\r\n", 2) != 0)
            return -1;
        off += 2;
    }
    o[n] = '\0';
    *out = o;
    return (long)n;
}

/* Parse a whole response in buf[0..len). */
static struct hresp
http_parse(const char *file, int line, const char *buf, size_t len, enum tc_end end, int head_only)
{
    struct hresp r = {0, "", "", 0, end};
    const char *eoh, *te, *cl;
    char *copy = h_alloc(len + 1), *body;
    int minor, complete;

    memcpy(copy, buf, len);
    if (len == 0)
        return r;
    if ((eoh = strstr(copy, "\r\n\r\n")) == NULL)
        h_fail_at(file, line, "desk: a response without the end of its headers: \"%s\"", copy);
    r.head = h_str("%.*s", (int)(eoh - copy + 2), copy);
    if (sscanf(copy, "HTTP/1.%d %d ", &minor, &r.status) != 2)
        h_fail_at(file, line, "desk: a bad status line: \"%s\"", r.head);
    body = (char *)eoh + 4;
    r.len = len - (size_t)(body - copy);
    r.body = body;
    if (head_only)
        return r;
    if ((te = hdr(&r, "Transfer-Encoding")) != NULL && strcasecmp(te, "chunked") == 0) {
        long n = unchunk(body, r.len, &body, &complete);

        if (n < 0 || !complete)
            h_fail_at(file, line, "desk: a bad chunked body after \"%s\"", r.head);
        r.body = body;
        r.len = (size_t)n;
    } else if ((cl = hdr(&r, "Content-Length")) != NULL && strtoul(cl, NULL, 10) != r.len) {
        h_fail_at(file, line, "desk: Content-Length %s, but %zu bytes came: \"%s\"", cl, r.len,
                  copy);
    }
    return r;
}

/* Read everything until the desk closes the connection, and parse it. */
static struct hresp
http_read_at(const char *file, int line, struct tconn *c, int head_only)
{
    long long deadline = h_now_ms() + h_timeout_ms;

    while (c->end == TC_OPEN && h_now_ms() < deadline)
        tc_recv(c, (int)(deadline - h_now_ms()));
    if (c->end == TC_OPEN)
        h_fail_at(file, line, "desk: the connection on port %u did not close within %d ms",
                  c->lport, h_timeout_ms);
    return http_parse(file, line, c->buf, c->len, c->end, head_only);
}

/* Send raw bytes on a new connection and read the answer until the desk closes (head_only:
 * the answer to HEAD, whose Content-Length tells of a body not sent). */
static struct hresp
http_send_at(const char *file, int line, unsigned port, const char *req, size_t len, int head_only)
{
    struct tconn *c = tc_connect_at(file, line, port, 0);
    ssize_t n = tc_send_some(c, req, len, h_timeout_ms);
    struct hresp r;

    (void)n; /* the desk may close before it has read everything: its answer still counts */
    r = http_read_at(file, line, c, head_only);
    tc_close(c);
    return r;
}

/* Send raw bytes on a new connection and read the answer until the desk closes. */
static struct hresp
http_raw_at(const char *file, int line, unsigned port, const char *req, size_t len)
{
    return http_send_at(file, line, port, req, len, 0);
}

/* One request (headers: more header lines, each ending in \r\n; body NULL: none). */
static struct hresp
http_at(const char *file, int line, unsigned port, const char *method, const char *path,
        const char *headers, const char *body)
{
    const char *req = h_str("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s",
                            method, path, port, headers != NULL ? headers : "");

    if (body != NULL)
        req = h_str("%sContent-Length: %zu\r\n\r\n%s", req, strlen(body), body);
    else
        req = h_str("%s\r\n", req);
    return http_send_at(file, line, port, req, strlen(req), strcmp(method, "HEAD") == 0);
}

#define GET(d, path, headers) http_at(__FILE__, __LINE__, (d)->port, "GET", (path), (headers), NULL)
#define POST(d, path, headers, body)                                                               \
    http_at(__FILE__, __LINE__, (d)->port, "POST", (path), (headers), (body))
#define DELETE(d, path, headers)                                                                   \
    http_at(__FILE__, __LINE__, (d)->port, "DELETE", (path), (headers), NULL)

/* The status must be code; a JSON answer must be valid JSON. */
#define expect_status(r, code) expect_status_at(__FILE__, __LINE__, (r), (code))
static struct hresp
expect_status_at(const char *file, int line, struct hresp r, int code)
{
    const char *type = hdr(&r, "Content-Type");

    if (r.status != code)
        h_fail_at(file, line, "desk: status %d, expected %d: \"%s\" \"%s\"", r.status, code, r.head,
                  r.body);
    if (type != NULL && strncmp(type, "application/json", 16) == 0 && !json_ok(r.body, r.len))
        h_fail_at(file, line, "desk: not valid JSON: \"%s\"", r.body);
    return r;
}

/* The body must hold text. */
#define expect_body(r, text) expect_body_at(__FILE__, __LINE__, (r), (text))
static void
expect_body_at(const char *file, int line, struct hresp r, const char *text)
{
    if (strstr(r.body, text) == NULL)
        h_fail_at(file, line, "desk: expected \"%s\" in the body \"%s\"", text, r.body);
}

/* A JSON error answer: the code, {"error":"<something>"}. */
#define expect_error(r, code) expect_error_at(__FILE__, __LINE__, (r), (code))
static void
expect_error_at(const char *file, int line, struct hresp r, int code)
{
    const char *type;

    expect_status_at(file, line, r, code);
    type = hdr(&r, "Content-Type");
    if (type == NULL || strcmp(type, "application/json") != 0 ||
        strncmp(r.body, "{\"error\":\"", 10) != 0 || r.body[10] == '"')
        h_fail_at(file, line, "desk: expected a JSON error, got \"%s\" \"%s\"", r.head, r.body);
}

/* A 401 with the challenge. */
#define expect_401(r) expect_401_at(__FILE__, __LINE__, (r))
static void
expect_401_at(const char *file, int line, struct hresp r)
{
    const char *ch;

    expect_error_at(file, line, r, 401);
    if ((ch = hdr(&r, "WWW-Authenticate")) == NULL || strncmp(ch, "Basic realm=\"", 13) != 0)
        h_fail_at(file, line, "desk: a 401 without a Basic challenge: \"%s\"", r.head);
}

/* The schedule as the desk gives it (valid JSON). */
#define schedule(d) schedule_at(__FILE__, __LINE__, (d))
static const char *
schedule_at(const char *file, int line, struct desk *d)
{
    struct hresp r = http_at(file, line, d->port, "GET", "/api/schedule", STAFF, NULL);

    expect_status_at(file, line, r, 200);
    if (strncmp(r.body, "{\"slots\":[", 10) != 0)
        h_fail_at(file, line, "desk: not a schedule: \"%s\"", r.body);
    return r.body;
}

/* The value of the metric line that starts with name and a space; fails if there is none. */
#define metric(d, name) metric_at(__FILE__, __LINE__, (d), (name))
static unsigned long long
metric_at(const char *file, int line, struct desk *d, const char *name)
{
    struct hresp r = http_at(file, line, d->port, "GET", "/metrics", STAFF, NULL);
    const char *p;
    size_t n = strlen(name);

    expect_status_at(file, line, r, 200);
    for (p = r.body; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    h_fail_at(file, line, "desk: no metric %s in \"%s\"", name, r.body);
}

/* Poll /metrics until name is want (bounded by h_timeout_ms). */
#define wait_metric(d, name, want) wait_metric_at(__FILE__, __LINE__, (d), (name), (want))
static void
wait_metric_at(const char *file, int line, struct desk *d, const char *name,
               unsigned long long want)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    unsigned long long v;

    while ((v = metric_at(file, line, d, name)) != want) {
        if (h_now_ms() > deadline)
            h_fail_at(file, line, "desk: %s stayed %llu, expected %llu", name, v, want);
        h_pump(20);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The event stream (text/event-stream over chunked HTTP/1.1). */

struct sse {
    struct tconn *c;
    char *dec; /* the decoded body; taken up to pos */
    size_t len, pos, cap;
    char event[32];
    const char *data; /* of the event taken last (kept until h_cleanup) */
};

/* Every stream of the test, so that teardown frees their decoded text. */
static struct sse *sses[H_MAXPROCS * 4];
static size_t nsses;

/* cmocka teardown: the streams' buffers, then the fixture's. */
static int
desk_teardown(void **state)
{
    size_t i;

    for (i = 0; i < nsses; i++)
        free(sses[i]->dec);
    nsses = 0;
    return fixture_teardown(state);
}

/* Send GET /events on a new connection (rcvbuf > 0: that SO_RCVBUF); read nothing yet. */
static struct sse *
sse_send_at(const char *file, int line, struct desk *d, int rcvbuf)
{
    struct sse *s = h_alloc(sizeof *s);

    if (nsses == sizeof sses / sizeof sses[0])
        h_fail_at(file, line, "test: too many event streams");
    sses[nsses++] = s;
    s->c = tc_connect_at(file, line, d->port, rcvbuf);
    tc_sendf_at(file, line, s->c, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s\r\n", d->port,
                STAFF);
    return s;
}

/* Read the head of the stream's answer: it must be 200, text/event-stream, chunked. */
static void
sse_head_at(const char *file, int line, struct sse *s)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    struct tconn *c = s->c;
    const char *eoh;
    struct hresp r;
    size_t n;

    for (;;) {
        if (c->len > 0 && (eoh = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL)
            break;
        if (c->end != TC_OPEN || h_now_ms() > deadline)
            h_fail_at(file, line, "desk: no head of the event stream (%s, %zu bytes)",
                      tc_end_name(c->end), c->len);
        tc_recv(c, 20);
    }
    n = (size_t)(eoh - c->buf) + 4;
    r = http_parse(file, line, c->buf, n, TC_OPEN, 1);
    if (r.status != 200 || hdr(&r, "Content-Type") == NULL ||
        strcmp(hdr(&r, "Content-Type"), "text/event-stream") != 0 ||
        hdr(&r, "Transfer-Encoding") == NULL || strcmp(hdr(&r, "Transfer-Encoding"), "chunked"))
        h_fail_at(file, line, "desk: not an event stream: \"%s\"", r.head);
    c->len -= n;
    memmove(c->buf, c->buf + n, c->len);
}

/* Move the complete chunks read so far into the decoded text. 0, or -1 at the last chunk. */
static int
sse_decode_at(const char *file, int line, struct sse *s)
{
    struct tconn *c = s->c;
    size_t off = 0;
    int last = 0;

    while (off < c->len) {
        const char *crlf = memmem(c->buf + off, c->len - off, "\r\n", 2);
        unsigned long size;
        char *end;

        if (crlf == NULL)
            break;
        size = strtoul(c->buf + off, &end, 16);
        if (end != crlf)
            h_fail_at(file, line, "desk: a bad chunk size in the event stream");
        if (size == 0) {
            last = 1;
            off = (size_t)(crlf - c->buf) + 2;
            break;
        }
        if ((size_t)(crlf - c->buf) + 2 + size + 2 > c->len)
            break;
        off = (size_t)(crlf - c->buf) + 2;
        if (s->len + size + 1 > s->cap) {
            if (s->pos > 0) {
                memmove(s->dec, s->dec + s->pos, s->len - s->pos);
                s->len -= s->pos;
                s->pos = 0;
            }
            while (s->len + size + 1 > s->cap)
                s->cap = s->cap ? s->cap * 2 : 65536;
            if ((s->dec = realloc(s->dec, s->cap)) == NULL)
                abort();
        }
        memcpy(s->dec + s->len, c->buf + off, size);
        s->len += size;
        s->dec[s->len] = '\0';
        off += size;
        if (memcmp(c->buf + off, "\r\n", 2) != 0)
            h_fail_at(file, line, "desk: a chunk of the event stream without its CRLF");
        off += 2;
    }
    c->len -= off;
    memmove(c->buf, c->buf + off, c->len);
    return last ? -1 : 0;
}

/*
 * Take the next complete event that is not only a comment or a retry. Returns 1 with
 * s->event and s->data set, 0 when none is complete yet; within ms it waits for one.
 */
static int
sse_take_at(const char *file, int line, struct sse *s, int ms)
{
    long long deadline = h_now_ms() + ms;

    for (;;) {
        char *end;

        while (tc_recv(s->c, 0))
            continue;
        if (sse_decode_at(file, line, s) == -1)
            h_fail_at(file, line, "desk: the event stream ended");
        while (s->dec != NULL && (end = strstr(s->dec + s->pos, "\n\n")) != NULL) {
            char *block = (char *)h_str("%.*s", (int)(end - (s->dec + s->pos)), s->dec + s->pos);
            char *p, *nl, *ev = NULL, *data = NULL;

            s->pos = (size_t)(end - s->dec) + 2;
            for (p = block; p != NULL; p = nl) {
                if ((nl = strchr(p, '\n')) != NULL)
                    *nl++ = '\0';
                if (strncmp(p, "event: ", 7) == 0)
                    ev = p + 7;
                else if (strncmp(p, "data: ", 6) == 0)
                    data = p + 6;
                else if (*p != ':' && strncmp(p, "retry: ", 7) != 0)
                    h_fail_at(file, line, "desk: an unknown line in the event stream: \"%.60s\"",
                              p);
            }
            if (ev == NULL && data == NULL)
                continue; /* ": ping" */
            if (ev == NULL || data == NULL)
                h_fail_at(file, line, "desk: an event without a name or data: \"%s\"", block);
            snprintf(s->event, sizeof s->event, "%s", ev);
            s->data = data;
            if (!json_ok(s->data, strlen(s->data)))
                h_fail_at(file, line, "desk: the data of event %s is not valid JSON: \"%s\"",
                          s->event, s->data);
            return 1;
        }
        if (s->c->end != TC_OPEN)
            h_fail_at(file, line, "desk: the event stream ended (%s)", tc_end_name(s->c->end));
        if (h_now_ms() >= deadline)
            return 0;
        tc_recv(s->c, (int)(deadline - h_now_ms()));
    }
}

/* The next event must be ev with data holding text. */
#define sse_expect(s, ev, text) sse_expect_at(__FILE__, __LINE__, (s), (ev), (text))
static void
sse_expect_at(const char *file, int line, struct sse *s, const char *ev, const char *text)
{
    if (!sse_take_at(file, line, s, h_timeout_ms))
        h_fail_at(file, line, "desk: no event %s within %d ms", ev, h_timeout_ms);
    if (strcmp(s->event, ev) != 0 || strstr(s->data, text) == NULL)
        h_fail_at(file, line, "desk: expected event %s with \"%s\", got %s \"%s\"", ev, text,
                  s->event, s->data);
}

/* A stream opened and read up to its snapshot. */
#define sse_open(d) sse_open_at(__FILE__, __LINE__, (d))
static struct sse *
sse_open_at(const char *file, int line, struct desk *d)
{
    struct sse *s = sse_send_at(file, line, d, 0);

    sse_head_at(file, line, s);
    sse_expect_at(file, line, s, "snapshot", "{\"slots\":[");
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Patients. */

#define LIST4 "slots 4\n1 Mon 09am\n2 Tue 10am\n3 Wed 11am\n5 Thu 02pm\n"

/* ------------------------------------------------------------------------------------------ */
/* 1. Logins. */

static void
test_login(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    static const char *const paths[] = {"/", "/api/schedule", "/events", "/metrics", "/nothing"};
    struct hresp r;
    size_t i;

    if (strcmp(basic(STAFF_USER, STAFF_PASS), STAFF) != 0)
        h_fail("b64: \"%s\"", basic(STAFF_USER, STAFF_PASS));
    r = expect_status(GET(d, "/healthz", NULL), 200);
    if (strcmp(r.body, "ok\n") != 0 || strncmp(ctype(&r), "text/plain", 10) != 0)
        h_fail("/healthz: \"%s\" \"%s\"", r.head, r.body);
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
        expect_401(GET(d, paths[i], NULL));
    expect_401(POST(d, "/api/slots", JSON_TYPE,
                    "{\"index\":9,\"day\":\"Mon\",\"time\":\"09am\",\"doctor\":\"house\","
                    "\"port\":41001}"));
    expect_401(DELETE(d, "/api/slots/1", NULL));
    expect_401(DELETE(d, "/api/bookings/1", NULL));
    /* Wrong logins of every kind. */
    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "deskpass2")));
    expect_401(GET(d, "/api/schedule", basic("mallory", STAFF_PASS)));
    expect_401(GET(d, "/api/schedule", basic("", "")));
    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "")));
    expect_401(GET(d, "/api/schedule", "Authorization: Basic !!!!\r\n"));
    expect_401(GET(d, "/api/schedule", h_str("Authorization: Basic %s\r\n", b64(STAFF_USER))));
    expect_401(GET(d, "/api/schedule", "Authorization: Bearer abc\r\n"));
    /* The right one: the page, the schedule; nothing was changed by the refusals. */
    r = expect_status(GET(d, "/", STAFF), 200);
    if (strncmp(ctype(&r), "text/html", 9) != 0 || strstr(r.body, "<") == NULL)
        h_fail("/: not the page: \"%s\"", r.head);
    expect_body(expect_status(GET(d, "/api/schedule", STAFF), 200), SLOT1 FREE);
    /* A login that worked does not make a wrong one work. */
    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "deskpass2")));
    expect_status(GET(d, "/api/schedule", STAFF), 200);
    /* Unknown pages and methods, logged in. */
    expect_error(GET(d, "/nothing", STAFF), 404);
    expect_error(DELETE(d, "/api/schedule", STAFF), 405);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. The schedule as JSON, with bookings and unusual user names. */

static void
test_schedule(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    const char *s = schedule(d);
    struct tconn *j, *m;

    if (strcmp(s, "{\"slots\":[" SLOT1 FREE "," SLOT2 FREE "," SLOT3 FREE "," SLOT5 FREE "]}\n") !=
        0)
        h_fail("schedule: \"%s\"", s);
    j = fixture_login(d->f, JORG, "pw-jorg-33");
    tc_sendf(j, "selection 2\n");
    tc_expect(j, "grey 41002");
    s = schedule(d);
    if (strstr(s, SLOT2 "\"retired\":false,\"user\":" JORG_JSON "}") == NULL ||
        count(s, "\"index\":") != 4 || count(s, "\"user\":null") != 3)
        h_fail("schedule after %s booked 2: \"%s\"", JORG, s);
    m = fixture_login(d->f, MEL, "pw-mel-44");
    tc_sendf(m, "selection 5\n");
    tc_expect(m, "grey 41002");
    s = schedule(d);
    if (strstr(s, SLOT5 "\"retired\":false,\"user\":" MEL_JSON "}") == NULL ||
        strstr(s, SLOT2 "\"retired\":false,\"user\":" JORG_JSON "}") == NULL ||
        count(s, "\"user\":null") != 2)
        h_fail("schedule after %s booked 5: \"%s\"", MEL, s);
    /* A cancel shows as free again. */
    tc_sendf(j, "cancel\n");
    tc_expect(j, "cancelled 2");
    s = schedule(d);
    if (strstr(s, SLOT2 FREE) == NULL)
        h_fail("schedule after the cancel: \"%s\"", s);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. Adding a slot. */

#define BODY9 "{\"index\":9,\"day\":\"Mon\",\"time\":\"09am\",\"doctor\":\"house\",\"port\":41001}"

static void
test_add_slot(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    struct tconn *w = fixture_waiter(d->f, "bob", "pw-bob-22", LIST4);
    const char *avail = h_path(d->f->dir, "availabilities.txt");
    const char *before;
    struct hresp r;
    struct tconn *c;

    r = expect_status(POST(d, "/api/slots", STAFF JSON_TYPE, BODY9), 201);
    expect_body(r, SLOT9 FREE);
    tc_expect(w, "* added 9 Mon 09am");
    if (!has_line(h_slurp(avail), "9 Mon 09am house 41001"))
        h_fail("availabilities.txt without the new row: \"%s\"", h_slurp(avail));
    expect_body(expect_status(GET(d, "/api/schedule", STAFF), 200), SLOT9 FREE);
    c = fixture_login(d->f, "ann", "pw-ann-11");
    tc_sendf(c, "available\n");
    tc_expect(c, "slots 5");
    tc_expect(c, "1 Mon 09am");
    tc_expect(c, "2 Tue 10am");
    tc_expect(c, "3 Wed 11am");
    tc_expect(c, "5 Thu 02pm");
    tc_expect(c, "9 Mon 09am");
    tc_sendf(c, "selection 9\n");
    tc_expect(c, "house 41001");
    tc_expect(w, "* reserved 9");

    before = schedule(d);
    /* A duplicate index, of a free and of a booked slot. */
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE,
                      "{\"index\":1,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 409);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE, BODY9), 409);
    /* Malformed bodies. */
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE, "{\"index\":10,\"day\":\"Fri\""), 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE, "not json"), 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE, ""), 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE,
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\"}"),
                 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE,
                      "{\"index\":10,\"day\":\"Fri day\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE,
                      "{\"index\":0,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 400);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE,
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002,\"extra\":1}"),
                 400);
    /* No or another content type. */
    expect_error(POST(d, "/api/slots", STAFF,
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 415);
    expect_error(POST(d, "/api/slots", STAFF "Content-Type: text/plain\r\n",
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 415);
    expect_error(POST(d, "/api/slots", STAFF "Content-Type: application/jsonx\r\n",
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 415);
    /* Another site's page. */
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE "Origin: http://evil.example\r\n",
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 403);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE "Origin: null\r\n",
                      "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                      "\"port\":41002}"),
                 403);
    expect_error(DELETE(d, "/api/slots/3", STAFF "Origin: http://evil.example\r\n"), 403);
    expect_error(DELETE(d, "/api/bookings/9", STAFF "Origin: http://evil.example\r\n"), 403);
    /* None of them changed anything: the schedule, the file, the waiting patient. */
    if (strcmp(schedule(d), before) != 0)
        h_fail("the refused requests changed the schedule: \"%s\", was \"%s\"", schedule(d),
               before);
    if (has_line(h_slurp(avail), "10 Fri 01pm grey 41002") ||
        !has_line(h_slurp(avail), "3 Wed 11am "
                                  "house 41001"))
        h_fail("availabilities.txt changed: \"%s\"", h_slurp(avail));
    /* The desk's own page (Origin = http://<Host>) may; with a charset too. */
    r = expect_status(POST(d, "/api/slots",
                           h_str(STAFF "Content-Type: application/json; charset=utf-8\r\n"
                                       "Origin: http://127.0.0.1:%u\r\n",
                                 d->port),
                           "{\"index\":10,\"day\":\"Fri\",\"time\":\"01pm\",\"doctor\":\"grey\","
                           "\"port\":41002}"),
                      201);
    tc_expect(w, "* added 10 Fri 01pm");
    if (!has_line(h_slurp(avail), "10 Fri 01pm grey 41002"))
        h_fail("availabilities.txt without row 10: \"%s\"", h_slurp(avail));
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. Removing a slot. */

static void
test_remove_slot(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    struct tconn *w = fixture_waiter(d->f, "bob", "pw-bob-22", LIST4);
    const char *avail = h_path(d->f->dir, "availabilities.txt");
    struct tconn *c;
    struct hresp r;

    expect_status(POST(d, "/api/slots", STAFF JSON_TYPE, BODY9), 201);
    tc_expect(w, "* added 9 Mon 09am");
    r = expect_status(DELETE(d, "/api/slots/9", STAFF), 200);
    expect_body(r, "{\"removed\":9}");
    tc_expect(w, "* removed 9");
    if (has_line(h_slurp(avail), "9 Mon 09am house 41001") ||
        !has_line(h_slurp(avail), "1 Mon 09am house 41001"))
        h_fail("availabilities.txt: \"%s\"", h_slurp(avail));
    if (strstr(schedule(d), "\"index\":9,") != NULL)
        h_fail("slot 9 still in the schedule: \"%s\"", schedule(d));
    /* A slot of the original file, free. */
    expect_status(DELETE(d, "/api/slots/3", STAFF), 200);
    tc_expect(w, "* removed 3");
    /* A booked slot stays. */
    c = fixture_login(d->f, "ann", "pw-ann-11");
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "grey 41002");
    tc_expect(w, "* reserved 2");
    expect_error(DELETE(d, "/api/slots/2", STAFF), 409);
    expect_body(expect_status(GET(d, "/api/schedule", STAFF), 200), SLOT2 HELD("ann"));
    if (!has_line(h_slurp(avail), "2 Tue 10am grey 41002"))
        h_fail("availabilities.txt lost the booked row: \"%s\"", h_slurp(avail));
    /* Unknown slots, also one removed already. */
    expect_error(DELETE(d, "/api/slots/77", STAFF), 404);
    expect_error(DELETE(d, "/api/slots/9", STAFF), 404);
    /* The patients still see the truth. */
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment 2 Tue 10am grey 41002");
    tc_sendf(w, "selection 3\n");
    tc_expect(w, "notavailable");
    tc_sendf(w, "selection 5\n");
    tc_expect(w, "grey 41002");
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. Cancelling a booking (with a state file: the answer waits for the commit). */

static void
test_cancel_booking(void **state)
{
    struct desk *d = start(state, "state = state.db\n", NULL);
    struct tconn *w = fixture_waiter(d->f, "bob", "pw-bob-22", LIST4);
    struct tconn *c = fixture_login(d->f, "ann", "pw-ann-11"), *j;
    struct hresp r;

    tc_sendf(c, "selection 2\n");
    tc_expect(c, "grey 41002");
    tc_expect(w, "* reserved 2");
    r = expect_status(DELETE(d, "/api/bookings/2", STAFF), 200);
    if (strcmp(r.body, "{\"cancelled\":2,\"user\":\"ann\"}\n") != 0)
        h_fail("cancel: \"%s\"", r.body);
    tc_expect(w, "* released 2 Tue 10am");
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment none");
    expect_body(expect_status(GET(d, "/api/schedule", STAFF), 200), SLOT2 FREE);
    /* Nothing booked there (any more), no such slot. */
    expect_error(DELETE(d, "/api/bookings/2", STAFF), 404);
    expect_error(DELETE(d, "/api/bookings/1", STAFF), 404);
    expect_error(DELETE(d, "/api/bookings/77", STAFF), 404);
    /* The user may book again; the name comes out escaped in the answer too. */
    tc_sendf(c, "selection 1\n");
    tc_expect(c, "house 41001");
    tc_expect(w, "* reserved 1");
    j = fixture_login(d->f, JORG, "pw-jorg-33");
    tc_sendf(j, "selection 5\n");
    tc_expect(j, "grey 41002");
    tc_expect(w, "* reserved 5");
    r = expect_status(DELETE(d, "/api/bookings/5", STAFF), 200);
    if (strcmp(r.body, "{\"cancelled\":5,\"user\":" JORG_JSON "}\n") != 0)
        h_fail("cancel of %s: \"%s\"", JORG, r.body);
    tc_expect(w, "* released 5 Thu 02pm");
    /* The cancels were stored: after a restart 1 is held, 2 and 5 are free. */
    tc_close(c);
    tc_close(j);
    tc_close(w);
    fixture_stop(d->f);
    fixture_start(d->f);
    d->port = desk_port_at(__FILE__, __LINE__, d->f, 0);
    {
        const char *s = schedule(d);

        if (strstr(s, SLOT1 HELD("ann")) == NULL || strstr(s, SLOT2 FREE) == NULL ||
            strstr(s, SLOT5 FREE) == NULL)
            h_fail("schedule after the restart: \"%s\"", s);
    }
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. The event stream. */

static void
test_events(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    struct sse *s = sse_send_at(__FILE__, __LINE__, d, 0);
    struct tconn *c;

    sse_head_at(__FILE__, __LINE__, s);
    sse_expect(s, "snapshot",
               "{\"slots\":[" SLOT1 FREE "," SLOT2 FREE "," SLOT3 FREE "," SLOT5 FREE "]}");
    c = fixture_login(d->f, "ann", "pw-ann-11");
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "grey 41002");
    sse_expect(s, "slot", SLOT2 HELD("ann"));
    expect_status(DELETE(d, "/api/slots/3", STAFF), 200);
    sse_expect(s, "removed", "{\"index\":3}");
    /* A change of the desk goes through a reload: a new snapshot follows its events. */
    sse_expect(s, "snapshot", "{\"slots\":[" SLOT1 FREE "," SLOT2 HELD("ann") "," SLOT5 FREE "]}");
    expect_status(POST(d, "/api/slots", STAFF JSON_TYPE, BODY9), 201);
    sse_expect(s, "slot", SLOT9 FREE);
    sse_expect(s, "snapshot",
               "{\"slots\":[" SLOT1 FREE "," SLOT2 HELD("ann") "," SLOT5 FREE "," SLOT9 FREE "]}");
    tc_sendf(c, "cancel\n");
    tc_expect(c, "cancelled 2");
    sse_expect(s, "slot", SLOT2 FREE);
    {
        struct tconn *j = fixture_login(d->f, JORG, "pw-jorg-33");

        tc_sendf(j, "selection 9\n");
        tc_expect(j, "house 41001");
        sse_expect(s, "slot", SLOT9 "\"retired\":false,\"user\":" JORG_JSON "}");
        expect_status(DELETE(d, "/api/bookings/9", STAFF), 200);
        sse_expect(s, "slot", SLOT9 FREE);
    }
    /* A second stream gets the current schedule as its snapshot. */
    {
        struct sse *t = sse_send_at(__FILE__, __LINE__, d, 0);

        sse_head_at(__FILE__, __LINE__, t);
        sse_expect(t, "snapshot",
                   "{\"slots\":[" SLOT1 FREE "," SLOT2 FREE "," SLOT5 FREE "," SLOT9 FREE "]}");
    }
    /* Nothing more came on the first. */
    if (sse_take_at(__FILE__, __LINE__, s, 0))
        h_fail("desk: an unexpected event %s \"%s\"", s->event, s->data);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 7. A stream that does not read is dropped; the others go on. */

/* A user name of 64 bytes and a doctor of 31: bigger events, fewer changes to fill 1 MiB. */
#define LONGUSER "u123456789012345678901234567890123456789012345678901234567890123"
#define LONGDOC "d123456789012345678901234567890"

static void
test_slow_stream(void **state)
{
    struct desk *d = h_alloc(sizeof *d);
    struct fixture_opts o = {0};
    struct sse *slow, *good;
    struct tconn *p;
    long long deadline;
    size_t from, changes = 0, seen = 0, batch = 50, i, bytes = 0;
    int dropped = 0;
    char *cmds;
    enum tc_end end;

    o.users_text = "ann pw-ann-11\n" LONGUSER " pw-long-11\n";
    o.slots_text = "1 Mon 09am house 41001\n2 Tue 10am " LONGDOC " 41002\n";
    o.config = "[desk]\nport = 0\nstaff = staff.txt\n";
    o.files_only = 1;
    d->f = fixture_setup(state, &o);
    h_file(d->f->dir, "staff.txt", "%s\n", staff_hash());
    fixture_start(d->f);
    d->port = desk_port_at(__FILE__, __LINE__, d->f, 0);

    slow = sse_send_at(__FILE__, __LINE__, d, 2048);
    good = sse_open(d);
    wait_metric(d, "hcs_desk_streams", 2);
    p = fixture_login(d->f, LONGUSER, "pw-long-11");
    cmds = h_alloc(batch * 32);
    for (i = 0; i < batch; i++)
        strcat(cmds, "selection 2\ncancel\n");
    from = strlen(h_stderr(d->f->hcs));
    deadline = h_now_ms() + 120000;
    while (!dropped && h_now_ms() < deadline) {
        tc_send(p, cmds, strlen(cmds));
        for (i = 0; i < batch; i++) {
            tc_expect(p, LONGDOC " 41002");
            tc_expect(p, "cancelled 2");
        }
        changes += 2 * batch;
        while (sse_take_at(__FILE__, __LINE__, good, 0)) {
            if (strcmp(good->event, "slot") != 0 || strstr(good->data, "\"index\":2,") == NULL)
                h_fail("desk: an unexpected event %s \"%s\"", good->event, good->data);
            seen++;
        }
        dropped = strstr(h_stderr(d->f->hcs) + from, DROP_LINE "\n") != NULL;
    }
    if (!dropped)
        h_fail("desk: the stream that does not read was not dropped after %zu changes", changes);
    /* Once: the good stream is still there and has every event, the patient goes on. */
    if (count(h_stderr(d->f->hcs), DROP_LINE) != 1)
        h_fail("desk: more than one stream dropped");
    wait_metric(d, "hcs_desk_streams", 1);
    tc_sendf(p, "selection 2\n");
    tc_expect(p, LONGDOC " 41002");
    changes++;
    while (seen < changes) {
        if (!sse_take_at(__FILE__, __LINE__, good, h_timeout_ms))
            h_fail("desk: the good stream has %zu of %zu events", seen, changes);
        if (strcmp(good->event, "slot") != 0 || strstr(good->data, "\"index\":2,") == NULL)
            h_fail("desk: an unexpected event %s \"%s\"", good->event, good->data);
        seen++;
    }
    if (strstr(good->data, "\"user\":\"" LONGUSER "\"") == NULL)
        h_fail("desk: the last event is not the booking: \"%s\"", good->data);
    /* The dropped one ends once what the kernel holds is read: less than was sent. */
    end = tc_drain(slow->c, h_timeout_ms, &bytes);
    if (end == TC_OPEN)
        h_fail("desk: the dropped stream is still open after %zu bytes", bytes);
    {
        struct tconn *c = fixture_login(d->f, "ann", "pw-ann-11");

        tc_sendf(c, "available\n");
        tc_expect(c, "slots 1");
        tc_expect(c, "1 Mon 09am");
    }
    printf("# %zu changes until the slow stream was dropped; it got %zu bytes\n", changes, bytes);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 8. Hostile requests. */

/* The answer is a 4xx, or the desk closed without one. */
#define expect_refused(r) expect_refused_at(__FILE__, __LINE__, (r))
static void
expect_refused_at(const char *file, int line, struct hresp r)
{
    if (r.status == 0 && r.end != TC_OPEN)
        return;
    if (r.status < 400 || r.status > 499)
        h_fail_at(file, line, "desk: status %d, expected a 4xx: \"%s\"", r.status, r.head);
}

/* The desk and the patients still answer. */
#define expect_alive(d) expect_alive_at(__FILE__, __LINE__, (d))
static void
expect_alive_at(const char *file, int line, struct desk *d)
{
    struct tconn *c;

    expect_status_at(file, line, http_at(file, line, d->port, "GET", "/healthz", NULL, NULL), 200);
    schedule_at(file, line, d);
    c = fixture_login_at(file, line, d->f, "ann", "pw-ann-11");
    tc_sendf_at(file, line, c, "appointment\n");
    tc_expect_at(file, line, c, "appointment none");
    tc_close(c);
}

static void
test_hostile(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    struct tconn *half = tc_connect(d->port);
    long long t0 = h_now_ms(), waited;
    char *big = h_alloc(20000);
    const char *req;
    struct hresp r;

    /* Half a request, never finished: it holds nothing up meanwhile. */
    tc_sendf(half, "GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-Slow: ", d->port);
    /* Headers over 8 KiB, with and without a login. */
    memset(big, 'a', 9000);
    r = GET(d, "/api/schedule", h_str("X-Big: %s\r\n", big));
    expect_refused(r);
    r = GET(d, "/api/schedule", h_str("%sX-Big: %s\r\n", STAFF, big));
    expect_refused(r);
    if (r.status == 200)
        h_fail("desk: 9000 bytes of headers were taken");
    expect_alive(d);
    /* Many small headers over 8 KiB in all. */
    {
        char *many = h_alloc(20000);
        int i;

        for (i = 0; i < 600; i++)
            strcat(many, h_str("X-H%d: 0123456789\r\n", i));
        expect_refused(GET(d, "/api/schedule", h_str("%s%s", STAFF, many)));
    }
    expect_alive(d);
    /* A body over 4 KiB, announced and sent. */
    memset(big, ' ', 5000);
    big[0] = '{';
    big[4999] = '}';
    big[5000] = '\0';
    r = POST(d, "/api/slots", STAFF JSON_TYPE, big);
    expect_refused(r);
    expect_alive(d);
    /* Announced only (a Content-Length far over the limit). */
    req = h_str("POST /api/slots HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s" JSON_TYPE
                "Content-Length: 1000000000\r\n\r\n{",
                d->port, STAFF);
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    /* A chunked body over 4 KiB. */
    req = h_str("POST /api/slots HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s" JSON_TYPE
                "Transfer-Encoding: chunked\r\n\r\n1388\r\n%s\r\n0\r\n\r\n",
                d->port, STAFF, big);
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    expect_alive(d);
    /* Malformed request lines. */
    req = "HELLO\r\n\r\n";
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    req = "GET\r\n\r\n";
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    req = "GET /api/schedule HTTP/9.9\r\n\r\n";
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    req = "GET /api/schedule HTTP/1.1\r\nno colon here\r\n\r\n";
    expect_refused(http_raw_at(__FILE__, __LINE__, d->port, req, strlen(req)));
    {
        static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";

        expect_refused(http_raw_at(__FILE__, __LINE__, d->port, hello, sizeof hello - 1));
    }
    expect_alive(d);
    /* Nothing was changed by any of it. */
    if (strcmp(schedule(d),
               "{\"slots\":[" SLOT1 FREE "," SLOT2 FREE "," SLOT3 FREE "," SLOT5 FREE "]}\n") != 0)
        h_fail("schedule: \"%s\"", schedule(d));
    /* The half request is closed after its 30 s, not before 25 s. */
    {
        long long deadline = t0 + 60000;

        while (half->end == TC_OPEN && h_now_ms() < deadline)
            tc_recv(half, (int)(deadline - h_now_ms()));
        waited = h_now_ms() - t0;
        if (half->end == TC_OPEN)
            h_fail("desk: a request that was never finished is still open after %lld ms", waited);
        if (waited < 25000)
            h_fail("desk: a request was closed after %lld ms, before its 30 s", waited);
    }
    expect_alive(d);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 9. Metrics, and the limit of streams. */

static void
test_metrics(void **state)
{
    struct desk *d = start(state, NULL, "max_streams = 2\n");
    unsigned long long bookings = metric(d, "hcs_bookings_total");
    unsigned long long cancels = metric(d, "hcs_cancels_total");
    unsigned long long ok = metric(d, "hcs_logins_total{result=\"ok\"}");
    unsigned long long requests = metric(d, "hcs_desk_requests_total");
    struct sse *s1, *s2, *s4;
    struct hresp r;
    struct tconn *c;
    const char *p;

    r = expect_status(GET(d, "/metrics", STAFF), 200);
    if (strncmp(ctype(&r), "text/plain", 10) != 0)
        h_fail("/metrics: \"%s\"", r.head);
    /* Every line a comment or "name[{labels}] value". */
    for (p = r.body; *p != '\0'; p = strchr(p, '\n') + 1) {
        const char *nl = strchr(p, '\n'), *sp = strchr(p, ' ');

        if (nl == NULL)
            h_fail("/metrics: no newline at the end");
        if (*p == '#')
            continue;
        if (strncmp(p, "hcs_", 4) != 0 || sp == NULL || sp > nl ||
            strspn(sp + 1, "0123456789.+-eInf") != (size_t)(nl - sp - 1))
            h_fail("/metrics: a bad line \"%.*s\"", (int)(nl - p), p);
    }
    if (bookings != 0 || cancels != 0 || ok != 0)
        h_fail("/metrics: counters not 0 at start");
    if (metric(d, "hcs_desk_requests_total") <= requests)
        h_fail("/metrics: hcs_desk_requests_total did not move");
    c = fixture_login(d->f, "ann", "pw-ann-11");
    if (metric(d, "hcs_logins_total{result=\"ok\"}") != ok + 1)
        h_fail("/metrics: hcs_logins_total{result=\"ok\"} did not move");
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "grey 41002");
    if (metric(d, "hcs_bookings_total") != bookings + 1)
        h_fail("/metrics: hcs_bookings_total did not move");
    tc_sendf(c, "cancel\n");
    tc_expect(c, "cancelled 2");
    if (metric(d, "hcs_cancels_total") != cancels + 1)
        h_fail("/metrics: hcs_cancels_total did not move");
    if (metric(d, "hcs_store_up") != 1 || metric(d, "hcs_desk_streams") != 0)
        h_fail("/metrics: store down or streams open");
    /* Two streams may be open, not three; one closed makes room. */
    s1 = sse_open(d);
    s2 = sse_open(d);
    wait_metric(d, "hcs_desk_streams", 2);
    r = expect_status(GET(d, "/events", STAFF), 503);
    expect_error(r, 503);
    tc_close(s1->c);
    wait_metric(d, "hcs_desk_streams", 1);
    s4 = sse_open(d);
    wait_metric(d, "hcs_desk_streams", 2);
    expect_error(GET(d, "/events", STAFF), 503);
    /* Both open ones hear a change. */
    tc_sendf(c, "selection 5\n");
    tc_expect(c, "grey 41002");
    sse_expect(s2, "slot", SLOT5 HELD("ann"));
    sse_expect(s4, "slot", SLOT5 HELD("ann"));
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 10. Staff logins are throttled: 3 failures from 127.0.0.1, and the 4th is refused. */

static void
test_throttle(void **state)
{
    struct desk *d = start(state, "max_login_failures = 3\n", NULL);

    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass1")));
    expect_401(GET(d, "/api/schedule", basic("mallory", "wrongpass2")));
    expect_401(GET(d, "/metrics", basic(STAFF_USER, "wrongpass3")));
    expect_error(GET(d, "/api/schedule", STAFF), 429);
    expect_error(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass4")), 429);
    expect_error(GET(d, "/events", STAFF), 429);
    expect_error(POST(d, "/api/slots", STAFF JSON_TYPE, BODY9), 429);
    /* /healthz needs no login, and is not throttled. */
    expect_status(GET(d, "/healthz", NULL), 200);
    if (strstr(schedule_text_file(d), "9 Mon") != NULL)
        h_fail("a refused request added a slot");
    fixture_stop(d->f);
}

/*
 * The throttle is one for patients and staff: once the desk refuses an
 * address, a patient's login from it is refused too, and trying one does
 * not end the desk's refusal (else every patient login would buy another
 * round of staff password guesses).
 */
static void
test_throttle_shared(void **state)
{
    struct desk *d = start(state, "max_login_failures = 3\n", NULL);
    struct tconn *c;
    const char *got;

    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass1")));
    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass2")));
    expect_401(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass3")));
    expect_error(GET(d, "/api/schedule", STAFF), 429);
    c = tc_connect(d->f->port);
    tc_sendf(c, "authenticate ann wrong-pw\n");
    got = tc_line(c, h_timeout_ms);
    got = h_str("%s", got != NULL ? got : "(nothing)");
    expect_error(GET(d, "/api/schedule", basic(STAFF_USER, "wrongpass4")), 429);
    expect_error(GET(d, "/api/schedule", STAFF), 429);
    if (strcmp(got, "error busy") != 0)
        h_fail("a patient from the refused address was answered \"%s\", not \"error busy\"", got);
    fixture_stop(d->f);
}

/* 3 failed patient logins from 127.0.0.1 make the desk refuse that address too. */
static void
test_throttle_patients(void **state)
{
    struct desk *d = start(state, "max_login_failures = 3\n", NULL);
    struct tconn *c;
    int i;

    for (i = 0; i < 3; i++) {
        c = tc_connect(d->f->port);
        tc_sendf(c, "authenticate ann wrong-%d\n", i);
        tc_expect(c, "failure");
        tc_close(c);
    }
    expect_error(GET(d, "/api/schedule", STAFF), 429);
    expect_status(GET(d, "/healthz", NULL), 200);
    fixture_stop(d->f);
}

/*
 * Staff logins that are all right, sent at once before any was checked (a
 * page's requests, colleagues behind one address): none is refused, since
 * none failed (429 is for too many failed logins).
 */
static void
test_parallel_logins(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    struct tconn *c[8];
    const char *req = h_str("GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s"
                            "Connection: close\r\n\r\n",
                            d->port, STAFF);
    size_t i;

    for (i = 0; i < 8; i++)
        c[i] = tc_connect(d->port);
    for (i = 0; i < 8; i++)
        tc_send(c[i], req, strlen(req));
    for (i = 0; i < 8; i++)
        expect_body(expect_status(http_read_at(__FILE__, __LINE__, c[i], 0), 200), SLOT1 FREE);
    fixture_stop(d->f);
}

/* HEAD: the headers of the GET, no body (RFC 9110 9.3.2), so a kept-alive connection stays in
 * step. */
static void
test_head(void **state)
{
    struct desk *d = start(state, NULL, NULL);
    static const char *const paths[] = {"/api/schedule", "/", "/metrics", "/healthz"};
    struct tconn *c;
    struct hresp r;
    size_t i;
    const char *req;

    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = http_at(__FILE__, __LINE__, d->port, "HEAD", paths[i], STAFF, NULL);
        if (r.status != 200 || r.len != 0)
            h_fail("HEAD %s: status %d, %zu bytes of body after \"%s\"", paths[i], r.status, r.len,
                   r.head);
    }
    /* Refused, the same: the status and the challenge, and no body. */
    r = http_at(__FILE__, __LINE__, d->port, "HEAD", "/api/schedule", NULL, NULL);
    if (r.status != 401 || r.len != 0 || hdr(&r, "WWW-Authenticate") == NULL)
        h_fail("HEAD without a login: \"%s\" and %zu bytes of body", r.head, r.len);
    /* HEAD then GET on one connection: the second answer is the schedule. */
    c = tc_connect(d->port);
    req = h_str("HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n"
                "GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%sConnection: close\r\n\r\n",
                d->port, d->port, STAFF);
    tc_send(c, req, strlen(req));
    r = http_read_at(__FILE__, __LINE__, c, 1);
    if (r.status != 200 || strncmp(r.body, "HTTP/1.1 200 OK\r\n", 17) != 0)
        h_fail("HEAD then GET: after the head of HEAD came \"%.80s\"", r.body);
    fixture_stop(d->f);
}

/* ------------------------------------------------------------------------------------------ */
/* 11. SIGTERM with streams open: exit 0, every stream ended. */

static void
test_stop_with_streams(void **state)
{
    struct desk *d = start(state, "state = state.db\n", NULL);
    struct sse *a = sse_open(d), *b = sse_open(d);
    struct sse *slow = sse_send_at(__FILE__, __LINE__, d, 2048);
    struct tconn *half = tc_connect(d->port);
    struct tconn *w = fixture_waiter(d->f, "bob", "pw-bob-22", LIST4);
    struct tconn *c = fixture_login(d->f, "ann", "pw-ann-11");
    enum tc_end end;

    tc_sendf(half, "POST /api/slots HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", d->port);
    wait_metric(d, "hcs_desk_streams", 3);
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "grey 41002");
    tc_expect(w, "* reserved 2");
    sse_expect(a, "slot", SLOT2 HELD("ann"));
    fixture_stop(d->f);
    end = tc_drain(a->c, h_timeout_ms, NULL);
    if (end == TC_OPEN || tc_drain(b->c, h_timeout_ms, NULL) == TC_OPEN ||
        tc_drain(slow->c, h_timeout_ms, NULL) == TC_OPEN ||
        tc_drain(half, h_timeout_ms, NULL) == TC_OPEN)
        h_fail("desk: a connection still open after hcs stopped");
}

/* ------------------------------------------------------------------------------------------ */
/* A staff file with a clear password: refused at start-up and by --check. */

static void
test_clear_staff(void **state)
{
    struct fixture_opts o = {0};
    struct fixture *f;
    struct hproc *p;
    int st;

    o.users_text = users_text;
    o.slots_text = slots_text;
    o.config = "[desk]\nport = 0\nstaff = staff.txt\n";
    o.files_only = 1;
    f = fixture_setup(state, &o);
    h_file(f->dir, "staff.txt", "%s\nbob %s\n", staff_hash(), STAFF_PASS);
    p = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    h_close_in(p);
    if ((st = h_wait(p)) == 0)
        h_fail("hcs started with a clear staff password");
    if (strstr(h_stderr(p), "staff.txt:2: ") == NULL)
        h_fail("hcs did not name staff.txt:2");
    if (strstr(h_stdout(p), "Phase 1") != NULL)
        h_fail("hcs said it listens");
    p = h_start("hcs --check", NULL, "hcs", "--check", "--config", f->conf, NULL);
    h_close_in(p);
    if ((st = h_wait(p)) != 1)
        h_fail("hcs --check: exit status %d with a clear staff password", st);
    if (strstr(h_stderr(p), "staff.txt:2: ") == NULL)
        h_fail("hcs --check did not name staff.txt:2");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_login, desk_teardown),
        cmocka_unit_test_teardown(test_schedule, desk_teardown),
        cmocka_unit_test_teardown(test_add_slot, desk_teardown),
        cmocka_unit_test_teardown(test_remove_slot, desk_teardown),
        cmocka_unit_test_teardown(test_cancel_booking, desk_teardown),
        cmocka_unit_test_teardown(test_events, desk_teardown),
        cmocka_unit_test_teardown(test_slow_stream, desk_teardown),
        cmocka_unit_test_teardown(test_hostile, desk_teardown),
        cmocka_unit_test_teardown(test_metrics, desk_teardown),
        cmocka_unit_test_teardown(test_throttle, desk_teardown),
        cmocka_unit_test_teardown(test_throttle_shared, desk_teardown),
        cmocka_unit_test_teardown(test_throttle_patients, desk_teardown),
        cmocka_unit_test_teardown(test_parallel_logins, desk_teardown),
        cmocka_unit_test_teardown(test_head, desk_teardown),
        cmocka_unit_test_teardown(test_stop_with_streams, desk_teardown),
        cmocka_unit_test_teardown(test_clear_staff, desk_teardown),
    };
    int rc;

    h_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(staff_row);
    return rc;
}
