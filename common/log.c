/* log.c: diagnostics on stderr, with libevent's own messages routed in. Lines go through
 * out.c: once out_start has run, a stalled reader of stderr never blocks the caller. Each
 * line carries its priority when stderr is the journal, goes to the syslog socket after
 * log_syslog (never waiting for it: what it does not take is counted and said later), and
 * starts with a timestamp when stderr is a regular file. */
#include "log.h"
#include "out.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

static const char *log_progname = "hcs";
static int log_verbosity;
static enum log_dest log_dest = LOG_PLAIN;

#define LOG_SYSLOG_PATH "/dev/log"
/* The facility: syslog.h's LOG_DAEMON (syslog.h is not included: its LOG_SYSLOG macro
 * would stand for enum log_dest's LOG_SYSLOG here). */
#define LOG_SYSLOG_DAEMON (3 << 3)
#define LOG_SYSLOG_MAX 2048 /* bytes of one datagram: a longer line is cut */

/* The syslog socket: connected datagrams, sent without waiting (any thread may log). */
static struct {
    pthread_mutex_t mu;
    int fd; /* -1: not connected (yet, or since the daemon went away) */
    struct sockaddr_un sun;
    uint64_t dropped; /* lines the socket did not take since the last that it did */
} log_sl = {PTHREAD_MUTEX_INITIALIZER, -1, {0}, 0};

/* Route libevent's internal messages through our warnings. */
static void
log_event_cb(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_WARN)
        log_warnx("libevent: %s", msg);
    else
        log_debug("libevent: %s", msg);
}

/* Whether $JOURNAL_STREAM's value names the file dev/ino. */
int
log_journal_match(const char *env, unsigned long long dev, unsigned long long ino)
{
    unsigned long long d, i;
    char *end;

    if (env == NULL || *env < '0' || *env > '9')
        return 0;
    errno = 0;
    d = strtoull(env, &end, 10);
    if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
        return 0;
    i = strtoull(end + 1, &end, 10);
    return errno == 0 && *end == '\0' && d == dev && i == ino;
}

/* Whether descriptor fd is the journal stream $JOURNAL_STREAM names. */
static int
log_fd_is_journal(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 &&
           log_journal_match(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
                             (unsigned long long)st.st_ino);
}

/* Set the program name, the verbosity and where the lines go (see log.h). */
void
log_init(const char *progname, int level)
{
    struct stat st;

    log_progname = progname;
    log_verbosity = level;
    event_set_log_callback(log_event_cb);
    if (log_dest == LOG_SYSLOG)
        return;
    if (log_fd_is_journal(STDERR_FILENO)) {
        log_dest = LOG_JOURNAL;
        /* A line on stderr that log.c did not write (a block of counters) is info; out.c
         * gives its dropped-lines notice the warning priority. */
        out_set_prefix(OUT_STDERR, "<6>");
    } else {
        log_dest = fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? LOG_FILE : LOG_PLAIN;
        out_set_prefix(OUT_STDERR, NULL);
    }
    /* The screen lines ("Phase 1: ...") stay as they are, at info level in the journal. */
    out_set_prefix(OUT_STDOUT, log_fd_is_journal(STDOUT_FILENO) ? "<6>" : NULL);
}

/* Connect to the syslog socket (log_sl.mu held). -1 when nobody listens there. */
static int
log_syslog_connect(void)
{
    if (log_sl.fd != -1)
        return 0;
    if ((log_sl.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
        return -1;
    if (connect(log_sl.fd, (struct sockaddr *)&log_sl.sun, sizeof log_sl.sun) == -1) {
        close(log_sl.fd);
        log_sl.fd = -1;
        return -1;
    }
    return 0;
}

/* Send one datagram (log_sl.mu held): 0, or -1 when the socket did not take it. */
static int
log_syslog_send1(const char *buf, size_t len)
{
    int again;

    for (again = 0; again < 2; again++) {
        if (log_syslog_connect() == -1)
            return -1;
        if (send(log_sl.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return -1; /* full: never wait for the daemon */
        /* The daemon went away (restarted): connect again once. */
        close(log_sl.fd);
        log_sl.fd = -1;
    }
    return -1;
}

/* Format one RFC 3164 datagram: <PRI>Mmm dd hh:mm:ss progname[pid]: text. */
static size_t
log_syslog_format(char *buf, size_t size, enum log_prio prio, const char *text, int len)
{
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (localtime_r(&now, &tm) == NULL || strftime(date, sizeof date, "%b %e %H:%M:%S", &tm) == 0)
        snprintf(date, sizeof date, "Jan  1 00:00:00");
    n = snprintf(buf, size, "<%d>%s %s[%ld]: %.*s", LOG_SYSLOG_DAEMON | (int)prio, date,
                 log_progname, (long)getpid(), len, text);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* One line to the syslog socket; lines it did not take before are said first. */
static void
log_syslog_line(enum log_prio prio, const char *text, int len)
{
    char buf[LOG_SYSLOG_MAX], note[128];
    size_t n = log_syslog_format(buf, sizeof buf, prio, text, len);

    pthread_mutex_lock(&log_sl.mu);
    if (log_sl.dropped > 0) {
        int k = snprintf(note, sizeof note,
                         "%llu log line%s dropped: the syslog socket did not take them",
                         (unsigned long long)log_sl.dropped, log_sl.dropped == 1 ? "" : "s");
        char nbuf[256];
        size_t nn = log_syslog_format(nbuf, sizeof nbuf, LOGP_WARNING, note, k);

        if (log_syslog_send1(nbuf, nn) == 0)
            log_sl.dropped = 0;
    }
    if (log_sl.dropped > 0 || log_syslog_send1(buf, n) == -1)
        log_sl.dropped++;
    pthread_mutex_unlock(&log_sl.mu);
}

/* Log to the syslog socket at path from now on (see log.h). */
void
log_syslog_at(const char *path)
{
    pthread_mutex_lock(&log_sl.mu);
    if (log_sl.fd != -1)
        close(log_sl.fd);
    log_sl.fd = -1;
    log_sl.dropped = 0;
    memset(&log_sl.sun, 0, sizeof log_sl.sun);
    log_sl.sun.sun_family = AF_UNIX;
    snprintf(log_sl.sun.sun_path, sizeof log_sl.sun.sun_path, "%s", path);
    log_syslog_connect(); /* now, before a sandbox or a chroot could hide it */
    pthread_mutex_unlock(&log_sl.mu);
    log_dest = LOG_SYSLOG;
    out_set_prefix(OUT_STDERR, NULL);
}

/* Log through the syslog socket from now on. */
void
log_syslog(void)
{
    log_syslog_at(LOG_SYSLOG_PATH);
}

/* Where log lines go now. */
enum log_dest
log_destination(void)
{
    return log_dest;
}

/* text as dest writes it (see log.h). */
char *
log_format(enum log_dest dest, enum log_prio prio, const char *text, const struct timespec *ts)
{
    char deco[64] = "", *buf;
    size_t dlen, len = strlen(text), lines = 1, n = 0, i;

    if (dest == LOG_JOURNAL) {
        snprintf(deco, sizeof deco, "<%d>", (int)prio);
    } else if (dest == LOG_FILE) {
        struct tm tm;
        char date[32], zone[8];

        if (localtime_r(&ts->tv_sec, &tm) == NULL ||
            strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
            strftime(zone, sizeof zone, "%z", &tm) == 0)
            snprintf(deco, sizeof deco, "%lld ", (long long)ts->tv_sec);
        else
            snprintf(deco, sizeof deco, "%s.%03ld%s ", date, ts->tv_nsec / 1000000L, zone);
    }
    dlen = strlen(deco);
    if (len > 0 && text[len - 1] == '\n')
        len--;
    for (i = 0; i < len; i++)
        lines += text[i] == '\n';
    if ((buf = malloc(len + lines * (dlen + 1) + 1)) == NULL)
        return NULL;
    for (i = 0;;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        memcpy(buf + n, deco, dlen);
        n += dlen;
        memcpy(buf + n, text + i, end - i);
        n += end - i;
        buf[n++] = '\n';
        if (nl == NULL)
            break;
        i = end + 1;
    }
    buf[n] = '\0';
    return buf;
}

/* Send text (one or more lines) at prio where log lines go. */
static void
log_emit(enum log_prio prio, const char *text)
{
    struct timespec ts;
    char *s;

    if (log_dest == LOG_SYSLOG) {
        const char *p = text;

        for (;;) {
            const char *nl = strchr(p, '\n');
            int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);

            if (n > 0)
                log_syslog_line(prio, p, n);
            if (nl == NULL)
                break;
            p = nl + 1;
        }
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((s = log_format(log_dest, prio, text, &ts)) == NULL) {
        out_line(OUT_STDERR, "%s", text);
        return;
    }
    out_write(OUT_STDERR, s, strlen(s));
    free(s);
}

/* Lines of text at prio, without the program name. */
void
log_text(enum log_prio prio, const char *text)
{
    log_emit(prio, text);
}

/* Write one message line at prio, with an optional error string. */
static void
log_vwrite(enum log_prio prio, const char *errstr, const char *fmt, va_list ap)
{
    char msg[1024], line[1400];
    const char *prog = log_dest == LOG_SYSLOG ? "" : log_progname;
    const char *sep = log_dest == LOG_SYSLOG ? "" : ": ";

    vsnprintf(msg, sizeof msg, fmt, ap);
    if (errstr != NULL)
        snprintf(line, sizeof line, "%s%s%s: %s", prog, sep, msg, errstr);
    else
        snprintf(line, sizeof line, "%s%s%s", prog, sep, msg);
    log_emit(prio, line);
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOGP_WARNING, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

/* Log a warning. */
void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOGP_WARNING, NULL, fmt, ap);
    va_end(ap);
}

/* Log an informational message unless quiet. */
void
log_info(const char *fmt, ...)
{
    va_list ap;

    if (log_verbosity < 0)
        return;
    va_start(ap, fmt);
    log_vwrite(LOGP_INFO, NULL, fmt, ap);
    va_end(ap);
}

/* Log a debug message when verbose. */
void
log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_verbosity < 1)
        return;
    va_start(ap, fmt);
    log_vwrite(LOGP_DEBUG, NULL, fmt, ap);
    va_end(ap);
}

/* Log an error with strerror(errno), write what is queued (bounded) and exit with status 1. */
void
fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOGP_ERR, strerror(saved), fmt, ap);
    va_end(ap);
    out_stop();
    exit(1);
}

/* Log an error, write what is queued (bounded) and exit with status 1. */
void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOGP_ERR, NULL, fmt, ap);
    va_end(ap);
    out_stop();
    exit(1);
}
