/* race.c: the race mode: every patient asks for a slot at the same instant; then each is
 * asked its appointment, and the winners must be exactly min(patients, slots). */
#include "bench.h"
#include "hist.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"
#include "window.h"

#include <stdio.h>
#include <string.h>

/* Every patient asks for its slot at once. */
void
race_fire(struct tcp *t)
{
    unsigned i;

    t->phase = TP_RUN;
    window_begin(&t->load.win);
    t->t_fire = bench_now();
    t->run_end = t->t_fire + (uint64_t)(t->o->duration * 1e9);
    for (i = 0; i < t->n; i++) {
        struct tcp_conn *c = &t->c[i];
        if (c->st != ST_READY)
            continue;
        c->slot = t->o->slot_offset + (uint32_t)(i % t->o->slots) + 1;
        c->won = -1;
        c->st = ST_SELECT;
        c->t_req = bench_now();
        sock_send(t, c, "selection %u\n", c->slot);
    }
    t->t_sent = bench_now();
}

/* After the last answer, stop the clock and check every patient's appointment. */
void
race_check(struct tcp *t)
{
    if (t->phase == TP_RUN && t->nanswered == t->nready) {
        window_end(&t->load.win);
        tcp_verify(t);
    }
}

/* The answer to selection: a win, a loss, or an error; a slot won twice is counted. */
void
race_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked)
{
    uint64_t now = bench_now();
    uint32_t k = c->slot - t->o->slot_offset - 1;

    hist_add(&t->steps[STEP_SELECT], now - c->t_req);
    if (t->nanswered++ == 0)
        t->t_first = now;
    t->t_last = now;
    c->st = ST_READY;
    if (booked) {
        c->won = 1;
        t->nwon++;
        if (t->taken[k])
            t->ndup++;
        t->taken[k] = 1;
    } else if (tcp_starts(line, len, "notavailable")) {
        c->won = 0;
        t->nlost++;
    } else {
        c->won = -1;
        t->errors++;
        report_problem("conn %u: selection %u: \"%.*s\"", c->id, c->slot, (int)len, line);
    }
    race_check(t);
}

/* Is the answer to appointment what the race said (the slot won, or none)? */
int
race_verified(const struct tcp_conn *c, const char *line, size_t len)
{
    char want[64];

    if (c->won == 1) {
        snprintf(want, sizeof want, "appointment %u ", c->slot);
        return tcp_starts(line, len, want);
    }
    return len == 16 && memcmp(line, "appointment none", 16) == 0;
}

/* Check the deadlines of the race and of its verification. */
void
race_tick(struct tcp *t, uint64_t now)
{
    if (t->phase == TP_RUN && now >= t->run_end) {
        report_problem("race: %u of %u answered in time", t->nanswered, t->nready);
        window_end(&t->load.win);
        t->errors += t->nready - t->nanswered;
        t->stop = 1;
    } else if (t->phase == TP_VERIFY && now >= t->run_end) {
        report_problem("race: %u of %u verified in time", t->nverified, t->nready);
        t->stop = 1;
    }
}

/* Print winners, losers, a slot given twice and the timings. Returns 1 if a check failed. */
int
race_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    unsigned expect = t->n < o->slots ? t->n : o->slots;
    int ok = t->errors == 0 && t->nwon == expect && t->ndup == 0 && t->nbad == 0 &&
             t->nanswered == t->n && t->nverified == t->n;

    report_kv("patients", "%u", t->n);
    report_kv("slots", "%u", o->slots);
    report_kv("answered", "%u", t->nanswered);
    report_kv("winners", "%u", t->nwon);
    report_kv("expected_winners", "%u", expect);
    report_kv("losers", "%u", t->nlost);
    report_kv("slot_twice", "%u", t->ndup);
    report_kv("verified_bad", "%u", t->nbad);
    report_kv("errors", "%llu", (unsigned long long)t->errors);
    report_kv("send_all_ms", "%.3f", (double)(t->t_sent - t->t_fire) / 1e6);
    report_kv("first_to_last_ms", "%.3f",
              t->nanswered > 0 ? (double)(t->t_last - t->t_first) / 1e6 : 0.0);
    report_kv("send_to_last_ms", "%.3f",
              t->nanswered > 0 ? (double)(t->t_last - t->t_fire) / 1e6 : 0.0);
    report_kv("winners_per_s", "%.0f",
              t->nanswered > 0 && t->t_last > t->t_fire
                  ? (double)t->nwon / ((double)(t->t_last - t->t_fire) / 1e9)
                  : 0.0);
    window_report(&t->load.win, t->nanswered, "answer");
    report_hist("selection", &t->steps[STEP_SELECT]);
    report_kv("race", "%s", ok ? "ok" : "FAILED");
    return !ok;
}
