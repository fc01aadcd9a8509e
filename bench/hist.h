/* hist.h: latency histogram: every sample counted, log-linear buckets (< 0.8% error). */
#ifndef HCS_BENCH_HIST_H
#define HCS_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB 128                                /* buckets per power of two */
#define HIST_BUCKETS (2 * HIST_SUB + 56 * HIST_SUB) /* exact below 256 ns, then 56 octaves */

/* Counts of nanosecond samples. */
struct hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t ns);
/* The sample at quantile q (0..1), in nanoseconds; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* The mean in nanoseconds; 0 when empty. */
double hist_mean(const struct hist *h);

#endif
