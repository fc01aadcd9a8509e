/* client.c: the patient's session with the center and the doctor, driven by lines (no sockets). */
#include "client.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_SHOWLEN 96 /* escaped untrusted text in a message, NUL included */
#define CLIENT_PROMPT_TEXT "Please enter the preferred appointment index and press enter: "

/* Append len bytes to b; the old copy is wiped when b moves. Returns 0 or -1. */
static int
client_buf_add(struct client *c, struct client_buf *b, const char *s, size_t len)
{
    char *data;
    size_t cap;

    if (c->nomem)
        return -1;
    if (b->len + len + 1 > b->cap) {
        cap = b->cap == 0 ? 256 : b->cap;
        while (cap < b->len + len + 1)
            cap *= 2;
        if ((data = malloc(cap)) == NULL) {
            c->nomem = 1;
            return -1;
        }
        if (b->data != NULL) {
            memcpy(data, b->data, b->len);
            util_wipe(b->data, b->cap);
            free(b->data);
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* Format text into b. Returns 0 or -1. */
static int
client_buf_vprintf(struct client *c, struct client_buf *b, const char *fmt, va_list ap)
{
    char small[512], *big;
    va_list copy;
    int n, rc;

    va_copy(copy, ap);
    n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return client_buf_add(c, b, small, (size_t)n);
    if ((big = malloc((size_t)n + 1)) == NULL) {
        c->nomem = 1;
        return -1;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    rc = client_buf_add(c, b, big, (size_t)n);
    free(big);
    return rc;
}

/* Print on the screen; remembers whether the text ended the line. */
static void __attribute__((format(printf, 2, 3)))
client_print(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (client_buf_vprintf(c, &c->screen, fmt, ap) == 0 && c->screen.len > 0)
        c->midline = c->screen.data[c->screen.len - 1] != '\n';
    va_end(ap);
}

/* Queue a line for the center. */
static void __attribute__((format(printf, 2, 3)))
client_send(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    client_buf_vprintf(c, &c->wire, fmt, ap);
    va_end(ap);
}

/* End the current screen line if the prompt left it open. */
static void
client_fresh_line(struct client *c)
{
    if (c->midline)
        client_print(c, "\n");
}

/* The one place where the state changes. */
static void
client_set_state(struct client *c, enum client_state state)
{
    c->state = state;
}

/* Finish the session with an exit status. */
static void
client_finish(struct client *c, int status)
{
    c->status = status;
    client_set_state(c, CLIENT_DONE);
}

/* Which phase of the assignment the session is in, for messages. */
static int
client_phase(const struct client *c)
{
    switch (c->state) {
    case CLIENT_START:
    case CLIENT_AUTH:
        return 1;
    case CLIENT_DOCTOR:
        return 3;
    default:
        return 2;
    }
}

/* End the session with status and a diagnostic for stderr. */
void
client_fail(struct client *c, int status, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->state == CLIENT_DONE)
        return;
    n = snprintf(c->diag, sizeof c->diag, "phase %d: ", client_phase(c));
    va_start(ap, fmt);
    vsnprintf(c->diag + n, sizeof c->diag - (size_t)n, fmt, ap);
    va_end(ap);
    client_fresh_line(c);
    client_finish(c, status);
}

/* Start a session. */
int
client_init(struct client *c, const struct client_params *p)
{
    memset(c, 0, sizeof *c);
    c->p = *p;
    client_set_state(c, CLIENT_START);
    return 0;
}

/* Free what the session holds. */
void
client_free(struct client *c)
{
    if (c->wire.data != NULL)
        util_wipe(c->wire.data, c->wire.cap);
    free(c->wire.data);
    free(c->screen.data);
    free(c->slots);
    free(c->sorted);
    memset(c, 0, sizeof *c);
}

/* Position of index in the sorted array, or where it would go; *found tells which. */
static size_t
client_bsearch(const struct client *c, uint32_t index, int *found)
{
    size_t lo = 0, hi = c->nslots;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->sorted[mid] < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < c->nslots && c->sorted[lo] == index;
    return lo;
}

/* Whether index is in the current list. */
int
client_has_slot(const struct client *c, uint32_t index)
{
    int found;

    client_bsearch(c, index, &found);
    return found;
}

/* Make room for one more slot. Returns 0, or -1 after failing the session. */
static int
client_grow(struct client *c)
{
    struct client_slot *slots;
    uint32_t *sorted;
    size_t cap;

    if (c->nslots < c->cap)
        return 0;
    if (c->nslots >= CLIENT_MAXSLOTS) {
        client_fail(c, 5, "the list of slots grew beyond %d", CLIENT_MAXSLOTS);
        return -1;
    }
    cap = c->cap == 0 ? 16 : c->cap * 2;
    if (cap > CLIENT_MAXSLOTS)
        cap = CLIENT_MAXSLOTS;
    if ((slots = realloc(c->slots, cap * sizeof *slots)) != NULL)
        c->slots = slots;
    if ((sorted = realloc(c->sorted, cap * sizeof *sorted)) != NULL)
        c->sorted = sorted;
    if (slots == NULL || sorted == NULL) {
        c->nomem = 1;
        client_fail(c, 1, "out of memory");
        return -1;
    }
    c->cap = cap;
    return 0;
}

/* Compare two indices for qsort. */
static int
client_cmp_index(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Remove index from both arrays. Returns 1 if it was there. */
static int
client_remove(struct client *c, uint32_t index)
{
    size_t pos, i;
    int found;

    pos = client_bsearch(c, index, &found);
    if (!found)
        return 0;
    memmove(&c->sorted[pos], &c->sorted[pos + 1], (c->nslots - pos - 1) * sizeof *c->sorted);
    for (i = 0; i < c->nslots && c->slots[i].index != index; i++)
        continue;
    memmove(&c->slots[i], &c->slots[i + 1], (c->nslots - i - 1) * sizeof *c->slots);
    c->nslots--;
    return 1;
}

/*
 * Add a released slot: before the first shown slot with a higher index.
 * Returns 1 if added, 0 if already there, -1 after failing the session.
 */
static int
client_insert(struct client *c, const struct proto_reply *r)
{
    size_t pos, i;
    int found;

    pos = client_bsearch(c, r->index, &found);
    if (found)
        return 0;
    if (client_grow(c) == -1)
        return -1;
    memmove(&c->sorted[pos + 1], &c->sorted[pos], (c->nslots - pos) * sizeof *c->sorted);
    c->sorted[pos] = r->index;
    for (i = 0; i < c->nslots && c->slots[i].index < r->index; i++)
        continue;
    memmove(&c->slots[i + 1], &c->slots[i], (c->nslots - i) * sizeof *c->slots);
    c->slots[i].index = r->index;
    memcpy(c->slots[i].day, r->day, sizeof r->day);
    memcpy(c->slots[i].time, r->time, sizeof r->time);
    c->nslots++;
    return 1;
}

/* Print the list header, the list and the prompt, and wait for the person. */
static void
client_show_list(struct client *c)
{
    size_t i;

    client_print(c, "Phase 2: The following appointments are available for Patient %u:\n", c->p.id);
    for (i = 0; i < c->nslots; i++)
        client_print(c, "%" PRIu32 " %s %s\n", c->slots[i].index, c->slots[i].day,
                     c->slots[i].time);
}

/* Say that no slot is left, and end with status 3. */
static void
client_none_left(struct client *c)
{
    client_print(c, "Phase 2: No appointments are available for Patient %u. Exiting...\n", c->p.id);
    client_finish(c, 3);
}

/* Ask for the index: the prompt stays open on its line. */
static void
client_prompt(struct client *c)
{
    client_print(c, "%s", CLIENT_PROMPT_TEXT);
    client_set_state(c, CLIENT_PROMPT);
}

/* Show the list again and prompt, or end if it is empty. */
static void
client_reprompt(struct client *c)
{
    if (c->nslots == 0) {
        client_none_left(c);
        return;
    }
    client_show_list(c);
    client_prompt(c);
}

/* Send the selection of index. */
static void
client_select(struct client *c, uint32_t index)
{
    c->selected = index;
    client_send(c, "selection %" PRIu32 "\n", index);
    client_set_state(c, CLIENT_SELECT);
}

/* The whole list has arrived: check it, show it, then ask or use --slot. */
static void
client_list_done(struct client *c)
{
    size_t i;

    if (c->nslots > 1) /* with none, sorted may be NULL, which qsort must not get */
        qsort(c->sorted, c->nslots, sizeof *c->sorted, client_cmp_index);
    for (i = 1; i < c->nslots; i++)
        if (c->sorted[i] == c->sorted[i - 1]) {
            client_fail(c, 5, "the center listed slot %" PRIu32 " twice", c->sorted[i]);
            return;
        }
    if (c->nslots == 0) {
        client_none_left(c);
        return;
    }
    client_show_list(c);
    if (c->p.slot == 0) {
        client_prompt(c);
        return;
    }
    client_print(c, "%s%" PRIu32 "\n", CLIENT_PROMPT_TEXT, c->p.slot);
    if (!client_has_slot(c, c->p.slot)) {
        client_print(c,
                     "Phase 2: Appointment %" PRIu32 " is not in the list of available "
                     "appointments for Patient %u. Exiting...\n",
                     c->p.slot, c->p.id);
        client_finish(c, 3);
        return;
    }
    client_select(c, c->p.slot);
}

/* A schedule change pushed by the center. */
static void
client_push(struct client *c, const struct proto_reply *r)
{
    int changed;

    if (c->state == CLIENT_LIST)
        return; /* sent before the list, which already holds the change */
    if (c->state != CLIENT_PROMPT && c->state != CLIENT_SELECT) {
        client_fail(c, 5, "the center pushed a schedule change at the wrong time");
        return;
    }
    if (r->kind == PROTO_PUSH_RESERVED)
        changed = client_remove(c, r->index);
    else if ((changed = client_insert(c, r)) == -1)
        return;
    if (!changed || c->state != CLIENT_PROMPT)
        return; /* while a selection is out, the list is shown again if it is refused */
    client_fresh_line(c);
    if (r->kind == PROTO_PUSH_RESERVED)
        client_print(c, "Phase 2: Appointment %" PRIu32 " was just taken by another patient.\n",
                     r->index);
    else
        client_print(c, "Phase 2: Appointment %" PRIu32 " %s %s has just become available.\n",
                     r->index, r->day, r->time);
    client_reprompt(c);
}

/* An "error <reason>" line from the center. */
static void
client_error(struct client *c, const struct proto_reply *r)
{
    char esc[CLIENT_SHOWLEN];
    uint64_t v;

    if (strcmp(r->reason, "busy") == 0) {
        client_fail(c, 5, "the center is busy (too many patients at once); try again later");
    } else if (strcmp(r->reason, "idle-timeout") == 0) {
        client_fail(c, 5,
                    "the center ended the session: no input for too long "
                    "(error idle-timeout)");
    } else if (strcmp(r->reason, "auth-timeout") == 0) {
        client_fail(c, 5,
                    "the center ended the session: authentication took too long "
                    "(error auth-timeout)");
    } else if (c->state == CLIENT_SELECT && strncmp(r->reason, "already-booked ", 15) == 0 &&
               util_parse_uint_str(r->reason + 15, 1, PROTO_MAXINDEX, &v) == 0) {
        client_print(c,
                     "Phase 2: Patient %u already holds appointment %" PRIu64
                     "; cancel it first with: patient --id %u --cancel\n",
                     c->p.id, v, c->p.id);
        client_finish(c, 3);
    } else if (c->state == CLIENT_QUERY && c->p.mode == CLIENT_CANCEL &&
               strcmp(r->reason, "no-appointment") == 0) {
        client_print(c, "Patient %u has no appointment to cancel.\n", c->p.id);
        client_finish(c, 3);
    } else {
        client_fail(c, 5, "the center answered: error %s",
                    util_escape(esc, sizeof esc, r->reason, strlen(r->reason)));
    }
}

/* success or failure in CLIENT_AUTH. Returns 0, or -1 for another reply. */
static int
client_on_auth(struct client *c, const struct proto_reply *r)
{
    if (r->kind != PROTO_SUCCESS && r->kind != PROTO_FAILURE)
        return -1;
    client_print(c, "Phase 1: Patient %u authentication result: %s.\n", c->p.id,
                 r->kind == PROTO_SUCCESS ? "success" : "failure");
    if (r->kind == PROTO_FAILURE) {
        client_finish(c, 2);
        return 0;
    }
    client_print(c, "Phase 1: End of Phase 1 for Patient %u.\n", c->p.id);
    switch (c->p.mode) {
    case CLIENT_SHOW:
        client_send(c, "appointment\n");
        client_set_state(c, CLIENT_QUERY);
        break;
    case CLIENT_CANCEL:
        client_send(c, "cancel\n");
        client_set_state(c, CLIENT_QUERY);
        break;
    case CLIENT_BOOK:
        client_send(c, "available\n");
        client_set_state(c, CLIENT_LIST);
        break;
    }
    return 0;
}

/* The answer to appointment or cancel in CLIENT_QUERY. Returns 0 or -1. */
static int
client_on_query(struct client *c, const struct proto_reply *r)
{
    if (c->p.mode == CLIENT_SHOW && r->kind == PROTO_APPOINTMENT)
        client_print(c, "Patient %u has appointment %" PRIu32 " %s %s with %s (port %u).\n",
                     c->p.id, r->index, r->day, r->time, r->doctor, r->port);
    else if (c->p.mode == CLIENT_SHOW && r->kind == PROTO_APPOINTMENT_NONE)
        client_print(c, "Patient %u has no appointment.\n", c->p.id);
    else if (c->p.mode == CLIENT_CANCEL && r->kind == PROTO_CANCELLED)
        client_print(c, "Patient %u cancelled appointment %" PRIu32 ".\n", c->p.id, r->index);
    else
        return -1;
    client_finish(c, 0);
    return 0;
}

/* "slots <n>" in CLIENT_LIST, or one slot line in CLIENT_ROWS. Returns 0 or -1. */
static int
client_on_list(struct client *c, const struct proto_reply *r)
{
    if (c->state == CLIENT_LIST) {
        if (r->kind != PROTO_SLOTS)
            return -1;
        if (r->count > CLIENT_MAXSLOTS) {
            client_fail(c, 5, "the center announced %" PRIu32 " slots (at most %d)", r->count,
                        CLIENT_MAXSLOTS);
            return 0;
        }
        c->rows = r->count;
        client_set_state(c, CLIENT_ROWS);
    } else {
        if (r->kind != PROTO_SLOT)
            return -1;
        if (client_grow(c) == -1)
            return 0;
        c->slots[c->nslots].index = r->index;
        memcpy(c->slots[c->nslots].day, r->day, sizeof r->day);
        memcpy(c->slots[c->nslots].time, r->time, sizeof r->time);
        c->sorted[c->nslots] = r->index;
        c->nslots++;
        c->rows--;
    }
    if (c->rows == 0)
        client_list_done(c);
    return 0;
}

/* The answer to selection in CLIENT_SELECT. Returns 0 or -1. */
static int
client_on_select(struct client *c, const struct proto_reply *r)
{
    if (r->kind == PROTO_BOOKED) {
        memcpy(c->doctor, r->doctor, sizeof c->doctor);
        c->port = r->port;
        client_print(c,
                     "Phase 2: The requested appointment is available and reserved to Patient "
                     "%u. The assigned doctor port number is %u.\n",
                     c->p.id, c->port);
        client_set_state(c, CLIENT_DOCTOR);
        return 0;
    }
    if (r->kind != PROTO_NOTAVAILABLE)
        return -1;
    if (c->p.slot != 0) {
        client_print(c,
                     "Phase 2: The requested appointment from Patient %u is not available. "
                     "Exiting...\n",
                     c->p.id);
        client_finish(c, 3);
        return 0;
    }
    client_print(c, "Phase 2: The requested appointment from Patient %u is not available.\n",
                 c->p.id);
    client_remove(c, c->selected);
    client_reprompt(c);
    return 0;
}

/* Print, queue authenticate, and wait for the answer. */
void
client_connected(struct client *c, const char *host, unsigned port)
{
    if (c->state != CLIENT_START)
        return;
    client_print(c, "Phase 1: Patient %u has TCP port number %u and IP address %s.\n", c->p.id,
                 port, host);
    client_send(c, "authenticate %s %s\n", c->p.user, c->p.password);
    client_print(c,
                 "Phase 1: Authentication request from Patient %u with username %s and "
                 "password ******** has been sent to the Health Center Server.\n",
                 c->p.id, c->p.user);
    client_set_state(c, CLIENT_AUTH);
}

/* Handle one line from the center in the current state. */
void
client_center_line(struct client *c, const char *line, size_t len)
{
    struct proto_reply r;
    char esc[CLIENT_SHOWLEN];
    int rc = -1;

    if (c->state == CLIENT_DONE || c->state == CLIENT_DOCTOR)
        return;
    if (proto_parse_reply(line, len, &r) == -1) {
        client_fail(c, 5, "the center sent an unreadable line: '%s'",
                    util_escape(esc, sizeof esc, line, len));
        return;
    }
    if (r.kind == PROTO_ERROR) {
        client_error(c, &r);
        return;
    }
    if (r.kind == PROTO_PUSH_RESERVED || r.kind == PROTO_PUSH_RELEASED) {
        client_push(c, &r);
        return;
    }
    switch (c->state) {
    case CLIENT_AUTH:
        rc = client_on_auth(c, &r);
        break;
    case CLIENT_QUERY:
        rc = client_on_query(c, &r);
        break;
    case CLIENT_LIST:
    case CLIENT_ROWS:
        rc = client_on_list(c, &r);
        break;
    case CLIENT_SELECT:
        rc = client_on_select(c, &r);
        break;
    default:
        break;
    }
    if (rc == -1)
        client_fail(c, 5, "unexpected line from the center: '%s'",
                    util_escape(esc, sizeof esc, line, len));
    else if (c->nomem)
        client_fail(c, 1, "out of memory");
}

/* An over-long line or a NUL byte from the center. */
void
client_center_garbage(struct client *c, const char *what)
{
    if (c->state != CLIENT_DONE && c->state != CLIENT_DOCTOR)
        client_fail(c, 5, "the center sent %s", what);
}

/* The center's connection ended. */
void
client_center_closed(struct client *c, const char *why)
{
    if (c->state == CLIENT_DONE || c->state == CLIENT_DOCTOR)
        return;
    if (why == NULL)
        client_fail(c, 5, "the center closed the connection");
    else
        client_fail(c, 5, "the connection to the center failed: %s", why);
}

/* The center did not answer in time. */
void
client_center_timeout(struct client *c, unsigned ms)
{
    if (client_waits_center(c))
        client_fail(c, 5, "the center did not answer within %u ms", ms);
}

/* Whether a reply from the center is awaited. */
int
client_waits_center(const struct client *c)
{
    switch (c->state) {
    case CLIENT_AUTH:
    case CLIENT_QUERY:
    case CLIENT_LIST:
    case CLIENT_ROWS:
    case CLIENT_SELECT:
        return 1;
    default:
        return 0;
    }
}

/* A line typed at the prompt: a shown index is selected, anything else re-prompts. */
void
client_input_line(struct client *c, const char *line, size_t len)
{
    char esc[CLIENT_SHOWLEN];
    uint64_t v;

    if (c->state != CLIENT_PROMPT)
        return;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    util_escape(esc, sizeof esc, line, len);
    if (c->p.echo)
        client_print(c, "%s\n", esc);
    c->midline = 0; /* a terminal echoed the person's newline */
    if (len == 0) {
        client_prompt(c);
    } else if (util_parse_uint(line, len, 1, PROTO_MAXINDEX, &v) == 0 &&
               client_has_slot(c, (uint32_t)v)) {
        client_select(c, (uint32_t)v);
    } else {
        client_print(c, "Phase 2: %s is not one of the available appointment indices.\n", esc);
        client_prompt(c);
    }
    if (c->nomem)
        client_fail(c, 1, "out of memory");
}

/* The input ended at the prompt. */
void
client_input_eof(struct client *c)
{
    if (c->state != CLIENT_PROMPT)
        return;
    client_fresh_line(c);
    client_print(c, "Phase 2: No appointment index was entered for Patient %u. Exiting...\n",
                 c->p.id);
    client_finish(c, 3);
}

/* Whether the person is being asked. */
int
client_waits_input(const struct client *c)
{
    return c->state == CLIENT_PROMPT;
}

/* Print the patient's UDP address. */
void
client_doctor_ready(struct client *c, const char *host, unsigned port)
{
    if (c->state != CLIENT_DOCTOR)
        return;
    client_print(c, "Phase 3: Patient %u has a dynamic UDP port number %u and IP address %s.\n",
                 c->p.id, port, host);
}

/* Count one request sent; the first one is shown. */
void
client_doctor_sent(struct client *c, const char *host)
{
    if (c->state != CLIENT_DOCTOR)
        return;
    if (c->tries++ == 0)
        client_print(c,
                     "Phase 3: The cost estimation request from Patient %u with insurance plan "
                     "%s has been sent to the doctor with port number %u and IP address %s.\n",
                     c->p.id, c->p.plan, c->port, host);
}

/* No reply in time: try again or give up. */
int
client_doctor_timeout(struct client *c)
{
    if (c->state != CLIENT_DOCTOR)
        return 0;
    if (c->tries <= c->p.retries)
        return 1;
    client_print(c,
                 "Phase 3: The doctor at port %u did not answer Patient %u after %u tries. "
                 "Exiting...\n",
                 c->port, c->p.id, c->tries);
    client_finish(c, 4);
    return 0;
}

/* The doctor's answer: a cost, or an error. */
void
client_doctor_reply(struct client *c, const char *data, size_t len, int truncated)
{
    static const char unknown[] = "error unknown-insurance";
    char esc[CLIENT_SHOWLEN];
    uint64_t cost;

    if (c->state != CLIENT_DOCTOR)
        return;
    if (len > 0 && data[len - 1] == '\n')
        len--;
    if (len > 0 && data[len - 1] == '\r')
        len--;
    util_escape(esc, sizeof esc, data, len);
    if (!truncated && util_parse_uint(data, len, 0, UINT32_MAX, &cost) == 0) {
        client_print(c,
                     "Phase 3: Patient %u receives %" PRIu64 "$ estimation cost from doctor "
                     "with port number %u and name %s.\n",
                     c->p.id, cost, c->port, c->doctor);
        client_print(c, "Phase 3: End of Phase 3 for Patient %u.\n", c->p.id);
        client_finish(c, 0);
    } else if (!truncated && len == sizeof unknown - 1 && memcmp(data, unknown, len) == 0) {
        client_print(c,
                     "Phase 3: Doctor %s does not know insurance plan %s; no estimate for "
                     "Patient %u. Exiting...\n",
                     c->doctor, c->p.plan, c->p.id);
        client_finish(c, 4);
    } else if (!truncated && len > 6 && memcmp(data, "error ", 6) == 0) {
        client_print(c,
                     "Phase 3: Doctor %s answered '%s' to Patient %u; no estimate. "
                     "Exiting...\n",
                     c->doctor, esc, c->p.id);
        client_finish(c, 4);
    } else {
        client_print(c,
                     "Phase 3: Doctor %s sent an unreadable answer '%s%s' to Patient %u. "
                     "Exiting...\n",
                     c->doctor, esc, truncated ? "..." : "", c->p.id);
        client_finish(c, 4);
    }
}
