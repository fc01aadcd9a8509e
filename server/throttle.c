/* throttle.c: what each source (an IPv4 address, or an IPv6 prefix) and each user may do. */
#include "throttle.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define THROTTLE_USER_BUCKETS 16384

/* Rotate a 64-bit word left by b bits. */
#define THROTTLE_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipHash round. */
#define THROTTLE_SIPROUND(v0, v1, v2, v3)                                                          \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = THROTTLE_ROTL(v1, 13);                                                                \
        v1 ^= v0;                                                                                  \
        v0 = THROTTLE_ROTL(v0, 32);                                                                \
        v2 += v3;                                                                                  \
        v3 = THROTTLE_ROTL(v3, 16);                                                                \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = THROTTLE_ROTL(v3, 21);                                                                \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = THROTTLE_ROTL(v1, 17);                                                                \
        v1 ^= v2;                                                                                  \
        v2 = THROTTLE_ROTL(v2, 32);                                                                \
    } while (0)

/* Eight bytes as a little-endian word. */
static uint64_t
throttle_le64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* SipHash-2-4 (Aumasson and Bernstein), as in the reference implementation. */
uint64_t
throttle_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *p = data, *end = p + (len & ~(size_t)7);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    uint64_t m, b = (uint64_t)len << 56;
    size_t i;

    for (; p < end; p += 8) {
        m = throttle_le64(p);
        v3 ^= m;
        THROTTLE_SIPROUND(v0, v1, v2, v3);
        THROTTLE_SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[i] << (8 * i);
    v3 ^= b;
    THROTTLE_SIPROUND(v0, v1, v2, v3);
    THROTTLE_SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (i = 0; i < 4; i++)
        THROTTLE_SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* Fill buf with random bytes: getrandom(2), else /dev/urandom. */
static int
throttle_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    ssize_t n;
    int fd;

    while (got < len) {
        n = getrandom(p + got, len - got, 0);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == len)
        return 0;
    if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
        return -1;
    while (got < len && (n = read(fd, p + got, len - got)) > 0)
        got += (size_t)n;
    close(fd);
    return got == len ? 0 : -1;
}

/* Set the tables up with a random key (see throttle.h). */
int
throttle_init(struct throttle *t, const struct throttle_limits *lim, size_t max_conns)
{
    uint64_t key[2];
    size_t cap = 64;

    memset(t, 0, sizeof *t);
    TAILQ_INIT(&t->idle);
    TAILQ_INIT(&t->users);
    t->lim = *lim;
    t->backed.last = t->refused.last = t->failing.last = -1;
    if (throttle_random(key, sizeof key) == -1)
        return -1;
    t->k0 = key[0];
    t->k1 = key[1];
    t->maxsrc = max_conns + THROTTLE_HISTORY;
    while (cap < t->maxsrc)
        cap *= 2;
    t->src = calloc(cap, sizeof *t->src);
    t->user = calloc(THROTTLE_USER_BUCKETS, sizeof *t->user);
    if (t->src == NULL || t->user == NULL) {
        throttle_free(t);
        return -1;
    }
    t->srcmask = cap - 1;
    t->usermask = THROTTLE_USER_BUCKETS - 1;
    return 0;
}

/* Free every entry and the tables. */
void
throttle_free(struct throttle *t)
{
    struct throttle_src *s, *snext;
    struct throttle_user *u, *unext;
    size_t i;

    for (i = 0; t->src != NULL && i <= t->srcmask; i++)
        for (s = t->src[i]; s != NULL; s = snext) {
            snext = s->next;
            free(s);
        }
    for (i = 0; t->user != NULL && i <= t->usermask; i++)
        for (u = t->user[i]; u != NULL; u = unext) {
            unext = u->next;
            free(u);
        }
    free(t->src);
    free(t->user);
    memset(t, 0, sizeof *t);
}

/* The source an address belongs to: IPv4 (also mapped into IPv6), or an IPv6 prefix. */
static void
throttle_key(const struct throttle *t, const struct sockaddr *sa, uint8_t key[THROTTLE_KEYLEN])
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const uint8_t *a = in6->sin6_addr.s6_addr;
    unsigned bits = t->lim.ipv6_prefix, i;

    memset(key, 0, THROTTLE_KEYLEN);
    if (sa->sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        key[0] = 4;
        memcpy(key + 1, a + 12, 4);
    } else if (sa->sa_family == AF_INET6) {
        key[0] = 6;
        for (i = 0; i < 16 && bits > 0; i++, bits = bits > 8 ? bits - 8 : 0)
            key[1 + i] = bits >= 8 ? a[i] : (uint8_t)(a[i] & (0xff00u >> bits));
    }
}

/* The window of s starts again when it is over. */
static void
throttle_roll(struct throttle_src *s, int64_t now)
{
    if (now - s->start >= THROTTLE_WINDOW) {
        s->attempts = s->fails = s->lost = 0;
        s->start = now;
    }
}

/* Unlink s from its hash chain and free it. */
static void
throttle_src_drop(struct throttle *t, struct throttle_src *s)
{
    struct throttle_src **pp =
        &t->src[throttle_siphash(t->k0, t->k1, s->key, THROTTLE_KEYLEN) & t->srcmask];

    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    if (s->idle)
        TAILQ_REMOVE(&t->idle, s, entry);
    t->nsrc--;
    free(s);
}

/*
 * Nothing holds s any more: forget it at once if it has nothing to
 * remember, else keep it on the idle list (evicted oldest first).
 */
static void
throttle_release(struct throttle *t, struct throttle_src *s, int64_t now)
{
    if (s->conns > 0 || s->checks > 0 || s->waiting > 0 || s->idle)
        return;
    throttle_roll(s, now);
    if (s->fails == 0 && s->lost == 0) {
        throttle_src_drop(t, s);
        return;
    }
    s->idle = 1;
    TAILQ_INSERT_TAIL(&t->idle, s, entry);
}

/* Find the source of key, or make it (evicting an idle one when full); NULL if impossible. */
static struct throttle_src *
throttle_src_get(struct throttle *t, const uint8_t key[THROTTLE_KEYLEN], int64_t now)
{
    size_t b = throttle_siphash(t->k0, t->k1, key, THROTTLE_KEYLEN) & t->srcmask;
    struct throttle_src *s, *old;

    for (s = t->src[b]; s != NULL; s = s->next)
        if (memcmp(s->key, key, THROTTLE_KEYLEN) == 0)
            return s;
    /* Idle sources whose window is over have nothing left to say. */
    while ((old = TAILQ_FIRST(&t->idle)) != NULL && now - old->start >= THROTTLE_WINDOW)
        throttle_src_drop(t, old);
    if (t->nsrc >= t->maxsrc) {
        if ((old = TAILQ_FIRST(&t->idle)) == NULL)
            return NULL;
        throttle_src_drop(t, old);
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        return NULL;
    memcpy(s->key, key, THROTTLE_KEYLEN);
    s->start = now;
    s->next = t->src[b];
    t->src[b] = s;
    t->nsrc++;
    return s;
}

/* Count a new connection of its source (see throttle.h). */
struct throttle_src *
throttle_connect(struct throttle *t, const struct sockaddr *sa, int64_t now)
{
    uint8_t key[THROTTLE_KEYLEN];
    struct throttle_src *s;

    if (t->src == NULL)
        return NULL;
    throttle_key(t, sa, key);
    if ((s = throttle_src_get(t, key, now)) == NULL)
        return NULL;
    if (t->lim.max_conns > 0 && s->conns >= t->lim.max_conns)
        return NULL;
    if (s->idle) {
        TAILQ_REMOVE(&t->idle, s, entry);
        s->idle = 0;
    }
    s->conns++;
    s->unauth++;
    return s;
}

/* Count one down, never below zero. */
static void
throttle_dec(uint32_t *n)
{
    if (*n > 0)
        (*n)--;
}

/* A connection of s authenticated. */
void
throttle_authenticated(struct throttle *t, struct throttle_src *s)
{
    (void)t;
    throttle_dec(&s->unauth);
}

/* A connection of s closed. */
void
throttle_disconnect(struct throttle *t, struct throttle_src *s, int authenticated, int64_t now)
{
    if (!authenticated)
        throttle_dec(&s->unauth);
    throttle_dec(&s->conns);
    throttle_release(t, s, now);
}

/* A login begins (see throttle.h). */
enum throttle_login
throttle_login(struct throttle *t, struct throttle_src *s, int check, int64_t now)
{
    throttle_roll(s, now);
    if (t->lim.max_failures > 0 && s->fails + s->lost >= t->lim.max_failures)
        return THROTTLE_REFUSE;
    if (s->attempts < UINT32_MAX)
        s->attempts++;
    if (!check)
        return THROTTLE_CHECK;
    if (t->lim.max_checks > 0 && s->checks >= t->lim.max_checks) {
        s->waiting++;
        return THROTTLE_WAIT;
    }
    s->checks++;
    return THROTTLE_CHECK;
}

/* A check of s ended. */
void
throttle_check_end(struct throttle *t, struct throttle_src *s)
{
    (void)t;
    throttle_dec(&s->checks);
}

/* Let a waiting login of s have a check if its share allows. */
int
throttle_check_take(struct throttle *t, struct throttle_src *s)
{
    if (s->waiting == 0 || (t->lim.max_checks > 0 && s->checks >= t->lim.max_checks))
        return 0;
    s->waiting--;
    s->checks++;
    return 1;
}

/* A waiting login of s went away. */
void
throttle_unwait(struct throttle *t, struct throttle_src *s)
{
    (void)t;
    throttle_dec(&s->waiting);
}

/* Count how a login ended. */
void
throttle_login_done(struct throttle *t, struct throttle_src *s, enum throttle_result r, int64_t now)
{
    (void)t;
    throttle_roll(s, now);
    if (r == THROTTLE_FAILED && s->fails < UINT32_MAX)
        s->fails++;
    else if (r == THROTTLE_LOST && s->lost < UINT32_MAX)
        s->lost++;
}

/* How long an answer to s waits. */
unsigned
throttle_delay(const struct throttle *t, const struct throttle_src *s, int64_t now)
{
    (void)t;
    if (s == NULL || now - s->start >= THROTTLE_WINDOW || s->fails < THROTTLE_LIMIT)
        return 0;
    return THROTTLE_DELAY;
}

/* The entry of a user's name, or NULL. */
static struct throttle_user *
throttle_user_find(const struct throttle *t, const char *name, size_t len, size_t *bucket)
{
    struct throttle_user *u;

    if (len > THROTTLE_NAMEMAX)
        len = THROTTLE_NAMEMAX;
    *bucket = throttle_siphash(t->k0, t->k1, name, len) & t->usermask;
    for (u = t->user[*bucket]; u != NULL; u = u->next)
        if (u->namelen == len && memcmp(u->name, name, len) == 0)
            return u;
    return NULL;
}

/* Unlink a user's entry and free it. */
static void
throttle_user_drop(struct throttle *t, struct throttle_user *u)
{
    size_t b;
    struct throttle_user **pp;

    (void)throttle_user_find(t, u->name, u->namelen, &b);
    for (pp = &t->user[b]; *pp != u; pp = &(*pp)->next)
        continue;
    *pp = u->next;
    TAILQ_REMOVE(&t->users, u, entry);
    t->nuser--;
    free(u);
}

/* Count a failed login of a user. */
void
throttle_user_failure(struct throttle *t, const char *name, size_t len, int64_t now)
{
    struct throttle_user *u, *old;
    size_t b;

    if (t->user == NULL)
        return;
    if (len > THROTTLE_NAMEMAX)
        len = THROTTLE_NAMEMAX;
    /* The list is in order of windows: drop those that are over. */
    while ((old = TAILQ_FIRST(&t->users)) != NULL && now - old->start >= THROTTLE_WINDOW)
        throttle_user_drop(t, old);
    if ((u = throttle_user_find(t, name, len, &b)) != NULL && now - u->start >= THROTTLE_WINDOW) {
        u->fails = 0;
        u->start = now;
        TAILQ_REMOVE(&t->users, u, entry);
        TAILQ_INSERT_TAIL(&t->users, u, entry);
    }
    if (u == NULL) {
        if (t->nuser >= THROTTLE_USERS)
            throttle_user_drop(t, TAILQ_FIRST(&t->users));
        if ((u = calloc(1, sizeof *u)) == NULL)
            return;
        memcpy(u->name, name, len);
        u->namelen = len;
        u->start = now;
        u->next = t->user[b];
        t->user[b] = u;
        TAILQ_INSERT_TAIL(&t->users, u, entry);
        t->nuser++;
    }
    if (u->fails < UINT32_MAX)
        u->fails++;
}

/* How long an answer to a login of name waits. */
unsigned
throttle_user_delay(const struct throttle *t, const char *name, size_t len, int64_t now)
{
    const struct throttle_user *u;
    size_t b;

    if (t->user == NULL || t->lim.max_user_failures == 0 ||
        (u = throttle_user_find(t, name, len, &b)) == NULL || now - u->start >= THROTTLE_WINDOW ||
        u->fails < t->lim.max_user_failures)
        return 0;
    return THROTTLE_DELAY;
}

/* One more event of a rate-limited message (see throttle.h). */
uint64_t
throttle_ratelog(struct throttle_ratelog *r, int64_t now)
{
    uint64_t n;

    r->count++;
    if (r->last != -1 && now - r->last < 1)
        return 0;
    n = r->count;
    r->count = 0;
    r->last = now;
    return n;
}
