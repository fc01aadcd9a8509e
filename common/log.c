/* log.c: diagnostics on stderr, with libevent's own messages routed in. Lines go through
 * out.c: once out_start has run, a stalled reader of stderr never blocks the caller. Each
 * line carries its priority when stderr is the journal, goes to syslog(3) after log_syslog,
 * and starts with a timestamp when stderr is a regular file. */
#include "log.h"
#include "out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

static const char *log_progname = "hcs";
static int log_verbosity;
static enum log_dest log_dest = LOG_PLAIN;

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

/* Log through syslog(3) from now on. */
void
log_syslog(void)
{
    openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    log_dest = LOG_SYSLOG;
    out_set_prefix(OUT_STDERR, NULL);
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
                syslog((int)prio, "%.*s", n, p);
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
