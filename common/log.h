/* log.h: diagnostics on stderr (queued by out.c once out_start ran), shared by hcs, doctor
 * and patient. */
#ifndef HCS_LOG_H
#define HCS_LOG_H

#include <stdarg.h>

#define HCS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Verbosity: -1 quiet (warnings only), 0 normal, 1 debug. */
void log_init(const char *progname, int level);
void log_warn(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_info(const char *fmt, ...) HCS_PRINTF(1, 2);
void log_debug(const char *fmt, ...) HCS_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) HCS_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) HCS_PRINTF(1, 2);

#endif
