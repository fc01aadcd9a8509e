/* client.c: the patient's session with the center and the doctor, driven by lines (no sockets). */
#include "client.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_SHOWLEN 96 /* escaped untrusted text in a message, NUL included */

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

/* The word for n things: one when n is 1, else many ("1 try", "3 tries"). */
static const char *
client_plural(unsigned long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The one place where the state changes. */
static void
client_set_state(struct client *c, enum client_state state)
{
    c->state = state;
}

/* Finish the session with an exit status. */
static void
client_finish(struct client *c, enum patient_exit status)
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
client_fail(struct client *c, enum patient_exit status, const char *fmt, ...)
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
    slotlist_init(&c->list);
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
    slotlist_free(&c->list);
    memset(c, 0, sizeof *c);
}

/* End the session because the list could not take one more slot (rc from slotlist.h). */
static void
client_list_failed(struct client *c, enum slotlist_result rc)
{
    if (rc == SLOTLIST_FULL) {
        client_fail(c, PATIENT_EXIT_CENTER, "the list of slots grew beyond %d", SLOTLIST_MAX);
        return;
    }
    c->nomem = 1;
    client_fail(c, PATIENT_EXIT_CONFIG, "out of memory");
}

/* Print the list header, the list and the prompt, and wait for the person. */
static void
client_show_list(struct client *c)
{
    char row[SLOTLIST_ROWLEN];
    size_t i;

    client_print(c, "Phase 2: The following appointments are available for Patient %u:\n", c->p.id);
    for (i = 0; i < c->list.nslots; i++) {
        slotlist_row(&c->list, i, row);
        client_print(c, "%s", row);
    }
}

/* Say that no slot is left, and end: no appointment made. */
static void
client_none_left(struct client *c)
{
    client_print(c, "Phase 2: No appointments are available for Patient %u. Exiting...\n", c->p.id);
    client_finish(c, PATIENT_EXIT_NOBOOKING);
}

/* Ask for the index: the prompt stays open on its line (the shell's editor draws its own). */
static void
client_prompt(struct client *c)
{
    if (!c->p.editor)
        client_print(c, "%s", CLIENT_PROMPT_TEXT);
    client_set_state(c, CLIENT_PROMPT);
}

/* Show the list again (always, or only when it is short) and prompt, or end if it is empty. */
static void
client_reprompt(struct client *c, int always)
{
    if (c->list.nslots == 0) {
        client_none_left(c);
        return;
    }
    if (always || c->list.nslots <= CLIENT_SHORTLIST)
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
    uint32_t dup;

    if (slotlist_finish(&c->list, &dup) == -1) {
        client_fail(c, PATIENT_EXIT_CENTER, "the center listed slot %" PRIu32 " twice", dup);
        return;
    }
    if (c->list.nslots == 0) {
        client_none_left(c);
        return;
    }
    client_show_list(c);
    if (c->p.slot == 0) {
        client_prompt(c);
        return;
    }
    client_print(c, "%s%" PRIu32 "\n", CLIENT_PROMPT_TEXT, c->p.slot);
    if (!slotlist_has(&c->list, c->p.slot)) {
        client_print(c,
                     "Phase 2: Appointment %" PRIu32 " is not in the list of available "
                     "appointments for Patient %u. Exiting...\n",
                     c->p.slot, c->p.id);
        client_finish(c, PATIENT_EXIT_NOBOOKING);
        return;
    }
    client_select(c, c->p.slot);
}

/* A schedule change pushed by the center. */
static void
client_push(struct client *c, const struct proto_reply *r)
{
    enum slotlist_result rc;

    if (c->state == CLIENT_LIST)
        return; /* sent before the list, which already holds the change */
    if (c->state != CLIENT_PROMPT && c->state != CLIENT_SELECT) {
        client_fail(c, PATIENT_EXIT_CENTER,
                    "the center pushed a schedule change at the wrong time");
        return;
    }
    if ((rc = slotlist_apply(&c->list, r)) < 0) {
        client_list_failed(c, rc);
        return;
    }
    if (rc == SLOTLIST_SAME || c->state != CLIENT_PROMPT)
        return; /* while a selection is out, the list is shown again if it is refused */
    client_fresh_line(c);
    switch (r->kind) {
    case PROTO_PUSH_RESERVED:
        client_print(c, "Phase 2: Appointment %" PRIu32 " was just taken by another patient.\n",
                     r->index);
        break;
    case PROTO_PUSH_RELEASED:
        client_print(c, "Phase 2: Appointment %" PRIu32 " %s %s has just become available.\n",
                     r->index, r->day, r->time);
        break;
    case PROTO_PUSH_ADDED:
        client_print(c,
                     "Phase 2: Appointment %" PRIu32 " %s %s has just been added to the "
                     "schedule.\n",
                     r->index, r->day, r->time);
        break;
    case PROTO_PUSH_REMOVED:
        client_print(c,
                     "Phase 2: Appointment %" PRIu32 " has just been removed from the schedule.\n",
                     r->index);
        break;
    default:
        break;
    }
    client_reprompt(c, 0);
}

/* The index after the reason in "already-booked <index>", or 0 if there is none. */
static uint32_t
client_booked_index(const char *reason)
{
    size_t n = strlen(proto_errors[PROTO_ERR_ALREADY_BOOKED].reason);
    uint64_t v;

    if (reason[n] != ' ' || util_parse_uint_str(reason + n + 1, 1, PROTO_MAXINDEX, &v) == -1)
        return 0;
    return (uint32_t)v;
}

/* An "error <reason>" line from the center, told apart by the error table of proto.h. */
static void
client_error(struct client *c, const struct proto_reply *r)
{
    int e = proto_error_find(r->reason, strlen(r->reason));
    int bare = e >= 0 && strcmp(r->reason, proto_errors[e].reason) == 0; /* nothing after it */
    char esc[CLIENT_SHOWLEN];
    uint32_t held;

    if (bare && e == PROTO_ERR_BUSY) {
        client_fail(c, PATIENT_EXIT_CENTER,
                    "the center is busy (too many patients at once); try again later");
    } else if (bare && e == PROTO_ERR_IDLE_TIMEOUT) {
        client_fail(c, PATIENT_EXIT_CENTER,
                    "the center ended the session: no input for too long (error %s)",
                    proto_errors[e].reason);
    } else if (bare && e == PROTO_ERR_AUTH_TIMEOUT) {
        client_fail(c, PATIENT_EXIT_CENTER,
                    "the center ended the session: authentication took too long (error %s)",
                    proto_errors[e].reason);
    } else if (e == PROTO_ERR_ALREADY_BOOKED && c->state == CLIENT_SELECT &&
               (held = client_booked_index(r->reason)) != 0) {
        client_print(c,
                     "Phase 2: Patient %u already holds appointment %" PRIu32
                     "; cancel it first with: patient --id %u --cancel\n",
                     c->p.id, held, c->p.id);
        client_finish(c, PATIENT_EXIT_NOBOOKING);
    } else if (bare && e == PROTO_ERR_NO_APPOINTMENT && c->state == CLIENT_QUERY &&
               c->p.mode == CLIENT_CANCEL) {
        client_print(c, "Patient %u has no appointment to cancel.\n", c->p.id);
        client_finish(c, PATIENT_EXIT_NOBOOKING);
    } else {
        client_fail(c, PATIENT_EXIT_CENTER, "the center answered: error %s",
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
        client_finish(c, PATIENT_EXIT_AUTH);
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
        /* Ask what the user holds first: one who holds a booking is told before the list. */
        client_send(c, "appointment\n");
        client_set_state(c, CLIENT_QUERY);
        break;
    }
    return 0;
}

/* Booking: the answer to appointment says whether the user already holds one. Returns 0 or -1. */
static int
client_on_held(struct client *c, const struct proto_reply *r)
{
    if (r->kind == PROTO_APPOINTMENT_NONE) {
        client_send(c, "available\n");
        client_set_state(c, CLIENT_LIST);
        return 0;
    }
    if (r->kind != PROTO_APPOINTMENT)
        return -1;
    client_print(c,
                 "Phase 2: Patient %u already holds appointment %" PRIu32 " %s %s with %s "
                 "(port %u); cancel it first with: patient --id %u --cancel\n",
                 c->p.id, r->index, r->day, r->time, r->doctor, r->port, c->p.id);
    client_finish(c, PATIENT_EXIT_NOBOOKING);
    return 0;
}

/* The answer to appointment or cancel in CLIENT_QUERY. Returns 0 or -1. */
static int
client_on_query(struct client *c, const struct proto_reply *r)
{
    if (c->p.mode == CLIENT_BOOK)
        return client_on_held(c, r);
    if (c->p.mode == CLIENT_SHOW && r->kind == PROTO_APPOINTMENT)
        client_print(c, "Patient %u has appointment %" PRIu32 " %s %s with %s (port %u).\n",
                     c->p.id, r->index, r->day, r->time, r->doctor, r->port);
    else if (c->p.mode == CLIENT_SHOW && r->kind == PROTO_APPOINTMENT_NONE)
        client_print(c, "Patient %u has no appointment.\n", c->p.id);
    else if (c->p.mode == CLIENT_CANCEL && r->kind == PROTO_CANCELLED)
        client_print(c, "Patient %u cancelled appointment %" PRIu32 ".\n", c->p.id, r->index);
    else
        return -1;
    client_finish(c, PATIENT_EXIT_OK);
    return 0;
}

/* "slots <n>" in CLIENT_LIST, or one slot line in CLIENT_ROWS. Returns 0 or -1. */
static int
client_on_list(struct client *c, const struct proto_reply *r)
{
    if (c->state == CLIENT_LIST) {
        if (r->kind != PROTO_SLOTS)
            return -1;
        if (r->count > SLOTLIST_MAX) {
            client_fail(c, PATIENT_EXIT_CENTER, "the center announced %" PRIu32 " %s (at most %d)",
                        r->count, client_plural(r->count, "slot", "slots"), SLOTLIST_MAX);
            return 0;
        }
        c->rows = r->count;
        client_set_state(c, CLIENT_ROWS);
    } else {
        enum slotlist_result rc;

        if (r->kind != PROTO_SLOT)
            return -1;
        if ((rc = slotlist_append(&c->list, r)) < 0) {
            client_list_failed(c, rc);
            return 0;
        }
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
        client_finish(c, PATIENT_EXIT_NOBOOKING);
        return 0;
    }
    client_print(c, "Phase 2: The requested appointment from Patient %u is not available.\n",
                 c->p.id);
    slotlist_remove(&c->list, c->selected, SLOTLIST_TAKEN);
    client_reprompt(c, 0);
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
        client_fail(c, PATIENT_EXIT_CENTER, "the center sent an unreadable line: '%s'",
                    util_escape(esc, sizeof esc, line, len));
        return;
    }
    if (r.kind == PROTO_ERROR) {
        client_error(c, &r);
        return;
    }
    if (slotlist_is_push(&r)) {
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
        client_fail(c, PATIENT_EXIT_CENTER, "unexpected line from the center: '%s'",
                    util_escape(esc, sizeof esc, line, len));
    else if (c->nomem)
        client_fail(c, PATIENT_EXIT_CONFIG, "out of memory");
}

/* An over-long line or a NUL byte from the center. */
void
client_center_garbage(struct client *c, const char *what)
{
    if (c->state != CLIENT_DONE && c->state != CLIENT_DOCTOR)
        client_fail(c, PATIENT_EXIT_CENTER, "the center sent %s", what);
}

/* The center's connection ended. */
void
client_center_closed(struct client *c, const char *why)
{
    if (c->state == CLIENT_DONE || c->state == CLIENT_DOCTOR)
        return;
    if (why == NULL)
        client_fail(c, PATIENT_EXIT_CENTER, "the center closed the connection");
    else
        client_fail(c, PATIENT_EXIT_CENTER, "the connection to the center failed: %s", why);
}

/* The center did not answer in time. */
void
client_center_timeout(struct client *c, unsigned ms)
{
    if (client_waits_center(c))
        client_fail(c, PATIENT_EXIT_CENTER, "the center did not answer within %u ms", ms);
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

/* Whether b is a blank a person may type around the index. */
static int
client_blank(char b)
{
    return b == ' ' || b == '\t';
}

/* Say why index, which is not listed, cannot be chosen. */
static void
client_not_listed(struct client *c, uint64_t v, int parsed, const char *esc)
{
    switch (parsed ? slotlist_gone(&c->list, (uint32_t)v) : SLOTLIST_LISTED) {
    case SLOTLIST_TAKEN:
        client_print(c, "Phase 2: Appointment %" PRIu64 " was just taken by another patient.\n", v);
        break;
    case SLOTLIST_DROPPED:
        client_print(c, "Phase 2: Appointment %" PRIu64 " was removed from the schedule.\n", v);
        break;
    default:
        client_print(c, "Phase 2: %s is not one of the available appointment indices.\n", esc);
        break;
    }
}

/*
 * A line typed at the prompt: a shown index (blanks around it allowed) is
 * selected, an empty line shows the list again, anything else re-prompts.
 */
void
client_input_line(struct client *c, const char *line, size_t len)
{
    char esc[CLIENT_SHOWLEN];
    uint64_t v = 0;
    int parsed;

    if (c->state != CLIENT_PROMPT)
        return;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (c->p.echo)
        client_print(c, "%s\n", util_escape(esc, sizeof esc, line, len));
    c->midline = 0; /* a terminal echoed the person's newline */
    while (len > 0 && client_blank(line[0])) {
        line++;
        len--;
    }
    while (len > 0 && client_blank(line[len - 1]))
        len--;
    util_escape(esc, sizeof esc, line, len);
    parsed = util_parse_uint(line, len, 1, PROTO_MAXINDEX, &v) == 0;
    if (len == 0) {
        client_reprompt(c, 1);
    } else if (parsed && slotlist_has(&c->list, (uint32_t)v)) {
        client_select(c, (uint32_t)v);
    } else {
        client_not_listed(c, v, parsed, esc);
        client_prompt(c);
    }
    if (c->nomem)
        client_fail(c, PATIENT_EXIT_CONFIG, "out of memory");
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
    client_finish(c, PATIENT_EXIT_NOBOOKING);
}

/* The shell ended the screen's open line: no newline is owed before the next message. */
void
client_line_ended(struct client *c)
{
    c->midline = 0;
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

/* No price came: say that the booking made in phase 2 stands, and end. */
static void
client_no_price(struct client *c)
{
    client_print(c,
                 "Phase 3: Appointment %" PRIu32 " stays booked for Patient %u without a cost "
                 "estimate; see it with: patient --id %u --show\n",
                 c->selected, c->p.id, c->p.id);
    client_finish(c, PATIENT_EXIT_NOPRICE);
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
                 "Phase 3: The doctor at port %u did not answer Patient %u after %u %s. "
                 "Exiting...\n",
                 c->port, c->p.id, c->tries, client_plural(c->tries, "try", "tries"));
    client_no_price(c);
    return 0;
}

/* The doctor's address refused: the request goes to its host's next address, tries anew. */
void
client_doctor_next(struct client *c)
{
    if (c->state == CLIENT_DOCTOR)
        c->tries = 0;
}

/* The doctor's host said nobody listens on the port: no use trying again. */
void
client_doctor_refused(struct client *c)
{
    if (c->state != CLIENT_DOCTOR)
        return;
    client_print(c,
                 "Phase 3: The doctor at port %u refused the request of Patient %u: no doctor "
                 "is running there. Exiting...\n",
                 c->port, c->p.id);
    client_no_price(c);
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
        client_finish(c, PATIENT_EXIT_OK);
    } else if (!truncated && len == sizeof unknown - 1 && memcmp(data, unknown, len) == 0) {
        client_print(c,
                     "Phase 3: Doctor %s does not know insurance plan %s; no estimate for "
                     "Patient %u. Exiting...\n",
                     c->doctor, c->p.plan, c->p.id);
        client_no_price(c);
    } else if (!truncated && len > 6 && memcmp(data, "error ", 6) == 0) {
        client_print(c,
                     "Phase 3: Doctor %s answered '%s' to Patient %u; no estimate. "
                     "Exiting...\n",
                     c->doctor, esc, c->p.id);
        client_no_price(c);
    } else {
        client_print(c,
                     "Phase 3: Doctor %s sent an unreadable answer '%s%s' to Patient %u. "
                     "Exiting...\n",
                     c->doctor, esc, truncated ? "..." : "", c->p.id);
        client_no_price(c);
    }
}
