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

/* Format one trace line (see trace.h). */
size_t
trace_format(char *buf, size_t size, enum trace_dir dir, const char *peer, unsigned phase,
             const char *msg, size_t len)
{
    const char *user, *sp;
    size_t at;
    int n;

    if (size == 0)
        return 0;
    n = snprintf(buf, size, "trace: phase %u %c %s ", phase, dir == TRACE_IN ? '<' : '>', peer);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    at = (size_t)n < size ? (size_t)n : size - 1;
    if (!trace_word(msg, len, "authenticate") || len <= 13) {
        trace_put(buf, size, &at, msg, len);
        return at;
    }
    /* "authenticate <user> <password...>": the word and the user, then the mask. */
    user = msg + 13;
    sp = memchr(user, ' ', len - 13);
    trace_put(buf, size, &at, msg, sp != NULL ? (size_t)(sp - msg) : len);
    if (sp != NULL)
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
