/* log.c: diagnostics on stderr, with libevent's own messages routed in. Lines go through
 * out.c: once out_start has run, a stalled reader of stderr never blocks the caller. */
#include "log.h"
#include "out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

static const char *log_progname = "hcs";
static int log_verbosity;

/* Route libevent's internal messages through our warnings. */
static void
log_event_cb(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_WARN)
        log_warnx("libevent: %s", msg);
    else
        log_debug("libevent: %s", msg);
}

/* Set the program name shown before each message and the verbosity. */
void
log_init(const char *progname, int level)
{
    log_progname = progname;
    log_verbosity = level;
    event_set_log_callback(log_event_cb);
}

/* Write one message line, with an optional error string. */
static void
log_vwrite(const char *errstr, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof msg, fmt, ap);
    if (errstr != NULL)
        out_line(OUT_STDERR, "%s: %s: %s", log_progname, msg, errstr);
    else
        out_line(OUT_STDERR, "%s: %s", log_progname, msg);
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

/* Log a warning. */
void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(NULL, fmt, ap);
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
    log_vwrite(NULL, fmt, ap);
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
    log_vwrite(NULL, fmt, ap);
    va_end(ap);
}

/* Log an error with strerror(errno), write what is queued (bounded) and exit with status 1. */
void
fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(strerror(saved), fmt, ap);
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
    log_vwrite(NULL, fmt, ap);
    va_end(ap);
    out_stop();
    exit(1);
}
