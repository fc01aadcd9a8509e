/* report.h: results as "key value" lines for people and one RESULT line for scripts. */
#ifndef HCS_BENCH_REPORT_H
#define HCS_BENCH_REPORT_H

#include "hist.h"

/* Record one result: printed now as "  key  value", kept for the RESULT line. */
void report_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record p50, p99, p999, max and mean of a histogram, in microseconds, as name_p50_us ... */
void report_hist(const char *name, const struct hist *h);
/* Print "RESULT key=value ..." with everything recorded, on one line. */
void report_flush(void);
/* Print a diagnostic about one connection; only the first few are shown. */
void report_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
