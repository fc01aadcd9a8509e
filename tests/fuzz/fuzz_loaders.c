/*
 * fuzz_loaders.c: the data-file loaders (users.txt, availabilities.txt and a
 * doctor's price file) on the same input. A file that loads must give back
 * every row it holds; one that does not must say "name:line: message" and
 * leave the table empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authpool.h"
#include "prices.h"
#include "schedule.h"
#include "users.h"
#include "util.h"

/* Rows the loaders must find: lines with something besides blanks, an ending "\r" removed. */
static size_t
fuzz_rows(const uint8_t *data, size_t size, size_t *lines)
{
    size_t rows = 0, i = 0, start, len, j;

    *lines = 0;
    while (i < size) {
        start = i;
        while (i < size && data[i] != '\n')
            i++;
        len = i - start;
        if (i < size)
            i++; /* the "\n" */
        (*lines)++;
        if (len > 0 && data[start + len - 1] == '\r')
            len--;
        for (j = 0; j < len; j++)
            if (data[start + j] != ' ' && data[start + j] != '\t')
                break;
        if (j < len)
            rows++;
    }
    return rows;
}

/* A failed load explains itself as "name:line: message" without raw control bytes. */
static void
fuzz_check_error(const char *err, size_t errlen, const char *name, size_t lines)
{
    size_t nl = strlen(name), i;
    uint64_t line = 0;
    const char *p;

    if (memchr(err, '\0', errlen) == NULL || strncmp(err, name, nl) != 0 || err[nl] != ':')
        abort();
    for (p = err + nl + 1; *p >= '0' && *p <= '9'; p++)
        line = line * 10 + (uint64_t)(*p - '0');
    if (p == err + nl + 1 || p[0] != ':' || p[1] != ' ' || p[2] == '\0')
        abort();
    if (line < 1 || line > lines + 1)
        abort();
    for (i = 0; err[i] != '\0'; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] == 0x7f)
            abort();
}

/* Whether a stored string is NUL-terminated at len and is one visible token. */
static int
fuzz_token(const char *s, size_t len, size_t max)
{
    return len >= 1 && len <= max && strlen(s) == len && util_token_ok(s, len);
}

/*
 * users.txt: every user can be found; a user with a clear password can log
 * in with it only; a hashed row is a hash, and sending the hash itself as
 * the password never logs in (hash checks are the authpool's).
 */
static void
fuzz_users(const uint8_t *data, size_t size, size_t rows, size_t lines)
{
    struct users u;
    struct user *out;
    char err[512], wrong[AUTHPOOL_HASH_MAX + 2];
    size_t i;

    memset(err, 0, sizeof err);
    if (users_load_mem(&u, "users", data, size, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err, "users", lines);
        if (u.n != 0 || u.v != NULL || u.chunks != NULL)
            abort();
        users_free(&u);
        return;
    }
    if (u.n != rows || u.n == 0)
        abort();
    for (i = 0; i < u.n; i++) {
        const struct user *user = &u.v[i];
        if (!fuzz_token(user->name, user->namelen, USERS_MAXNAME) ||
            !fuzz_token(user->password, user->passlen,
                        user->hashed ? AUTHPOOL_HASH_MAX : USERS_MAXNAME) ||
            user->booked != 0 || user->line < 1 || user->line > lines ||
            user->hashed != authpool_is_hash(user->password))
            abort();
        if (users_find(&u, user->name, user->namelen) != user)
            abort();
        if (user->hashed) {
            if (users_check(&u, user->name, user->namelen, user->password, user->passlen, &out) ||
                out != NULL)
                abort();
            continue;
        }
        if (!users_check(&u, user->name, user->namelen, user->password, user->passlen, &out) ||
            out != user)
            abort();
        memcpy(wrong, user->password, user->passlen);
        wrong[user->passlen - 1] ^= 1;
        if (users_check(&u, user->name, user->namelen, wrong, user->passlen, &out) || out != NULL)
            abort();
        wrong[user->passlen - 1] ^= 1;
        wrong[user->passlen] = 'x';
        if (users_check(&u, user->name, user->namelen, wrong, user->passlen + 1, &out) ||
            users_check(&u, user->name, user->namelen, wrong, user->passlen - 1, &out))
            abort();
        /* A control byte never belongs to a name, so this one is unknown. */
        memcpy(wrong, user->name, user->namelen);
        wrong[user->namelen] = '\x01';
        if (users_find(&u, wrong, user->namelen + 1) != NULL)
            abort();
    }
    users_free(&u);
}

/* availabilities.txt: every slot is found by its index, free, and can be booked once. */
static void
fuzz_schedule(const uint8_t *data, size_t size, size_t rows, size_t lines)
{
    struct schedule s;
    char err[512];
    size_t i, j;

    memset(err, 0, sizeof err);
    if (schedule_load_mem(&s, "slots", data, size, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err, "slots", lines);
        if (s.n != 0 || s.slots != NULL || s.doctors != NULL)
            abort();
        schedule_free(&s);
        return;
    }
    if (s.n != rows || s.nfree != s.n || (s.n > 0) != (s.ndoctors > 0) || s.ndoctors > s.n)
        abort();
    for (i = 0; i < s.ndoctors; i++) {
        const struct sched_doctor *d = &s.doctors[i];
        if (!fuzz_token(d->name, strlen(d->name), PROTO_NAMELEN - 1) || d->port < 1 ||
            d->port > 65535)
            abort();
        for (j = 0; j < i; j++)
            if (s.doctors[j].port == d->port && strcmp(s.doctors[j].name, d->name) == 0)
                abort();
    }
    for (i = 0; i < s.n; i++) {
        struct slot *slot = &s.slots[i];
        if (slot->index == 0 || slot->holder != SCHEDULE_FREE || slot->doctor >= s.ndoctors ||
            slot->line < 1 || slot->line > lines ||
            !fuzz_token(slot->day, strlen(slot->day), PROTO_DAYLEN - 1) ||
            !fuzz_token(slot->time, strlen(slot->time), PROTO_DAYLEN - 1))
            abort();
        if (schedule_find(&s, slot->index) != slot ||
            schedule_doctor(&s, slot) != &s.doctors[slot->doctor])
            abort();
        if (schedule_reserve(&s, slot->index, 7, NULL) != SCHED_OK ||
            schedule_reserve(&s, slot->index, 8, NULL) != SCHED_TAKEN || slot->holder != 7 ||
            s.nfree != s.n - 1)
            abort();
        if (schedule_release(&s, slot->index) != SCHED_OK ||
            schedule_release(&s, slot->index) != SCHED_TAKEN || s.nfree != s.n)
            abort();
    }
    if (schedule_find(&s, 0) != NULL || schedule_reserve(&s, 0, 1, NULL) != SCHED_UNKNOWN)
        abort();
    schedule_free(&s);
}

/* A price file: every plan has its cost, and the doctor answers it with that cost. */
static void
fuzz_prices(const uint8_t *data, size_t size, size_t rows, size_t lines)
{
    struct prices p;
    struct prices_answer a;
    char err[512], buf[32];
    size_t i;

    memset(err, 0, sizeof err);
    if (prices_load_mem(&p, "prices", data, size, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err, "prices", lines);
        if (p.count != 0 || p.items != NULL)
            abort();
        prices_free(&p);
        return;
    }
    if (p.count != rows || p.count == 0 || p.count > p.cap)
        abort();
    for (i = 0; i < p.count; i++) {
        const struct prices_item *it = &p.items[i];
        if (!fuzz_token(it->name, it->len, PRICES_NAMEMAX) || it->cost > PRICES_COSTMAX ||
            it->line < 1 || it->line > lines)
            abort();
        if (prices_find(&p, it->name, it->len) != (int64_t)it->cost)
            abort();
        prices_answer(&p, it->name, it->len, 0, &a);
        snprintf(buf, sizeof buf, "%u", (unsigned)it->cost);
        if (a.status != PRICES_PRICE || a.cost != (int64_t)it->cost || strcmp(a.reply, buf) != 0)
            abort();
    }
    prices_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One run: the input as each of the three kinds of data file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t lines, rows = fuzz_rows(data, size, &lines);

    fuzz_users(data, size, rows, lines);
    fuzz_schedule(data, size, rows, lines);
    fuzz_prices(data, size, rows, lines);
    return 0;
}
