/* report.c: results for people (one per line) and for scripts (one RESULT line). */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REPORT_MAX 8192    /* bytes of the RESULT line */
#define REPORT_PROBLEMS 10 /* diagnostics shown before the rest are only counted */

static char report_line[REPORT_MAX];
static size_t report_len;
static unsigned long report_nproblems;

/* Record one result. */
void
report_kv(const char *key, const char *fmt, ...)
{
    char val[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    printf("  %-28s %s\n", key, val);
    n = snprintf(report_line + report_len, sizeof report_line - report_len, " %s=%s", key, val);
    if (n > 0 && (size_t)n < sizeof report_line - report_len)
        report_len += (size_t)n;
}

/* Record the quantiles of a histogram in microseconds. */
void
report_hist(const char *name, const struct hist *h)
{
    static const struct {
        const char *suffix;
        double q;
    } qs[] = {{"p50", 0.50}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}};
    char key[96];
    size_t i;

    for (i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        snprintf(key, sizeof key, "%s_%s_us", name, qs[i].suffix);
        report_kv(key, "%.1f", (double)hist_quantile(h, qs[i].q) / 1e3);
    }
    snprintf(key, sizeof key, "%s_mean_us", name);
    report_kv(key, "%.1f", hist_mean(h) / 1e3);
}

/* Print the RESULT line. */
void
report_flush(void)
{
    if (report_nproblems > REPORT_PROBLEMS)
        fprintf(stderr, "hcs-bench: %lu problems in all (first %d shown)\n", report_nproblems,
                REPORT_PROBLEMS);
    printf("RESULT%s\n", report_line);
    fflush(stdout);
    report_len = 0;
    report_line[0] = '\0';
}

/* Print a diagnostic; only the first REPORT_PROBLEMS. */
void
report_problem(const char *fmt, ...)
{
    va_list ap;

    if (++report_nproblems > REPORT_PROBLEMS)
        return;
    fputs("hcs-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
