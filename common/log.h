/* log.h: diagnostics on stderr (queued by out.c once out_start ran), shared by hcs, doctor
 * and patient; with a priority on each line for the journal, syslog(3) with --syslog, and a
 * timestamp when stderr is a plain file. */
#ifndef HCS_LOG_H
#define HCS_LOG_H

#include <stdarg.h>
#include <time.h>

#define HCS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Priorities of log lines: syslog(3)'s numbers, as the "<N>" prefixes of sd-daemon(3). */
enum log_prio {
    LOGP_ERR = 3,
    LOGP_WARNING = 4,
    LOGP_INFO = 6,
    LOGP_DEBUG = 7,
};

/* Where log lines go, as log_init found it (or log_syslog chose). */
enum log_dest {
    LOG_PLAIN,   /* a terminal or a pipe: the lines as they are */
    LOG_JOURNAL, /* stderr is the journal ($JOURNAL_STREAM): "<N>" before each line */
    LOG_FILE,    /* stderr is a regular file: a timestamp before each line */
    LOG_SYSLOG,  /* --syslog: the syslog socket, facility daemon */
};

/*
 * Set the program name shown before each message and the verbosity (-1 quiet:
 * warnings only, 0 normal, 1 debug), and find where stderr goes. When stdout
 * is the journal too, every screen line is given the info priority.
 */
void log_init(const char *progname, int level);
/*
 * From now on log to the syslog socket (/dev/log; ident progname, facility
 * daemon) instead of stderr, as syslog(3) would but never waiting for it:
 * lines it does not take are counted, and the count is said once it takes
 * one again. log_syslog_at: the same with another socket (tests).
 */
void log_syslog(void);
void log_syslog_at(const char *path);
/* Where log lines go now. */
enum log_dest log_destination(void);
void log_warn(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_info(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_debug(const char *fmt, ...) HCS_PRINTF(1, 2);
/* Lines of text (one or more, without the program name: "file:line: message") at prio. */
void log_text(enum log_prio prio, const char *text);
_Noreturn void fatal(const char *fmt, ...) HCS_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) HCS_PRINTF(1, 2);

/*
 * Pure helpers (unit-tested from strings). log_journal_match: whether
 * $JOURNAL_STREAM's value env ("DEV:INO", decimal) names the file dev/ino.
 * log_format: text (lines, with or without a final newline) as dest writes
 * it: each line ended by a newline, with "<N>" before it (LOG_JOURNAL) or
 * the local time ts as "2026-12-01T13:48:00.123+0000 " (LOG_FILE); caller
 * frees, NULL when out of memory.
 */
int log_journal_match(const char *env, unsigned long long dev, unsigned long long ino);
char *log_format(enum log_dest dest, enum log_prio prio, const char *text,
                 const struct timespec *ts);

#endif
