/* window.c: the measured stretch of a run and what is read at its two ends. */
#include "window.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WINDOW_PERF_WAIT_MS 5000 /* how long perf may take to acknowledge */

/* Open the perf control FIFOs when the options name them; perf opens both at its
 * start, so wait (bounded) until the control FIFO has a reader. */
int
window_init(struct window *w, const struct bench_opts *o)
{
    uint64_t end = bench_now() + (uint64_t)WINDOW_PERF_WAIT_MS * 1000000u;

    memset(w, 0, sizeof *w);
    w->o = o;
    w->perf_ctl = w->perf_ack = -1;
    if (o->perf_ctl == NULL)
        return 0;
    while ((w->perf_ctl = open(o->perf_ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1 &&
           errno == ENXIO && bench_now() < end)
        poll(NULL, 0, 10);
    if (w->perf_ctl == -1 ||
        (w->perf_ack = open(o->perf_ack, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
        fprintf(stderr, "hcs-bench: perf FIFO: %s\n", strerror(errno));
        window_close(w);
        return -1;
    }
    return 0;
}

/* Send a command to perf stat and wait for its "ack". */
static void
window_perf(struct window *w, const char *cmd)
{
    struct pollfd pfd = {w->perf_ack, POLLIN, 0};
    char buf[16];

    if (w->perf_ctl == -1)
        return;
    if (write(w->perf_ctl, cmd, strlen(cmd)) == -1) {
        fprintf(stderr, "hcs-bench: cannot send perf %s", cmd);
        return;
    }
    if (poll(&pfd, 1, WINDOW_PERF_WAIT_MS) <= 0 || read(w->perf_ack, buf, sizeof buf) <= 0)
        fprintf(stderr, "hcs-bench: perf did not acknowledge %s", cmd);
}

/* Start measuring: perf on, then the readings. */
void
window_begin(struct window *w)
{
    window_perf(w, "enable\n");
    if (w->o->server_pid > 0)
        proc_cpu(w->o->server_pid, &w->s0);
    w->cpu0 = proc_self_cpu();
    w->t0 = bench_now();
    w->open = 1;
}

/* Stop measuring: the readings, then perf off. */
void
window_end(struct window *w)
{
    if (!w->open)
        return;
    w->t1 = bench_now();
    w->cpu1 = proc_self_cpu();
    if (w->o->server_pid > 0)
        proc_cpu(w->o->server_pid, &w->s1);
    window_perf(w, "disable\n");
    w->open = 0;
}

/* Seconds between begin and end. */
double
window_secs(const struct window *w)
{
    return w->t1 > w->t0 ? (double)(w->t1 - w->t0) / 1e9 : 0.0;
}

/* Report the window: time, rate, our CPU share, server CPU per unit. */
void
window_report(const struct window *w, uint64_t units, const char *unit)
{
    double secs = window_secs(w), us;
    char key[64];

    report_kv("seconds", "%.3f", secs);
    snprintf(key, sizeof key, "%s_per_s", unit);
    report_kv(key, "%.0f", secs > 0 ? (double)units / secs : 0.0);
    report_kv("client_cpu_pct", "%.1f", secs > 0 ? 100.0 * (w->cpu1 - w->cpu0) / secs : 0.0);
    if (w->o->server_pid <= 0 || !w->s0.ok || !w->s1.ok)
        return;
    us = proc_cpu_us(&w->s0, &w->s1);
    report_kv("server_cpu_pct", "%.1f", secs > 0 ? us / 1e4 / secs : 0.0);
    report_kv("server_cpu_ms", "%.0f", us / 1e3);
    if (units == 0)
        return;
    report_kv("server_cpu_us_per_req", "%.3f", us / (double)units);
    if (w->s0.ns > 0 && w->s1.ns >= w->s0.ns)
        report_kv("server_sched_us_per_req", "%.3f",
                  (double)(w->s1.ns - w->s0.ns) / 1e3 / (double)units);
}

/* Close the FIFOs. */
void
window_close(struct window *w)
{
    if (w->perf_ctl != -1)
        close(w->perf_ctl);
    if (w->perf_ack != -1)
        close(w->perf_ack);
    w->perf_ctl = w->perf_ack = -1;
}
