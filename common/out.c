/*
 * out.c: screen and log lines that never block the caller.
 *
 * Each stream has a ring of whole lines that callers append to under a
 * mutex, never waiting for the reader, and a writer thread that empties it
 * with ordinary blocking writes, so a stalled pipe or a terminal paused with
 * Ctrl-S stops only that thread. The descriptors stay as inherited (no
 * O_NONBLOCK: the file description is shared with the shell). When a ring is
 * full, whole lines are dropped and counted; once the writer has caught up
 * (the ring half empty for a new line, or empty) one line says how many.
 * Each write is at most PIPE_BUF bytes of whole lines, so lines of stdout and
 * stderr on one pipe do not interleave.
 */
#include "out.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef PIPE_BUF
#define PIPE_BUF 4096
#endif

#define OUT_NAMELEN 32 /* bytes of the program name in the drop notice */

/* The queue of one stream while its writer runs. */
struct out_queue {
    enum out_stream stream;
    int fd;
    char *ring;
    size_t cap, head, used;
    unsigned long long dropped; /* lines dropped since the last notice */
    int dropping;               /* dropping until the ring is half empty */
    int broken;                 /* the descriptor failed: discard without writing */
    int stopping;               /* out_stop: write what is queued, then end */
    int done;                   /* the writer has ended (set by it) */
    int abandoned;              /* out_stop gave up waiting: the writer frees the queue */
    int started;                /* the writer runs (started with the first line) */
    pthread_t thread;
    char progname[OUT_NAMELEN];
};

/* One stream: its lock, its condition (work, progress, end) and its queue, if started. */
struct out_slot {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct out_queue *q; /* NULL: lines are written at once with stdio */
    unsigned long long total_dropped;
};

/* out_set_prefix: the priority put before each line of a stream that has none; NULL: none. */
static const char *out_prefix[2];

static struct out_slot out_slots[2] = {
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0},
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0},
};

/* The slot of a stream (anything but OUT_STDOUT is stderr). */
static struct out_slot *
out_slot(enum out_stream s)
{
    return &out_slots[s == OUT_STDOUT ? 0 : 1];
}

/* The absolute CLOCK_REALTIME time ms from now, for pthread_cond_timedwait. */
static struct timespec
out_deadline(int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Copy len bytes to the ring's tail (the caller checked they fit). */
static void
out_copy_in(struct out_queue *q, const char *text, size_t len)
{
    size_t tail = (q->head + q->used) % q->cap;
    size_t first = q->cap - tail < len ? q->cap - tail : len;

    memcpy(q->ring + tail, text, first);
    memcpy(q->ring, text + first, len - first);
    q->used += len;
}

/* Queue the line that says how many lines were dropped, and start counting again. */
static void
out_notice(struct out_queue *q)
{
    char line[160];
    int n;

    n = snprintf(line, sizeof line,
                 "%s%s: %llu line%s of output dropped: the reader did not keep up\n",
                 out_prefix[q->stream == OUT_STDOUT ? 0 : 1] != NULL ? "<4>" : "", q->progname,
                 q->dropped, q->dropped == 1 ? "" : "s");
    if (n > 0 && (size_t)n < sizeof line && (size_t)n <= q->cap - q->used) {
        out_copy_in(q, line, (size_t)n);
        q->dropped = 0;
        q->dropping = 0;
    }
}

/* The number of lines in text (its newlines; at least one). */
static unsigned long long
out_count_lines(const char *text, size_t len)
{
    unsigned long long n = 0;
    const char *p = text, *end = text + len;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n > 0 ? n : 1;
}

/* The writer thread of one stream. */
static void *out_writer(void *arg);

/*
 * Start q's writer, all signals blocked in it (lock held). It starts with
 * the first line rather than with out_start: a process that prints nothing
 * (hcs -q) stays single-threaded, and the kernel's system calls stay on
 * their cheaper single-threaded path. -1 when it cannot start.
 */
static int
out_start_writer(struct out_queue *q)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&q->thread, NULL, out_writer, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    q->started = 1;
    return 0;
}

/* Append whole lines to q, or drop and count them when the ring is full (lock held). */
static void
out_put(struct out_slot *sl, struct out_queue *q, const char *text, size_t len)
{
    if (!q->started && out_start_writer(q) == -1) {
        /* No thread to be had: write it at once, as before out_start. */
        (void)!write(q->fd, text, len);
        return;
    }
    if (q->dropping && q->used <= q->cap / 2)
        out_notice(q);
    if (q->dropping || len > q->cap - q->used) {
        unsigned long long lines = out_count_lines(text, len);

        q->dropped += lines;
        sl->total_dropped += lines;
        q->dropping = 1;
        return;
    }
    out_copy_in(q, text, len);
    pthread_cond_broadcast(&sl->cv);
}

/*
 * The next bytes to write from a snapshot of the ring (head, used): the
 * whole lines that fit in PIPE_BUF, or the first line if it alone is longer.
 * Fills iov (one or two pieces, the ring may wrap) and returns the count.
 */
static int
out_chunk(const struct out_queue *q, size_t head, size_t used, struct iovec iov[2])
{
    size_t limit = used < PIPE_BUF ? used : PIPE_BUF;
    size_t n = 0, i, first;

    for (i = limit; i > 0; i--)
        if (q->ring[(head + i - 1) % q->cap] == '\n') {
            n = i;
            break;
        }
    for (i = limit; n == 0 && i < used; i++)
        if (q->ring[(head + i) % q->cap] == '\n')
            n = i + 1;
    if (n == 0)
        n = used;
    first = q->cap - head < n ? q->cap - head : n;
    iov[0].iov_base = q->ring + head;
    iov[0].iov_len = first;
    iov[1].iov_base = q->ring;
    iov[1].iov_len = n - first;
    return n > first ? 2 : 1;
}

/* Write iov to fd, blocking: the bytes written (maybe fewer), or -1 on a lasting error. */
static ssize_t
out_writev(int fd, struct iovec *iov, int cnt)
{
    for (;;) {
        ssize_t w = writev(fd, iov, cnt);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};

        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        /* Someone else made the descriptor non-blocking: wait for room as a write would. */
        if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
            return -1;
    }
}

/* The writer thread of one stream: write what is queued until out_stop, then end. */
static void *
out_writer(void *arg)
{
    struct out_queue *q = arg;
    struct out_slot *sl = out_slot(q->stream);

    pthread_mutex_lock(&sl->mu);
    for (;;) {
        struct iovec iov[2];
        size_t head, used;
        ssize_t w;
        int cnt;

        while (q->used == 0 && !q->stopping)
            pthread_cond_wait(&sl->cv, &sl->mu);
        if (q->used == 0)
            break;
        head = q->head;
        used = q->used;
        pthread_mutex_unlock(&sl->mu);
        /* Only this thread moves head, and callers write only past head + used. */
        cnt = out_chunk(q, head, used, iov);
        w = q->broken ? -1 : out_writev(q->fd, iov, cnt);
        pthread_mutex_lock(&sl->mu);
        if (q->abandoned) {
            pthread_mutex_unlock(&sl->mu);
            free(q->ring);
            free(q);
            return NULL;
        }
        if (w < 0) {
            q->broken = 1;
            w = (ssize_t)(iov[0].iov_len + (cnt == 2 ? iov[1].iov_len : 0));
        }
        q->head = (q->head + (size_t)w) % q->cap;
        q->used -= (size_t)w;
        if (q->used == 0 && q->dropped > 0)
            out_notice(q);
        pthread_cond_broadcast(&sl->cv);
    }
    q->done = 1;
    pthread_cond_broadcast(&sl->cv);
    pthread_mutex_unlock(&sl->mu);
    return NULL;
}

/* Start the writers of stdout and stderr with the default capacity. */
int
out_start(const char *progname)
{
    return out_start_fds(progname, STDOUT_FILENO, STDERR_FILENO, OUT_CAPACITY);
}

/* Make the queue of one stream; its writer starts with the first line. */
static int
out_start_one(enum out_stream s, const char *progname, int fd, size_t capacity)
{
    struct out_slot *sl = out_slot(s);
    struct out_queue *q;

    if ((q = calloc(1, sizeof *q)) == NULL || (q->ring = malloc(capacity)) == NULL) {
        free(q);
        errno = ENOMEM;
        return -1;
    }
    q->stream = s;
    q->fd = fd;
    q->cap = capacity;
    snprintf(q->progname, sizeof q->progname, "%s", progname);
    pthread_mutex_lock(&sl->mu);
    sl->q = q;
    sl->total_dropped = 0;
    pthread_mutex_unlock(&sl->mu);
    return 0;
}

/* Whether stream s has a writer. */
static int
out_running(enum out_stream s)
{
    struct out_slot *sl = out_slot(s);
    int running;

    pthread_mutex_lock(&sl->mu);
    running = sl->q != NULL;
    pthread_mutex_unlock(&sl->mu);
    return running;
}

/* Start a writer on outfd for stdout and one on errfd for stderr. */
int
out_start_fds(const char *progname, int outfd, int errfd, size_t capacity)
{
    static int registered;

    if (capacity < OUT_MIN_CAPACITY)
        capacity = OUT_MIN_CAPACITY;
    if (out_running(OUT_STDOUT) || out_running(OUT_STDERR)) {
        errno = EBUSY;
        return -1;
    }
    /* What stdio holds must come out before anything the writers write. */
    fflush(stdout);
    fflush(stderr);
    if (out_start_one(OUT_STDOUT, progname, outfd, capacity) == -1)
        return -1;
    if (out_start_one(OUT_STDERR, progname, errfd, capacity) == -1) {
        int saved = errno;

        out_stop();
        errno = saved;
        return -1;
    }
    if (!registered && atexit(out_stop) == 0)
        registered = 1;
    return 0;
}

/* Set the priority prefix of stream s ("<6>"; NULL: none), before any line is written. */
void
out_set_prefix(enum out_stream s, const char *prefix)
{
    out_prefix[s == OUT_STDOUT ? 0 : 1] = prefix;
}

/* Whether a line starts with a priority, "<N>" with N from 0 to 7 (sd-daemon(3)). */
static int
out_has_priority(const char *line, size_t len)
{
    return len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>';
}

/* text with prefix before each of its lines that has no priority yet; NULL: no memory. */
char *
out_prefixed(const char *prefix, const char *text, size_t len, size_t *outlen)
{
    size_t plen = strlen(prefix), lines = out_count_lines(text, len) + 1, n = 0, i = 0;
    char *buf;

    if ((buf = malloc(len + lines * plen + 1)) == NULL)
        return NULL;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - text) + 1 : len;

        if (!out_has_priority(text + i, end - i)) {
            memcpy(buf + n, prefix, plen);
            n += plen;
        }
        memcpy(buf + n, text + i, end - i);
        n += end - i;
        i = end;
    }
    buf[n] = '\0';
    *outlen = n;
    return buf;
}

/* Queue text on stream s, or write it at once with stdio when no writer runs. */
void
out_write(enum out_stream s, const char *text, size_t len)
{
    struct out_slot *sl = out_slot(s);
    FILE *fp = s == OUT_STDOUT ? stdout : stderr;
    const char *prefix = out_prefix[s == OUT_STDOUT ? 0 : 1];
    char *owned = NULL;

    if (len == 0)
        return;
    if (prefix != NULL && (owned = out_prefixed(prefix, text, len, &len)) != NULL)
        text = owned;
    pthread_mutex_lock(&sl->mu);
    if (sl->q != NULL) {
        out_put(sl, sl->q, text, len);
        pthread_mutex_unlock(&sl->mu);
        free(owned);
        return;
    }
    pthread_mutex_unlock(&sl->mu);
    fwrite(text, 1, len, fp);
    fflush(fp);
    free(owned);
}

/* Format one line, add its newline and queue it. */
void
out_vline(enum out_stream s, const char *fmt, va_list ap)
{
    char buf[1024], *text = buf;
    va_list aq;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(buf, sizeof buf - 1, fmt, aq);
    va_end(aq);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf - 1) {
        if ((text = malloc((size_t)n + 2)) == NULL)
            return;
        vsnprintf(text, (size_t)n + 1, fmt, ap);
    }
    text[n] = '\n';
    out_write(s, text, (size_t)n + 1);
    if (text != buf)
        free(text);
}

/* Format one line and queue it. */
void
out_line(enum out_stream s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vline(s, fmt, ap);
    va_end(ap);
}

/* Wait until both queues are written or the deadline passes (0 or -1). */
static int
out_wait(const struct timespec *deadline)
{
    int i, rc = 0;

    for (i = 0; i < 2; i++) {
        struct out_slot *sl = &out_slots[i];

        pthread_mutex_lock(&sl->mu);
        while (sl->q != NULL && sl->q->used > 0 && !sl->q->broken)
            if (pthread_cond_timedwait(&sl->cv, &sl->mu, deadline) == ETIMEDOUT)
                break;
        if (sl->q != NULL && sl->q->used > 0 && !sl->q->broken)
            rc = -1;
        pthread_mutex_unlock(&sl->mu);
    }
    return rc;
}

/* Wait up to ms for everything queued to be written. */
int
out_flush(int ms)
{
    struct timespec deadline = out_deadline(ms);

    return out_wait(&deadline);
}

/* Write what is queued (at most OUT_FLUSH_MS), stop the writers, free their queues. */
void
out_stop(void)
{
    struct timespec deadline = out_deadline(OUT_FLUSH_MS);
    int i;

    for (i = 0; i < 2; i++) {
        struct out_slot *sl = &out_slots[i];
        struct out_queue *q;

        pthread_mutex_lock(&sl->mu);
        if ((q = sl->q) == NULL) {
            pthread_mutex_unlock(&sl->mu);
            continue;
        }
        sl->q = NULL;
        if (!q->started) {
            /* Nothing was ever queued: no writer to stop. */
            pthread_mutex_unlock(&sl->mu);
            free(q->ring);
            free(q);
            continue;
        }
        q->stopping = 1;
        pthread_cond_broadcast(&sl->cv);
        while (!q->done)
            if (pthread_cond_timedwait(&sl->cv, &sl->mu, &deadline) == ETIMEDOUT)
                break;
        if (q->done) {
            pthread_mutex_unlock(&sl->mu);
            pthread_join(q->thread, NULL);
            free(q->ring);
            free(q);
        } else {
            /* The reader stalled: leave the writer blocked; it frees q if it ever returns. */
            q->abandoned = 1;
            pthread_mutex_unlock(&sl->mu);
            pthread_detach(q->thread);
        }
    }
}

/* Lines dropped on stream s since out_start. */
unsigned long long
out_dropped(enum out_stream s)
{
    struct out_slot *sl = out_slot(s);
    unsigned long long n;

    pthread_mutex_lock(&sl->mu);
    n = sl->total_dropped;
    pthread_mutex_unlock(&sl->mu);
    return n;
}
