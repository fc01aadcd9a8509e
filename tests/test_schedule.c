/* test_schedule.c: unit tests of the slots, their reservation, and subscribe/notify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedule.h"

/* config/availabilities.txt as shipped. */
static const char sample[] = "1 Tue 01pm doc1 41000\n"
                             "2 Mon 03pm doc2 42000\n"
                             "3 Thu 02pm doc1 41000\n"
                             "4 Wed 10am doc1 41000\n"
                             "5 Sat 12pm doc2 42000\n"
                             "6 Fri 04pm doc2 42000\n";

/* Load a schedule from a string, asserting that it loads. */
static void
load_ok(struct schedule *s, const char *text)
{
    char err[256] = "";
    int rc = schedule_load_mem(s, "avail.txt", text, strlen(text), err, sizeof err);

    if (rc != 0)
        print_error("unexpected load error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    assert_int_equal(s->nfree, s->n);
    assert_int_equal(s->version, 0);
    assert_int_equal(s->nsubs, 0);
    assert_true(TAILQ_EMPTY(&s->subs));
}

/* Assert that len bytes of text fail to load with exactly the message want. */
static void
load_fails(const char *text, size_t len, const char *want)
{
    struct schedule s;
    char err[256] = "";

    memset(&s, 0x5a, sizeof s);
    assert_int_equal(schedule_load_mem(&s, "avail.txt", text, len, err, sizeof err), -1);
    assert_string_equal(err, want);
    /* A failed load leaves an empty schedule that lookups and free accept. */
    assert_int_equal(s.n, 0);
    assert_int_equal(s.nfree, 0);
    assert_null(s.slots);
    assert_null(s.doctors);
    assert_true(TAILQ_EMPTY(&s.subs));
    assert_null(schedule_find(&s, 1));
    schedule_free(&s);
    schedule_free(&s);
}

/* load_fails for a string literal, which may hold NUL bytes. */
#define LOAD_FAILS(lit, want) load_fails(lit, sizeof lit - 1, want)

/* Assert a slot's fields and its doctor. */
static void
assert_slot(const struct schedule *s, const struct slot *slot, uint32_t index, const char *day,
            const char *time, const char *doctor, unsigned port, uint32_t line)
{
    const struct sched_doctor *d;

    assert_non_null(slot);
    assert_int_equal(slot->index, index);
    assert_string_equal(slot->day, day);
    assert_string_equal(slot->time, time);
    assert_int_equal(slot->line, line);
    assert_int_equal(slot->holder, SCHEDULE_FREE);
    assert_ptr_equal(schedule_find(s, index), slot);
    d = schedule_doctor(s, slot);
    assert_non_null(d);
    assert_string_equal(d->name, doctor);
    assert_int_equal(d->port, port);
}

/* The sample file loads in file order, with two doctors. */
static void
test_load_sample(void **state)
{
    struct schedule s;

    (void)state;
    load_ok(&s, sample);
    assert_int_equal(s.n, 6);
    assert_int_equal(s.nfree, 6);
    assert_int_equal(s.ndoctors, 2);
    assert_slot(&s, &s.slots[0], 1, "Tue", "01pm", "doc1", 41000, 1);
    assert_slot(&s, &s.slots[1], 2, "Mon", "03pm", "doc2", 42000, 2);
    assert_slot(&s, &s.slots[2], 3, "Thu", "02pm", "doc1", 41000, 3);
    assert_slot(&s, &s.slots[3], 4, "Wed", "10am", "doc1", 41000, 4);
    assert_slot(&s, &s.slots[4], 5, "Sat", "12pm", "doc2", 42000, 5);
    assert_slot(&s, &s.slots[5], 6, "Fri", "04pm", "doc2", 42000, 6);
    schedule_free(&s);
    assert_int_equal(s.n, 0);
    assert_null(s.slots);
    assert_null(s.doctors);
}

/* CRLF, blank lines, tabs, repeated spaces and a missing final newline are accepted. */
static void
test_load_layouts(void **state)
{
    struct schedule s;

    (void)state;
    load_ok(&s, "1 Tue 01pm doc1 41000\r\n"
                "\r\n"
                "  2\tMon   03pm \t doc2\t42000  \r\n"
                "\n"
                "3 Thu 02pm doc1 41000");
    assert_int_equal(s.n, 3);
    assert_slot(&s, &s.slots[0], 1, "Tue", "01pm", "doc1", 41000, 1);
    assert_slot(&s, &s.slots[1], 2, "Mon", "03pm", "doc2", 42000, 3);
    assert_slot(&s, &s.slots[2], 3, "Thu", "02pm", "doc1", 41000, 5);
    schedule_free(&s);
}

/* Two-digit, sparse and unordered indices keep file order and are found by number. */
static void
test_load_sparse(void **state)
{
    struct schedule s;

    (void)state;
    load_ok(&s, "10 Mon 09am doc1 41000\n"
                "11 Mon 10am doc1 41000\n"
                "7 Tue 11am doc2 42000\n"
                "100 Wed 12pm doc2 42000\n"
                "4294967295 Thu 01pm doc1 41000\n");
    assert_int_equal(s.n, 5);
    assert_int_equal(s.nfree, 5);
    assert_slot(&s, &s.slots[0], 10, "Mon", "09am", "doc1", 41000, 1);
    assert_slot(&s, &s.slots[1], 11, "Mon", "10am", "doc1", 41000, 2);
    assert_slot(&s, &s.slots[2], 7, "Tue", "11am", "doc2", 42000, 3);
    assert_slot(&s, &s.slots[3], 100, "Wed", "12pm", "doc2", 42000, 4);
    assert_slot(&s, &s.slots[4], 4294967295u, "Thu", "01pm", "doc1", 41000, 5);
    assert_null(schedule_find(&s, 0));
    assert_null(schedule_find(&s, 1));
    assert_null(schedule_find(&s, 8));
    assert_null(schedule_find(&s, 12));
    assert_null(schedule_find(&s, 101));
    assert_null(schedule_find(&s, 4294967294u));
    schedule_free(&s);
}

/* An index must be a plain number from 1 to 4294967295; the error names its line. */
static void
test_load_bad_index(void **state)
{
    static const char *const bad[] = {"0",
                                      "-1",
                                      "+1",
                                      "1x",
                                      "x1",
                                      "1.0",
                                      "4294967296",
                                      "18446744073709551616",
                                      "0x10",
                                      "1e3",
                                      "99999999999999999999999"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "1 Tue 01pm doc1 41000\n\n%s Mon 03pm doc2 42000\n", bad[i]);
        load_fails(text, strlen(text), "avail.txt:3: index must be a number from 1 to 4294967295");
    }
    LOAD_FAILS("0 Tue 01pm doc1 41000\n",
               "avail.txt:1: index must be a number from 1 to 4294967295");
}

/* A port must be a plain number from 1 to 65535; 1 and 65535 are accepted. */
static void
test_load_bad_port(void **state)
{
    static const char *const bad[] = {"0", "65536", "x", "-1", "+80", "41000x", "99999999999"};
    struct schedule s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "1 Tue 01pm doc1 41000\r\n2 Mon 03pm doc2 %s\r\n", bad[i]);
        load_fails(text, strlen(text), "avail.txt:2: port must be a number from 1 to 65535");
    }
    load_ok(&s, "1 Tue 01pm low 1\n2 Mon 03pm high 65535\n");
    assert_int_equal(schedule_doctor(&s, schedule_find(&s, 1))->port, 1);
    assert_int_equal(schedule_doctor(&s, schedule_find(&s, 2))->port, 65535);
    schedule_free(&s);
}

/* An index twice names the first line. */
static void
test_load_duplicate(void **state)
{
    (void)state;
    LOAD_FAILS("3 Tue 01pm doc1 41000\n1 Mon 03pm doc2 42000\n3 Thu 02pm doc1 41000\n",
               "avail.txt:3: duplicate index 3 (first on line 1)");
    LOAD_FAILS("10 Tue 01pm doc1 41000\n\n11 Mon 03pm doc2 42000\n\n11 Thu 02pm doc1 41000\n",
               "avail.txt:5: duplicate index 11 (first on line 3)");
    /* An identical row is still a duplicate. */
    LOAD_FAILS("5 Sat 12pm doc2 42000\r\n5 Sat 12pm doc2 42000\r\n",
               "avail.txt:2: duplicate index 5 (first on line 1)");
}

/* Day and time hold 15 bytes, a doctor name 31; one more is refused. */
static void
test_load_lengths(void **state)
{
    char day[PROTO_DAYLEN + 1], doc[PROTO_NAMELEN + 1], text[256];
    struct schedule s;

    (void)state;
    memset(day, 'd', PROTO_DAYLEN - 1);
    day[PROTO_DAYLEN - 1] = '\0';
    memset(doc, 'n', PROTO_NAMELEN - 1);
    doc[PROTO_NAMELEN - 1] = '\0';
    snprintf(text, sizeof text, "1 %s %s %s 41000\n", day, day, doc);
    load_ok(&s, text);
    assert_int_equal(s.n, 1);
    assert_slot(&s, &s.slots[0], 1, day, day, doc, 41000, 1);
    schedule_free(&s);

    day[PROTO_DAYLEN - 1] = 'd';
    day[PROTO_DAYLEN] = '\0';
    snprintf(text, sizeof text, "1 Tue 01pm doc1 41000\n2 %s 03pm doc2 42000\n", day);
    load_fails(text, strlen(text), "avail.txt:2: day or time longer than 15 bytes");
    snprintf(text, sizeof text, "1 Tue %s doc1 41000\n", day);
    load_fails(text, strlen(text), "avail.txt:1: day or time longer than 15 bytes");

    doc[PROTO_NAMELEN - 1] = 'n';
    doc[PROTO_NAMELEN] = '\0';
    snprintf(text, sizeof text, "1 Tue 01pm doc1 41000\n\n\n2 Mon 03pm %s 42000\n", doc);
    load_fails(text, strlen(text), "avail.txt:4: doctor name longer than 31 bytes");
}

/* A row needs exactly five fields. */
static void
test_load_field_count(void **state)
{
    (void)state;
    LOAD_FAILS("1 Tue 01pm doc1 41000\n2 Mon 03pm doc2\n",
               "avail.txt:2: expected 5 fields (index day time doctor port), found 4");
    LOAD_FAILS("1 Tue 01pm doc1 41000 extra\n",
               "avail.txt:1: expected 5 fields (index day time doctor port), found 6");
    LOAD_FAILS("1 Tue 01pm doc1 41000\r\n\r\n7\r\n",
               "avail.txt:3: expected 5 fields (index day time doctor port), found 1");
    LOAD_FAILS("1 2 3 4 5 6 7 8\n",
               "avail.txt:1: expected 5 fields (index day time doctor port), found 8");
    LOAD_FAILS("1 2 3 4 5 6 7 8 9\n", "avail.txt:1: too many fields");
}

/* Control bytes, NUL and DEL inside a row are refused with their line. */
static void
test_load_control(void **state)
{
    (void)state;
    LOAD_FAILS("1 Tue 01pm doc1 41000\n2 Mon\0 03pm doc2 42000\n",
               "avail.txt:2: control character (byte 0x00) in row");
    LOAD_FAILS("1 Tue 01pm doc\x01 41000\n", "avail.txt:1: control character (byte 0x01) in row");
    LOAD_FAILS("\n1 Tue 01pm doc1 41000\x7f\n",
               "avail.txt:2: control character (byte 0x7f) in row");
    LOAD_FAILS("1 Tue\r01pm doc1 41000\n", "avail.txt:1: control character (byte 0x0d) in row");
}

/* An empty file, or one of blank lines, is a valid schedule with no slots. */
static void
test_load_empty(void **state)
{
    struct schedule s;
    struct sched_sub sub;

    (void)state;
    load_ok(&s, "");
    assert_int_equal(s.n, 0);
    assert_int_equal(s.nfree, 0);
    assert_int_equal(s.ndoctors, 0);
    assert_null(schedule_find(&s, 1));
    memset(&sub, 0, sizeof sub);
    assert_int_equal(schedule_reserve(&s, 1, 0, &sub), SCHED_UNKNOWN);
    assert_int_equal(schedule_release(&s, 1), SCHED_UNKNOWN);
    assert_int_equal(s.version, 0);
    schedule_free(&s);

    load_ok(&s, "\n\r\n  \t \n\n");
    assert_int_equal(s.n, 0);
    assert_null(schedule_find(&s, 1));
    schedule_free(&s);
}

/* schedule_find returns the slot of that index in file order, or NULL. */
static void
test_find(void **state)
{
    struct schedule s;
    uint32_t i;

    (void)state;
    load_ok(&s, sample);
    for (i = 1; i <= 6; i++)
        assert_ptr_equal(schedule_find(&s, i), &s.slots[i - 1]);
    assert_null(schedule_find(&s, 0));
    assert_null(schedule_find(&s, 7));
    assert_null(schedule_find(&s, 11));
    assert_null(schedule_find(&s, UINT32_MAX));
    schedule_free(&s);
}

/* A doctor is shared by slots with the same name and port, distinct otherwise. */
static void
test_doctor(void **state)
{
    struct schedule s;
    const struct sched_doctor *d1, *d2, *d3, *d4, *d5;

    (void)state;
    load_ok(&s, "1 Tue 01pm doc1 41000\n"
                "2 Mon 03pm doc2 42000\n"
                "3 Thu 02pm doc1 41000\n"
                "4 Wed 10am doc1 41001\n"
                "5 Sat 12pm doc3 41000\n"
                "6 Fri 04pm Doc1 41000\n"
                "7 Sun 09am doc2 42000\n");
    assert_int_equal(s.ndoctors, 5);
    d1 = schedule_doctor(&s, schedule_find(&s, 1));
    d2 = schedule_doctor(&s, schedule_find(&s, 2));
    d3 = schedule_doctor(&s, schedule_find(&s, 4));
    d4 = schedule_doctor(&s, schedule_find(&s, 5));
    d5 = schedule_doctor(&s, schedule_find(&s, 6));
    assert_ptr_equal(schedule_doctor(&s, schedule_find(&s, 3)), d1);
    assert_ptr_equal(schedule_doctor(&s, schedule_find(&s, 7)), d2);
    assert_int_equal(schedule_find(&s, 1)->doctor, schedule_find(&s, 3)->doctor);
    assert_true(d1 != d2 && d1 != d3 && d1 != d4 && d1 != d5);
    assert_true(d3 != d4 && d3 != d5 && d4 != d5 && d2 != d5);
    assert_string_equal(d1->name, "doc1");
    assert_int_equal(d1->port, 41000);
    assert_string_equal(d2->name, "doc2");
    assert_int_equal(d2->port, 42000);
    assert_string_equal(d3->name, "doc1");
    assert_int_equal(d3->port, 41001);
    assert_string_equal(d4->name, "doc3");
    assert_int_equal(d4->port, 41000);
    assert_string_equal(d5->name, "Doc1");
    assert_int_equal(d5->port, 41000);
    schedule_free(&s);
}

/* Reserve: OK once, then TAKEN; UNKNOWN for an index not in the file; counters follow. */
static void
test_reserve(void **state)
{
    struct schedule s;

    (void)state;
    load_ok(&s, sample);
    assert_int_equal(schedule_reserve(&s, 3, 17, NULL), SCHED_OK);
    assert_int_equal(schedule_find(&s, 3)->holder, 17);
    assert_int_equal(s.nfree, 5);
    assert_int_equal(s.version, 1);

    assert_int_equal(schedule_reserve(&s, 3, 18, NULL), SCHED_TAKEN);
    assert_int_equal(schedule_reserve(&s, 3, 17, NULL), SCHED_TAKEN);
    assert_int_equal(schedule_find(&s, 3)->holder, 17);
    assert_int_equal(s.nfree, 5);
    assert_int_equal(s.version, 1);

    assert_int_equal(schedule_reserve(&s, 7, 18, NULL), SCHED_UNKNOWN);
    assert_int_equal(schedule_reserve(&s, 0, 18, NULL), SCHED_UNKNOWN);
    assert_int_equal(schedule_reserve(&s, UINT32_MAX, 18, NULL), SCHED_UNKNOWN);
    assert_int_equal(s.nfree, 5);
    assert_int_equal(s.version, 1);

    /* Holder 0 is a real user number. */
    assert_int_equal(schedule_reserve(&s, 1, 0, NULL), SCHED_OK);
    assert_int_equal(schedule_find(&s, 1)->holder, 0);
    assert_int_equal(schedule_reserve(&s, 1, 5, NULL), SCHED_TAKEN);
    assert_int_equal(s.nfree, 4);
    assert_int_equal(s.version, 2);

    /* Every slot can go; then nothing is free. */
    assert_int_equal(schedule_reserve(&s, 2, 2, NULL), SCHED_OK);
    assert_int_equal(schedule_reserve(&s, 4, 4, NULL), SCHED_OK);
    assert_int_equal(schedule_reserve(&s, 5, 5, NULL), SCHED_OK);
    assert_int_equal(schedule_reserve(&s, 6, 6, NULL), SCHED_OK);
    assert_int_equal(s.nfree, 0);
    assert_int_equal(s.version, 6);
    assert_int_equal(schedule_find(&s, 2)->holder, 2);
    assert_int_equal(schedule_find(&s, 6)->holder, 6);
    schedule_free(&s);
}

/* Release: OK for a held slot, TAKEN for a free one, UNKNOWN for a missing index. */
static void
test_release(void **state)
{
    struct schedule s;

    (void)state;
    load_ok(&s, sample);
    assert_int_equal(schedule_release(&s, 2), SCHED_TAKEN);
    assert_int_equal(s.nfree, 6);
    assert_int_equal(s.version, 0);

    assert_int_equal(schedule_reserve(&s, 2, 9, NULL), SCHED_OK);
    assert_int_equal(schedule_release(&s, 2), SCHED_OK);
    assert_int_equal(schedule_find(&s, 2)->holder, SCHEDULE_FREE);
    assert_int_equal(s.nfree, 6);
    assert_int_equal(s.version, 2);

    assert_int_equal(schedule_release(&s, 2), SCHED_TAKEN);
    assert_int_equal(schedule_release(&s, 9), SCHED_UNKNOWN);
    assert_int_equal(schedule_release(&s, 0), SCHED_UNKNOWN);
    assert_int_equal(s.nfree, 6);
    assert_int_equal(s.version, 2);

    /* A released slot can be booked by someone else. */
    assert_int_equal(schedule_reserve(&s, 2, 10, NULL), SCHED_OK);
    assert_int_equal(schedule_find(&s, 2)->holder, 10);
    assert_int_equal(s.nfree, 5);
    assert_int_equal(s.version, 3);
    schedule_free(&s);
}

/* What one callback saw. */
struct event {
    int who;
    enum sched_change change;
    uint32_t index;
    const struct slot *slot;
    uint32_t holder; /* slot->holder when told */
    size_t nfree;    /* schedule->nfree when told */
    uint64_t version;
};

#define MAXEVENTS 64

static struct event events[MAXEVENTS];
static size_t nevents;

/* A recording subscriber. */
struct watcher {
    struct sched_sub sub;
    int id;
    struct schedule *s;
    int unsub_when_told; /* unsubscribe itself from inside the callback */
    int free_when_told;  /* and free itself (it was malloc'd) */
};

/* Record a change in events[]; unsubscribe or free itself if asked to. */
static void
watcher_cb(struct sched_sub *sub, enum sched_change change, const struct slot *slot)
{
    struct watcher *w = sub->arg;
    struct event *e;

    assert_non_null(w);
    assert_ptr_equal(&w->sub, sub);
    assert_true(sub->active);
    assert_true(nevents < MAXEVENTS);
    e = &events[nevents++];
    e->who = w->id;
    e->change = change;
    e->index = slot->index;
    e->slot = slot;
    e->holder = slot->holder;
    e->nfree = w->s->nfree;
    e->version = w->s->version;
    if (w->unsub_when_told || w->free_when_told) {
        schedule_unsubscribe(w->s, sub);
        assert_false(sub->active);
        /* Once out of the list the links are the owner's: a walk must not follow them. */
        memset(&sub->entry, 0, sizeof sub->entry);
    }
    if (w->free_when_told)
        free(w);
}

/* Set up a watcher with this id on s (not yet subscribed). */
static void
watcher_init(struct watcher *w, struct schedule *s, int id)
{
    memset(w, 0, sizeof *w);
    w->sub.cb = watcher_cb;
    w->sub.arg = w;
    w->id = id;
    w->s = s;
}

/* Assert the i-th recorded event. */
static void
assert_event(const struct schedule *s, size_t i, int who, enum sched_change change, uint32_t index,
             uint32_t holder, size_t nfree, uint64_t version)
{
    assert_true(i < nevents);
    assert_int_equal(events[i].who, who);
    assert_int_equal(events[i].change, change);
    assert_int_equal(events[i].index, index);
    assert_ptr_equal(events[i].slot, schedule_find(s, index));
    assert_int_equal(events[i].holder, holder);
    assert_int_equal(events[i].nfree, nfree);
    assert_int_equal(events[i].version, version);
}

/* The schedule every notify test starts from. */
static struct schedule fixture;

/* Load the sample schedule and clear the event log. */
static int
setup_sample(void **state)
{
    char err[256] = "";

    if (schedule_load_mem(&fixture, "avail.txt", sample, sizeof sample - 1, err, sizeof err) != 0)
        return -1;
    memset(events, 0, sizeof events);
    nevents = 0;
    *state = &fixture;
    return 0;
}

/* Free the sample schedule. */
static int
teardown_sample(void **state)
{
    schedule_free(*state);
    return 0;
}

/* Every subscriber hears each reserve and release, in subscription order, with its slot. */
static void
test_notify_order(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b, c;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    watcher_init(&c, s, 'C');
    schedule_subscribe(s, &c.sub);
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    assert_int_equal(s->nsubs, 3);
    assert_true(a.sub.active && b.sub.active && c.sub.active);

    assert_int_equal(schedule_reserve(s, 4, 40, NULL), SCHED_OK);
    assert_int_equal(nevents, 3);
    assert_event(s, 0, 'C', SCHED_RESERVED, 4, 40, 5, 1);
    assert_event(s, 1, 'A', SCHED_RESERVED, 4, 40, 5, 1);
    assert_event(s, 2, 'B', SCHED_RESERVED, 4, 40, 5, 1);

    assert_int_equal(schedule_release(s, 4), SCHED_OK);
    assert_int_equal(nevents, 6);
    assert_event(s, 3, 'C', SCHED_RELEASED, 4, SCHEDULE_FREE, 6, 2);
    assert_event(s, 4, 'A', SCHED_RELEASED, 4, SCHEDULE_FREE, 6, 2);
    assert_event(s, 5, 'B', SCHED_RELEASED, 4, SCHEDULE_FREE, 6, 2);
    assert_string_equal(events[5].slot->day, "Wed");
    assert_string_equal(events[5].slot->time, "10am");

    assert_int_equal(schedule_reserve(s, 6, 60, NULL), SCHED_OK);
    assert_int_equal(nevents, 9);
    assert_event(s, 6, 'C', SCHED_RESERVED, 6, 60, 5, 3);
    assert_event(s, 8, 'B', SCHED_RESERVED, 6, 60, 5, 3);
    assert_int_equal(s->nsubs, 3);
}

/* The reserving subscriber stops watching and is not told of its own booking. */
static void
test_notify_self(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b, c;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    watcher_init(&c, s, 'C');
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    schedule_subscribe(s, &c.sub);

    assert_int_equal(schedule_reserve(s, 2, 1, &b.sub), SCHED_OK);
    assert_false(b.sub.active);
    assert_true(a.sub.active && c.sub.active);
    assert_int_equal(s->nsubs, 2);
    assert_int_equal(nevents, 2);
    assert_event(s, 0, 'A', SCHED_RESERVED, 2, 1, 5, 1);
    assert_event(s, 1, 'C', SCHED_RESERVED, 2, 1, 5, 1);

    /* It hears nothing more, either. */
    assert_int_equal(schedule_release(s, 2), SCHED_OK);
    assert_int_equal(nevents, 4);
    assert_event(s, 2, 'A', SCHED_RELEASED, 2, SCHEDULE_FREE, 6, 2);
    assert_event(s, 3, 'C', SCHED_RELEASED, 2, SCHEDULE_FREE, 6, 2);

    /* The first and the last subscriber as self. */
    assert_int_equal(schedule_reserve(s, 1, 2, &a.sub), SCHED_OK);
    assert_int_equal(nevents, 5);
    assert_event(s, 4, 'C', SCHED_RESERVED, 1, 2, 5, 3);
    assert_int_equal(schedule_reserve(s, 3, 3, &c.sub), SCHED_OK);
    assert_int_equal(nevents, 5);
    assert_int_equal(s->nsubs, 0);
    assert_true(TAILQ_EMPTY(&s->subs));
    assert_int_equal(s->version, 4);

    /* A self that never subscribed changes nothing for the others. */
    schedule_subscribe(s, &a.sub);
    assert_int_equal(schedule_reserve(s, 5, 4, &b.sub), SCHED_OK);
    assert_false(b.sub.active);
    assert_int_equal(s->nsubs, 1);
    assert_int_equal(nevents, 6);
    assert_event(s, 5, 'A', SCHED_RESERVED, 5, 4, 3, 5);
}

/* An unsubscribed watcher hears nothing; unsubscribing twice is harmless. */
static void
test_notify_unsubscribed(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b, c;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    watcher_init(&c, s, 'C');
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    schedule_subscribe(s, &c.sub);
    schedule_unsubscribe(s, &b.sub);
    assert_false(b.sub.active);
    assert_int_equal(s->nsubs, 2);
    schedule_unsubscribe(s, &b.sub);
    assert_int_equal(s->nsubs, 2);

    assert_int_equal(schedule_reserve(s, 5, 1, NULL), SCHED_OK);
    assert_int_equal(nevents, 2);
    assert_event(s, 0, 'A', SCHED_RESERVED, 5, 1, 5, 1);
    assert_event(s, 1, 'C', SCHED_RESERVED, 5, 1, 5, 1);

    schedule_unsubscribe(s, &a.sub);
    schedule_unsubscribe(s, &c.sub);
    assert_int_equal(s->nsubs, 0);
    assert_true(TAILQ_EMPTY(&s->subs));
    assert_int_equal(schedule_release(s, 5), SCHED_OK);
    assert_int_equal(nevents, 2);
    assert_int_equal(s->version, 2);

    /* Never subscribed: unsubscribe does nothing. */
    schedule_unsubscribe(s, &a.sub);
    assert_int_equal(s->nsubs, 0);

    /* Subscribing again puts it at the end of the list. */
    schedule_subscribe(s, &b.sub);
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &c.sub);
    schedule_unsubscribe(s, &b.sub);
    schedule_subscribe(s, &b.sub);
    assert_int_equal(schedule_reserve(s, 6, 2, NULL), SCHED_OK);
    assert_int_equal(nevents, 5);
    assert_event(s, 2, 'A', SCHED_RESERVED, 6, 2, 5, 3);
    assert_event(s, 3, 'C', SCHED_RESERVED, 6, 2, 5, 3);
    assert_event(s, 4, 'B', SCHED_RESERVED, 6, 2, 5, 3);
}

/* Subscribing twice counts once and tells once, without moving the watcher. */
static void
test_subscribe_twice(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &a.sub);
    assert_int_equal(s->nsubs, 2);
    assert_ptr_equal(TAILQ_FIRST(&s->subs), &a.sub);
    assert_ptr_equal(TAILQ_LAST(&s->subs, sched_subs), &b.sub);

    assert_int_equal(schedule_reserve(s, 1, 1, NULL), SCHED_OK);
    assert_int_equal(nevents, 2);
    assert_event(s, 0, 'A', SCHED_RESERVED, 1, 1, 5, 1);
    assert_event(s, 1, 'B', SCHED_RESERVED, 1, 1, 5, 1);

    /* One unsubscribe undoes any number of subscribes. */
    schedule_unsubscribe(s, &a.sub);
    assert_int_equal(s->nsubs, 1);
    assert_int_equal(schedule_release(s, 1), SCHED_OK);
    assert_int_equal(nevents, 3);
    assert_event(s, 2, 'B', SCHED_RELEASED, 1, SCHEDULE_FREE, 6, 2);
}

/* A callback that unsubscribes itself does not break the walk over the others. */
static void
test_notify_unsubscribe_in_callback(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b, c;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    watcher_init(&c, s, 'C');
    b.unsub_when_told = 1;
    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    schedule_subscribe(s, &c.sub);

    assert_int_equal(schedule_reserve(s, 3, 7, NULL), SCHED_OK);
    assert_int_equal(nevents, 3);
    assert_event(s, 0, 'A', SCHED_RESERVED, 3, 7, 5, 1);
    assert_event(s, 1, 'B', SCHED_RESERVED, 3, 7, 5, 1);
    assert_event(s, 2, 'C', SCHED_RESERVED, 3, 7, 5, 1);
    assert_false(b.sub.active);
    assert_int_equal(s->nsubs, 2);

    assert_int_equal(schedule_release(s, 3), SCHED_OK);
    assert_int_equal(nevents, 5);
    assert_event(s, 3, 'A', SCHED_RELEASED, 3, SCHEDULE_FREE, 6, 2);
    assert_event(s, 4, 'C', SCHED_RELEASED, 3, SCHEDULE_FREE, 6, 2);

    /* First and last unsubscribing themselves in the same walk. */
    a.unsub_when_told = 1;
    c.unsub_when_told = 1;
    assert_int_equal(schedule_reserve(s, 4, 8, NULL), SCHED_OK);
    assert_int_equal(nevents, 7);
    assert_event(s, 5, 'A', SCHED_RESERVED, 4, 8, 5, 3);
    assert_event(s, 6, 'C', SCHED_RESERVED, 4, 8, 5, 3);
    assert_int_equal(s->nsubs, 0);
    assert_true(TAILQ_EMPTY(&s->subs));
}

/* A callback that unsubscribes and frees its own watcher; valgrind checks the walk. */
static void
test_notify_free_in_callback(void **state)
{
    struct schedule *s = *state;
    struct watcher *w[4];
    int i;

    for (i = 0; i < 4; i++) {
        assert_non_null(w[i] = malloc(sizeof *w[i]));
        watcher_init(w[i], s, '0' + i);
        w[i]->free_when_told = i % 2 == 0; /* 0 and 2 go away */
        schedule_subscribe(s, &w[i]->sub);
    }
    assert_int_equal(schedule_reserve(s, 6, 1, NULL), SCHED_OK);
    assert_int_equal(nevents, 4);
    for (i = 0; i < 4; i++)
        assert_event(s, (size_t)i, '0' + i, SCHED_RESERVED, 6, 1, 5, 1);
    assert_int_equal(s->nsubs, 2);

    assert_int_equal(schedule_release(s, 6), SCHED_OK);
    assert_int_equal(nevents, 6);
    assert_event(s, 4, '1', SCHED_RELEASED, 6, SCHEDULE_FREE, 6, 2);
    assert_event(s, 5, '3', SCHED_RELEASED, 6, SCHEDULE_FREE, 6, 2);
    schedule_unsubscribe(s, &w[1]->sub);
    schedule_unsubscribe(s, &w[3]->sub);
    free(w[1]);
    free(w[3]);
    assert_int_equal(s->nsubs, 0);
}

/* A failed reserve or release tells nobody and leaves self subscribed. */
static void
test_notify_failed(void **state)
{
    struct schedule *s = *state;
    struct watcher a, b;

    watcher_init(&a, s, 'A');
    watcher_init(&b, s, 'B');
    schedule_subscribe(s, &a.sub);
    assert_int_equal(schedule_reserve(s, 2, 1, &a.sub), SCHED_OK);
    assert_int_equal(nevents, 0); /* the only watcher was self */
    assert_int_equal(s->version, 1);

    schedule_subscribe(s, &a.sub);
    schedule_subscribe(s, &b.sub);
    assert_int_equal(schedule_reserve(s, 2, 3, &b.sub), SCHED_TAKEN);
    assert_int_equal(schedule_reserve(s, 9, 3, &b.sub), SCHED_UNKNOWN);
    assert_int_equal(schedule_reserve(s, 0, 3, &a.sub), SCHED_UNKNOWN);
    assert_int_equal(schedule_release(s, 1), SCHED_TAKEN);
    assert_int_equal(schedule_release(s, 9), SCHED_UNKNOWN);
    assert_int_equal(nevents, 0);
    assert_true(a.sub.active);
    assert_true(b.sub.active);
    assert_int_equal(s->nsubs, 2);
    assert_int_equal(s->version, 1);
    assert_int_equal(s->nfree, 5);
    assert_int_equal(schedule_find(s, 2)->holder, 1);

    /* b still hears the next real change. */
    assert_int_equal(schedule_reserve(s, 3, 3, &a.sub), SCHED_OK);
    assert_int_equal(nevents, 1);
    assert_event(s, 0, 'B', SCHED_RESERVED, 3, 3, 4, 2);
}

/* 100000 sparse slots load, each is found, and misses are NULL. */
static void
test_many_slots(void **state)
{
    const size_t n = 100000;
    size_t i, off = 0, size = n * 48;
    char *text = malloc(size), err[256] = "";
    struct schedule s;

    (void)state;
    assert_non_null(text);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, size - off, "%zu d%zu t%zu doc%zu %zu\n", i * 7 + 3,
                                i % 7, i % 24, i % 10, 40000 + i % 10);
    assert_int_equal(schedule_load_mem(&s, "avail.txt", text, off, err, sizeof err), 0);
    assert_int_equal(s.n, n);
    assert_int_equal(s.nfree, n);
    assert_int_equal(s.ndoctors, 10);
    for (i = 0; i < n; i++) {
        struct slot *slot = schedule_find(&s, (uint32_t)(i * 7 + 3));
        assert_ptr_equal(slot, &s.slots[i]);
        assert_int_equal(slot->line, i + 1);
        assert_int_equal(schedule_doctor(&s, slot)->port, 40000 + i % 10);
        assert_null(schedule_find(&s, (uint32_t)(i * 7 + 4)));
    }
    assert_int_equal(schedule_reserve(&s, 3 + 7 * 99999, 1, NULL), SCHED_OK);
    assert_int_equal(s.nfree, n - 1);
    schedule_free(&s);
    free(text);
}

/* Loading from a real file; a bad row names the path; a missing file. */
static void
test_load_file(void **state)
{
    char dir[] = "/tmp/test_schedule_XXXXXX", path[128], err[256] = "", want[256];
    struct schedule s;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/availabilities.txt", dir);
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(fwrite(sample, 1, sizeof sample - 1, fp), sizeof sample - 1);
    assert_int_equal(fclose(fp), 0);

    assert_int_equal(schedule_load(&s, path, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(s.n, 6);
    assert_int_equal(s.nfree, 6);
    assert_slot(&s, schedule_find(&s, 5), 5, "Sat", "12pm", "doc2", 42000, 5);
    schedule_free(&s);

    assert_non_null(fp = fopen(path, "w"));
    assert_true(fputs("1 Tue 01pm doc1 41000\r\n1 Mon 03pm doc2 42000", fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(schedule_load(&s, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: duplicate index 1 (first on line 1)", path);
    assert_string_equal(err, want);
    assert_int_equal(s.n, 0);
    schedule_free(&s);

    /* An empty file on disk is an empty schedule. */
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(schedule_load(&s, path, err, sizeof err), 0);
    assert_int_equal(s.n, 0);
    schedule_free(&s);
    assert_int_equal(unlink(path), 0);

    memset(&s, 0x5a, sizeof s);
    assert_int_equal(schedule_load(&s, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(s.n, 0);
    assert_null(s.slots);
    assert_true(TAILQ_EMPTY(&s.subs));
    schedule_free(&s);
    assert_int_equal(rmdir(dir), 0);
}

/* Run every test. */
/* The free slots in list order, as "index day time;" text. */
static const char *
free_list(const struct schedule *s)
{
    static char buf[512];
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < s->n; i++)
        if (s->slots[i].holder == SCHEDULE_FREE && !s->slots[i].retired)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%u %s %s;", s->slots[i].index,
                                    s->slots[i].day, s->slots[i].time);
    return buf;
}

/* What a kept() callback of schedule_apply was told, as "index:why;" text. */
static char kept_log[256];

/* Record a kept booking. */
static void
kept_cb(void *arg, const struct slot *slot, const char *why)
{
    size_t len = strlen(kept_log);

    (void)arg;
    snprintf(kept_log + len, sizeof kept_log - len, "%u:%s;", slot->index, why);
}

/*
 * schedule_apply: a new row is added, a free slot that left is removed, a
 * changed free slot is removed then added; watchers hear it in that order;
 * an unchanged booking keeps its holder.
 */
static void
test_apply_free_slots(void **state)
{
    struct schedule *s = *state, next;
    struct sched_diff d;
    struct watcher w;

    watcher_init(&w, s, 1);
    schedule_subscribe(s, &w.sub);
    assert_int_equal(schedule_reserve(s, 4, 7, NULL), SCHED_OK);
    nevents = 0;
    load_ok(&next, "1 Tue 01pm doc1 41000\n"
                   "3 Thu 03pm doc1 41000\n" /* changed: time */
                   "4 Wed 10am doc1 41000\n"
                   "6 Fri 04pm doc9 42000\n"   /* changed: doctor */
                   "9 Sun 09am doc3 43000\n"); /* new; 2 and 5 left */
    kept_log[0] = '\0';
    assert_int_equal(schedule_apply(s, &next, &d, kept_cb, NULL), 0);
    schedule_free(&next);
    assert_int_equal(d.added, 1);
    assert_int_equal(d.removed, 2);
    assert_int_equal(d.changed, 2);
    assert_int_equal(d.removed_booked + d.changed_booked, 0);
    assert_string_equal(kept_log, "");
    assert_int_equal(nevents, 7);
    assert_int_equal(events[0].change, SCHED_REMOVED);
    assert_int_equal(events[0].index, 2);
    assert_int_equal(events[1].index, 3);
    assert_int_equal(events[2].index, 5);
    assert_int_equal(events[3].index, 6);
    assert_int_equal(events[4].change, SCHED_ADDED);
    assert_int_equal(events[4].index, 3);
    assert_int_equal(events[5].index, 6);
    assert_int_equal(events[6].change, SCHED_ADDED);
    assert_int_equal(events[6].index, 9);
    assert_ptr_equal(events[5].slot, schedule_find(s, 6));
    assert_string_equal(schedule_doctor(s, schedule_find(s, 6))->name, "doc9");
    assert_string_equal(free_list(s), "1 Tue 01pm;3 Thu 03pm;6 Fri 04pm;9 Sun 09am;");
    assert_int_equal(s->nfree, 4);
    assert_int_equal(schedule_find(s, 4)->holder, 7);
    assert_null(schedule_find(s, 2));
    assert_true(w.sub.active); /* the watcher stays subscribed */
    assert_int_equal(schedule_reserve(s, 9, 8, NULL), SCHED_OK);
    assert_int_equal(events[nevents - 1].change, SCHED_RESERVED);
    schedule_unsubscribe(s, &w.sub);
}

/*
 * schedule_apply: a booked slot that left the file or changed there stays
 * as told (retired: never listed, never given to another) until it is
 * given back; then it is gone, or the new row takes its place (told as added).
 */
static void
test_apply_keeps_bookings(void **state)
{
    struct schedule *s = *state, next;
    struct sched_diff d;
    struct watcher w;
    const struct slot *slot;

    assert_int_equal(schedule_reserve(s, 2, 1, NULL), SCHED_OK);
    assert_int_equal(schedule_reserve(s, 3, 2, NULL), SCHED_OK);
    watcher_init(&w, s, 1);
    schedule_subscribe(s, &w.sub);
    load_ok(&next, "1 Tue 01pm doc1 41000\n"
                   "3 Sat 08am doc1 41000\n"); /* 2 left, 3 changed, 4 5 6 left */
    kept_log[0] = '\0';
    assert_int_equal(schedule_apply(s, &next, &d, kept_cb, NULL), 0);
    assert_int_equal(d.removed_booked, 1);
    assert_int_equal(d.changed_booked, 1);
    assert_int_equal(d.removed, 3);
    assert_string_equal(kept_log, "2:no longer in the file;3:changed in the file;");
    slot = schedule_find(s, 3);
    assert_non_null(slot);
    assert_string_equal(slot->time, "02pm"); /* as told */
    assert_int_equal(slot->holder, 2);
    assert_true(slot->retired);
    assert_string_equal(free_list(s), "1 Tue 01pm;");
    assert_int_equal(schedule_reserve(s, 3, 5, NULL), SCHED_TAKEN);
    /* A second reload with the same file keeps them as they are. */
    assert_int_equal(schedule_apply(s, &next, &d, NULL, NULL), 0);
    assert_int_equal(d.removed + d.added + d.changed, 0);
    assert_int_equal(schedule_find(s, 2)->holder, 1);
    schedule_free(&next);
    nevents = 0;
    /* Given back: 2 is gone (nobody is told), 3 becomes its new row. */
    assert_int_equal(schedule_release(s, 2), SCHED_OK);
    assert_int_equal(nevents, 0);
    assert_null(schedule_find(s, 2));
    assert_int_equal(schedule_reserve(s, 2, 5, NULL), SCHED_UNKNOWN);
    assert_int_equal(schedule_release(s, 3), SCHED_OK);
    assert_int_equal(nevents, 1);
    assert_int_equal(events[0].change, SCHED_ADDED);
    assert_int_equal(events[0].index, 3);
    slot = schedule_find(s, 3);
    assert_string_equal(slot->time, "08am");
    assert_false(slot->retired);
    assert_string_equal(free_list(s), "1 Tue 01pm;3 Sat 08am;");
    assert_int_equal(s->nfree, 2);
    /* A booked row that comes back as it was told is no longer retired. */
    assert_int_equal(schedule_reserve(s, 1, 4, NULL), SCHED_OK);
    load_ok(&next, "3 Sat 08am doc1 41000\n");
    assert_int_equal(schedule_apply(s, &next, &d, NULL, NULL), 0);
    assert_true(schedule_find(s, 1)->retired);
    schedule_free(&next);
    load_ok(&next, "1 Tue 01pm doc1 41000\n3 Sat 08am doc1 41000\n");
    assert_int_equal(schedule_apply(s, &next, &d, NULL, NULL), 0);
    assert_false(schedule_find(s, 1)->retired);
    assert_int_equal(schedule_find(s, 1)->holder, 4);
    schedule_free(&next);
    schedule_unsubscribe(s, &w.sub);
}

/* schedule_keep: a stored booking the file lacks, or describes otherwise, is kept as told. */
static void
test_keep(void **state)
{
    struct schedule *s = *state;
    const struct slot *slot;

    assert_int_equal(schedule_keep(s, 77, "Sun", "07pm", "docX", 47000, 3), 0);
    slot = schedule_find(s, 77);
    assert_non_null(slot);
    assert_true(slot->retired);
    assert_int_equal(slot->holder, 3);
    assert_string_equal(schedule_doctor(s, slot)->name, "docX");
    assert_int_equal(schedule_doctor(s, slot)->port, 47000);
    assert_int_equal(s->nfree, 6);
    /* Slot 2 of the file is Mon 03pm; the patient was told Mon 05pm. */
    assert_int_equal(schedule_keep(s, 2, "Mon", "05pm", "doc2", 42000, 4), 0);
    assert_int_equal(s->nfree, 5);
    assert_string_equal(schedule_find(s, 2)->time, "05pm");
    assert_int_equal(schedule_reserve(s, 2, 9, NULL), SCHED_TAKEN);
    assert_string_equal(free_list(s), "1 Tue 01pm;3 Thu 02pm;4 Wed 10am;5 Sat 12pm;6 Fri 04pm;");
    assert_int_equal(schedule_release(s, 2), SCHED_OK);
    assert_string_equal(schedule_find(s, 2)->time, "03pm");
    assert_int_equal(s->nfree, 6);
    assert_int_equal(schedule_release(s, 77), SCHED_OK);
    assert_null(schedule_find(s, 77));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_free_slots, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_apply_keeps_bookings, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_keep, setup_sample, teardown_sample),
        cmocka_unit_test(test_load_sample),
        cmocka_unit_test(test_load_layouts),
        cmocka_unit_test(test_load_sparse),
        cmocka_unit_test(test_load_bad_index),
        cmocka_unit_test(test_load_bad_port),
        cmocka_unit_test(test_load_duplicate),
        cmocka_unit_test(test_load_lengths),
        cmocka_unit_test(test_load_field_count),
        cmocka_unit_test(test_load_control),
        cmocka_unit_test(test_load_empty),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_doctor),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_release),
        cmocka_unit_test_setup_teardown(test_notify_order, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_notify_self, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_notify_unsubscribed, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_subscribe_twice, setup_sample, teardown_sample),
        cmocka_unit_test_setup_teardown(test_notify_unsubscribe_in_callback, setup_sample,
                                        teardown_sample),
        cmocka_unit_test_setup_teardown(test_notify_free_in_callback, setup_sample,
                                        teardown_sample),
        cmocka_unit_test_setup_teardown(test_notify_failed, setup_sample, teardown_sample),
        cmocka_unit_test(test_many_slots),
        cmocka_unit_test(test_load_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
