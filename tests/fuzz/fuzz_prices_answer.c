/*
 * fuzz_prices_answer.c: a doctor's answer to one UDP datagram, with a fixed
 * price table, against an independent reading of the rules in prices.h.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prices.h"

static const char fuzz_table[] =
    "insurance1 30\n"
    "insurance2 20\r\n"
    "insurance3 50\n"
    "plan-\xc3\xa9t\xc3\xa9 7\n"
    "free 0\n"
    "max 1000000\n"
    "a 1\n"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+ 63";

/* The same table, as the oracle sees it. */
static const struct {
    const char *name;
    int64_t cost;
} fuzz_plans[] = {
    {"insurance1", 30}, {"insurance2", 20},
    {"insurance3", 50}, {"plan-\xc3\xa9t\xc3\xa9", 7},
    {"free", 0},        {"max", 1000000},
    {"a", 1},           {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+", 63},
};

static struct prices fuzz_prices;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Load the table once. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    if (prices_load_mem(&fuzz_prices, "table", fuzz_table, sizeof fuzz_table - 1, err,
                        sizeof err) == -1) {
        fprintf(stderr, "fuzz_prices_answer: %s\n", err);
        abort();
    }
    return 0;
}

/* What the answer must be, from the rules alone: a status and the cost. */
static enum prices_status
fuzz_expect(const uint8_t *req, size_t len, int truncated, int64_t *cost)
{
    size_t i;

    *cost = -1;
    if (truncated)
        return PRICES_TOO_LONG;
    if (len > 0 && req[len - 1] == '\n') {
        len--;
        if (len > 0 && req[len - 1] == '\r')
            len--;
    }
    while (len > 0 && req[len - 1] == ' ') /* the patient's padding */
        len--;
    if (len == 0)
        return PRICES_EMPTY;
    if (len > PRICES_NAMEMAX)
        return PRICES_BAD_REQUEST;
    for (i = 0; i < len; i++)
        if (req[i] <= 0x20 || req[i] == 0x7f)
            return PRICES_BAD_REQUEST;
    for (i = 0; i < sizeof fuzz_plans / sizeof fuzz_plans[0]; i++) {
        if (strlen(fuzz_plans[i].name) == len && memcmp(fuzz_plans[i].name, req, len) == 0) {
            *cost = fuzz_plans[i].cost;
            return PRICES_PRICE;
        }
    }
    return PRICES_UNKNOWN;
}

/* Check one answer against the oracle and the documented reply forms. */
static void
fuzz_check(const uint8_t *data, size_t size, int truncated)
{
    static const char *const replies[] = {
        [PRICES_EMPTY] = "error empty",
        [PRICES_TOO_LONG] = "error too-long",
        [PRICES_BAD_REQUEST] = "error bad-request",
        [PRICES_UNKNOWN] = "error unknown-insurance",
    };
    struct prices_answer a;
    enum prices_status want;
    int64_t cost;
    char buf[PRICES_REPLYLEN];
    size_t i, plen, bare;

    memset(&a, 0xa5, sizeof a); /* every field must be filled */
    prices_answer(&fuzz_prices, (const char *)data, size, truncated, &a);
    want = fuzz_expect(data, size, truncated, &cost);
    if (a.status != want || a.cost != cost)
        abort();
    if (memchr(a.reply, '\0', sizeof a.reply) == NULL || a.len != strlen(a.reply))
        abort();
    if (want == PRICES_PRICE) {
        snprintf(buf, sizeof buf, "%" PRId64, cost);
        if (strcmp(a.reply, buf) != 0)
            abort();
    } else if (strcmp(a.reply, replies[want]) != 0) {
        abort();
    }
    /* The plan shown on screen is escaped and bounded. */
    if (memchr(a.plan, '\0', sizeof a.plan) == NULL)
        abort();
    plen = strlen(a.plan);
    for (i = 0; i < plen; i++)
        if ((unsigned char)a.plan[i] < 0x20 || (unsigned char)a.plan[i] == 0x7f)
            abort();
    if (want == PRICES_PRICE &&
        (plen > PRICES_NAMEMAX || memcmp(a.plan, data, plen) != 0 ||
         (plen != size && data[plen] != '\n' && data[plen] != '\r' && data[plen] != ' ')))
        abort();
    /* Without its line ending and padding, a request over PRICES_NAMEMAX is shown cut. */
    bare = size;
    if (bare > 0 && data[bare - 1] == '\n' && --bare > 0 && data[bare - 1] == '\r')
        bare--;
    while (bare > 0 && data[bare - 1] == ' ')
        bare--;
    if ((truncated || bare > PRICES_NAMEMAX) && (plen < 3 || strcmp(a.plan + plen - 3, "...") != 0))
        abort();
}

/* One run: the input as a whole datagram, then as one cut by the buffer. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check(data, size, 0);
    fuzz_check(data, size, 1);
    return 0;
}
