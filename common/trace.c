/* trace.c: --trace: one line per message sent or received, passwords masked, bytes escaped. */
#include "trace.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int trace_on;

/* Write "host:port", bracketing an IPv6 address. */
char *
trace_peer(char *peer, size_t size, const char *host, unsigned port)
{
    snprintf(peer, size, strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host, port);
    return peer;
}

/* Whether msg starts with the word w (followed by a space, a line ending or the end). */
static int
trace_word(const char *msg, size_t len, const char *w)
{
    size_t wl = strlen(w);

    return len >= wl && strncasecmp(msg, w, wl) == 0 &&
           (len == wl || msg[wl] == ' ' || msg[wl] == '\n' || msg[wl] == '\r');
}

/* The phase of a TCP message (see trace.h). */
unsigned
trace_tcp_phase(const char *msg, size_t len, int authed)
{
    if (!authed || trace_word(msg, len, "authenticate") || trace_word(msg, len, "success") ||
        trace_word(msg, len, "failure"))
        return 1;
    return 2;
}

/* Append the escaped bytes src[0..len) at buf + *at, keeping *at within size. */
static void
trace_put(char *buf, size_t size, size_t *at, const char *src, size_t len)
{
    if (*at + 1 >= size)
        return;
    util_escape(buf + *at, size - *at, src, len);
    *at += strlen(buf + *at);
}

/* Whether c separates words for the mask: a space, or a blank the protocol refuses. */
static int
trace_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Where the word "authenticate" (any case) stands in msg followed by a
 * separator or the end, wherever it is: a login the center refuses for a
 * byte before it (a space, a NUL) may still carry a password. -1: nowhere.
 */
static long
trace_login_at(const char *msg, size_t len)
{
    size_t i;

    for (i = 0; i + 12 <= len; i++)
        if (strncasecmp(msg + i, "authenticate", 12) == 0 &&
            (i + 12 == len || trace_sep(msg[i + 12]) || msg[i + 12] == '\0'))
            return (long)i;
    return -1;
}

/* Format one trace line (see trace.h). */
size_t
trace_format(char *buf, size_t size, enum trace_dir dir, const char *peer, unsigned phase,
             const char *msg, size_t len)
{
    const char *rest, *end = msg + len;
    size_t at, u;
    long w;
    int n;

    if (size == 0)
        return 0;
    n = snprintf(buf, size, "trace: phase %u %c %s ", phase, dir == TRACE_IN ? '<' : '>', peer);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    at = (size_t)n < size ? (size_t)n : size - 1;
    if ((w = trace_login_at(msg, len)) == -1) {
        trace_put(buf, size, &at, msg, len);
        return at;
    }
    /*
     * "authenticate <user> <password...>": what comes before, the word and
     * the user, then the mask for whatever follows the user's end (a space
     * or another blank). After any other byte than one space the word is
     * followed by the mask alone.
     */
    rest = msg + w + 12;
    trace_put(buf, size, &at, msg, (size_t)(rest - msg));
    if (rest == end)
        return at;
    if (*rest != ' ') {
        trace_put(buf, size, &at, " ********", 9);
        return at;
    }
    rest++;
    for (u = 0; rest + u < end && !trace_sep(rest[u]); u++)
        ;
    trace_put(buf, size, &at, rest - 1, u + 1);
    if (rest + u < end)
        trace_put(buf, size, &at, " ********", 9);
    return at;
}

/* Format and hand on every line of data (see trace.h). */
void
trace_lines(enum trace_dir dir, const char *peer, unsigned phase, const char *data, size_t len,
            trace_sink *sink, void *arg)
{
    char line[TRACE_LINEMAX];
    const char *end = data + len;

    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = nl != NULL ? (size_t)(nl - data) : (size_t)(end - data);

        sink(line, trace_format(line, sizeof line, dir, peer, phase, data, n), arg);
        data += n + (nl != NULL);
    }
}
