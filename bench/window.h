/* window.h: the measured stretch of a run: wall time, our CPU, the server's CPU, and
 * (through perf stat --control) the server's system calls. */
#ifndef HCS_BENCH_WINDOW_H
#define HCS_BENCH_WINDOW_H

#include <stdint.h>

#include "bench.h"
#include "proc.h"

struct window {
    const struct bench_opts *o;
    uint64_t t0, t1;        /* monotonic ns */
    double cpu0, cpu1;      /* our CPU seconds */
    struct proc_cpu s0, s1; /* the server's */
    int perf_ctl, perf_ack; /* FIFO descriptors, -1 when unused */
    int open;
};

/* Open the perf FIFOs if asked (blocks until perf has them open). Returns 0 or -1. */
int window_init(struct window *w, const struct bench_opts *o);
/* Start measuring. */
void window_begin(struct window *w);
/* Stop measuring. */
void window_end(struct window *w);
/* Seconds between begin and end. */
double window_secs(const struct window *w);
/* Report elapsed time, rate of units, our CPU share and the server's CPU per unit. */
void window_report(const struct window *w, uint64_t units, const char *unit);
/* Close the FIFOs. */
void window_close(struct window *w);

#endif
