/* out.h: screen and log lines that never block the caller: a bounded queue per stream,
 * written by a thread of its own, dropping (and counting) lines when the reader stalls. */
#ifndef HCS_OUT_H
#define HCS_OUT_H

#include <stdarg.h>
#include <stddef.h>

#define OUT_CAPACITY (256 * 1024) /* bytes queued per stream before lines are dropped */
#define OUT_MIN_CAPACITY 4096     /* the smallest queue out_start_fds accepts */
#define OUT_FLUSH_MS 1000         /* how long out_stop waits for a stalled reader */

/* The two streams: standard output (screen lines) and standard error (the log). */
enum out_stream {
    OUT_STDOUT,
    OUT_STDERR,
};

/*
 * Queue stdout and stderr from now on, each written by a thread of its own
 * that starts with the stream's first line (a process that prints nothing
 * stays single-threaded); progname starts the line that says how many lines
 * were dropped. Until then (and after
 * out_stop) every line is written at once with stdio, blocking as usual.
 * Returns 0, or -1 (errno set) when a thread cannot start: lines are then
 * written at once, as before.
 */
int out_start(const char *progname);
/* The same on two descriptors of the caller's, with a queue of capacity bytes each. */
int out_start_fds(const char *progname, int outfd, int errfd, size_t capacity);
/* Queue one line (the newline is added); drop it when its stream's queue is full. */
void out_line(enum out_stream s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list. */
void out_vline(enum out_stream s, const char *fmt, va_list ap);
/* Queue text made of whole lines as one unit: all of it, or none when it does not fit. */
void out_write(enum out_stream s, const char *text, size_t len);
/*
 * From now on put prefix (a priority such as "<6>", for the journal: sd-daemon(3)) before
 * every line written on s that does not start with one, and "<4>" before the line telling
 * of dropped lines; NULL: nothing. Call it before the first line.
 */
void out_set_prefix(enum out_stream s, const char *prefix);
/* text (len bytes of lines) with prefix before each line that has no priority; *outlen gets
 * its length. Caller frees; NULL: no memory. */
char *out_prefixed(const char *prefix, const char *text, size_t len, size_t *outlen);
/* Wait up to ms for everything queued to be written. Returns 0, or -1 when time ran out. */
int out_flush(int ms);
/*
 * Write what is queued (waiting at most OUT_FLUSH_MS for a stalled reader),
 * stop the writers and free what they hold; lines after it are written at
 * once. Safe to call twice and from fatal(); out_start registers it with atexit.
 */
void out_stop(void);
/* Lines dropped on a stream since out_start (each drop is also told on the stream). */
unsigned long long out_dropped(enum out_stream s);

#endif
