/* hist.c: latency histogram with log-linear buckets. */
#include "hist.h"

#include <string.h>

/* Empty the histogram. */
void
hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

/* The bucket of a value: exact below 2 * HIST_SUB, then HIST_SUB per octave. */
static unsigned
hist_bucket(uint64_t v)
{
    unsigned msb, shift;

    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    shift = msb - 7u; /* leaves 8 significant bits: 128 .. 255 */
    return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* The middle of a bucket's range. */
static uint64_t
hist_value(unsigned idx)
{
    unsigned shift;
    uint64_t sub;

    if (idx < 2 * HIST_SUB)
        return idx;
    shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
    sub = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
    return (sub << shift) + ((uint64_t)1 << (shift - 1));
}

/* Count one sample. */
void
hist_add(struct hist *h, uint64_t ns)
{
    if (h->count == 0 || ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    h->count++;
    h->sum += ns;
    h->b[hist_bucket(ns)]++;
}

/* The sample at quantile q, clamped to the smallest and largest seen. */
uint64_t
hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0, v;
    unsigned i;

    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max;
    rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank)
            break;
    }
    v = hist_value(i < HIST_BUCKETS ? i : HIST_BUCKETS - 1);
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}

/* The mean of the samples. */
double
hist_mean(const struct hist *h)
{
    return h->count == 0 ? 0.0 : (double)h->sum / (double)h->count;
}
