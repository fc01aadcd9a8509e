/* load.h: the phases of a closed-loop run: warm-up, drain, measure (bounded by count and
 * by time), drain. The engines (tcp.c, udp.c) ask it before each request and tell it of
 * each answer. */
#ifndef HCS_BENCH_LOAD_H
#define HCS_BENCH_LOAD_H

#include <stdint.h>

#include "bench.h"
#include "hist.h"
#include "window.h"

enum load_phase {
    LOAD_SETUP,   /* connecting and logging in */
    LOAD_WARMUP,  /* load, not recorded */
    LOAD_SETTLE,  /* warm-up over: wait for its answers */
    LOAD_MEASURE, /* load, recorded */
    LOAD_DRAIN,   /* bound reached: wait for the last answers */
    LOAD_DONE,
};

/* What the engine must do after load_answered or load_tick. */
enum load_action {
    LOAD_NONE,
    LOAD_KICK, /* a phase began: issue a request on every idle connection */
    LOAD_STOP, /* finished */
};

struct load {
    const struct bench_opts *o;
    enum load_phase phase;
    uint64_t warm_end;    /* when warm-up ends */
    uint64_t measure_end; /* when the time bound stops issuing */
    uint64_t issued;      /* requests issued while measuring */
    uint64_t answered;    /* of those, answered */
    uint64_t outstanding; /* requests in flight, any phase */
    struct hist lat;      /* latency of each measured request */
    struct window win;
};

/* Prepare; the engine calls load_start once its connections are ready. */
int load_init(struct load *l, const struct bench_opts *o);
/* Connections are ready: begin warm-up (or measuring). Returns LOAD_KICK. */
enum load_action load_start(struct load *l);
/* May a request be issued now? Sets *measured; counts it. */
int load_issue(struct load *l, int *measured);
/* A request was answered (or failed) after lat ns. */
enum load_action load_answered(struct load *l, int measured, uint64_t lat, int ok);
/* Check the clock (call at least every 100 ms). */
enum load_action load_tick(struct load *l);
/* The deadline after which the engine gives up waiting, ns. */
uint64_t load_deadline(const struct load *l);
/* Report requests, errors and quantiles; unit names a request ("req", "session"). */
void load_report(struct load *l, uint64_t errors, const char *unit);

#endif
