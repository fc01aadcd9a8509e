/* load.c: phases of a closed-loop run, bounded by count and by time. */
#include "load.h"
#include "report.h"

#include <string.h>

#define LOAD_GRACE_NS 5000000000ull /* how long the last answers may take after the bound */

/* Prepare the phases. */
int
load_init(struct load *l, const struct bench_opts *o)
{
    memset(l, 0, sizeof *l);
    l->o = o;
    l->phase = LOAD_SETUP;
    hist_init(&l->lat);
    return window_init(&l->win, o);
}

/* Begin measuring now. */
static void
load_measure(struct load *l)
{
    l->phase = LOAD_MEASURE;
    window_begin(&l->win);
    l->measure_end = l->win.t0 + (uint64_t)(l->o->duration * 1e9);
}

/* Connections are ready: warm up first if asked. */
enum load_action
load_start(struct load *l)
{
    if (l->o->warmup > 0) {
        l->phase = LOAD_WARMUP;
        l->warm_end = bench_now() + (uint64_t)(l->o->warmup * 1e9);
    } else {
        load_measure(l);
    }
    return LOAD_KICK;
}

/* May a request be issued now? */
int
load_issue(struct load *l, int *measured)
{
    *measured = 0;
    if (l->phase == LOAD_WARMUP) {
        l->outstanding++;
        return 1;
    }
    if (l->phase != LOAD_MEASURE)
        return 0;
    if (l->issued >= l->o->requests || bench_now() >= l->measure_end) {
        l->phase = LOAD_DRAIN;
        return 0;
    }
    l->issued++;
    l->outstanding++;
    *measured = 1;
    return 1;
}

/* Move on when the clock or the counts say so. */
static enum load_action
load_advance(struct load *l, uint64_t now)
{
    if (l->phase == LOAD_WARMUP && now >= l->warm_end)
        l->phase = LOAD_SETTLE;
    if (l->phase == LOAD_SETTLE && l->outstanding == 0) {
        load_measure(l);
        return LOAD_KICK;
    }
    if (l->phase == LOAD_MEASURE && (l->issued >= l->o->requests || now >= l->measure_end))
        l->phase = LOAD_DRAIN;
    if (l->phase == LOAD_DRAIN && l->outstanding == 0) {
        window_end(&l->win);
        l->phase = LOAD_DONE;
    }
    return l->phase == LOAD_DONE ? LOAD_STOP : LOAD_NONE;
}

/* A request was answered. */
enum load_action
load_answered(struct load *l, int measured, uint64_t lat, int ok)
{
    if (l->outstanding > 0)
        l->outstanding--;
    if (measured) {
        l->answered++;
        if (ok)
            hist_add(&l->lat, lat);
    }
    return load_advance(l, bench_now());
}

/* Check the clock. */
enum load_action
load_tick(struct load *l)
{
    return load_advance(l, bench_now());
}

/* When the engine stops waiting: the end of the time bound plus a grace period. */
uint64_t
load_deadline(const struct load *l)
{
    if (l->phase == LOAD_WARMUP || l->phase == LOAD_SETTLE)
        return l->warm_end + LOAD_GRACE_NS + (uint64_t)(l->o->duration * 1e9) + LOAD_GRACE_NS;
    return l->measure_end + LOAD_GRACE_NS;
}

/* Report the measured requests. */
void
load_report(struct load *l, uint64_t errors, const char *unit)
{
    if (l->phase != LOAD_DONE)
        window_end(&l->win);
    report_kv("requests", "%llu", (unsigned long long)l->answered);
    report_kv("errors", "%llu", (unsigned long long)errors);
    report_kv("unanswered", "%llu", (unsigned long long)(l->issued - l->answered));
    report_kv("bound", "%s", l->issued >= l->o->requests ? "count" : "time");
    window_report(&l->win, l->answered, unit);
    report_hist("lat", &l->lat);
}
