/* trace.h: --trace: one line per message sent or received, passwords masked, bytes escaped. */
#ifndef HCS_TRACE_H
#define HCS_TRACE_H

#include <stddef.h>

#define TRACE_LINEMAX 2304 /* bytes of one formatted trace line, NUL included */
#define TRACE_PEERLEN 80   /* "[address]:port", NUL included */

/* Which way a message went, seen from the program that prints the line. */
enum trace_dir {
    TRACE_IN,  /* received: "<" */
    TRACE_OUT, /* sent: ">" */
};

/*
 * Whether --trace is on. A program sets it once from its options; the
 * hooks test it first, so tracing costs one branch when it is off.
 */
extern int trace_on;

/* Write "address:port" (an IPv6 address in brackets) into peer (size TRACE_PEERLEN). */
char *trace_peer(char *peer, size_t size, const char *host, unsigned port);

/*
 * The phase of a TCP message: 1 for authenticate, success and failure, and
 * for anything before the login succeeded (authed 0); 2 otherwise.
 */
unsigned trace_tcp_phase(const char *msg, size_t len, int authed);

/*
 * Format one trace line into buf (size bytes) from one message without its
 * line ending: "trace phase<N> <dir> <peer> <message>". The password of an
 * "authenticate" line (everything after the user name) becomes "********";
 * every other untrusted byte is escaped as util_escape does. Returns the
 * length written (the line is cut with "..." if it does not fit).
 */
size_t trace_format(char *buf, size_t size, enum trace_dir dir, const char *peer, unsigned phase,
                    const char *msg, size_t len);

/* Where trace_lines sends each formatted line (without a newline). */
typedef void trace_sink(const char *line, size_t len, void *arg);

/*
 * Format every line of data (one message, or several ending in "\n": a
 * counted "slots <n>" block, the patient's queued requests) and hand each
 * to sink. A last line without "\n" is traced too.
 */
void trace_lines(enum trace_dir dir, const char *peer, unsigned phase, const char *data, size_t len,
                 trace_sink *sink, void *arg);

#endif
