/*
 * fuzz_client.c: the patient's session (patient/client.c, with its list of
 * slots in patient/slotlist.c) driven by lines, as patient.c drives it, with
 * every line the center, the person and the doctor could send. After each
 * event the screen, the wire, the session and its list are checked, then
 * emptied as the shell empties them: among the checks, a booking session asks
 * what the user holds before the list, a change at the prompt prints the whole
 * list again only when it is short, the editor's prompt is never printed by
 * the session, and a slot typed after it went away is named as gone.
 *
 * Input: lines ("\n"); the first byte of each says where it comes from:
 *   '#'  only as the first line: options, any of "show", "cancel", "echo", "editor", "slot=N"
 *   '>'  a line typed by the person (the rest of the line)
 *   '<'  a datagram from the doctor; '{' one cut short by the buffer
 *   '!'  an event: 'c' the center closed, 'C' the connection failed, 't' the
 *        center did not answer in time, 'T' the doctor did not, 'r' the doctor's
 *        host refused, 'e' the input ended
 *   else a line from the center, filtered as patient.c filters it (a "\r"
 *        removed; over CLIENT_MAXLINE bytes or holding a NUL: garbage)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"

#define FUZZ_USER "patient1"
#define FUZZ_PASSWORD "Pw-secret-Zz9"
#define FUZZ_AUTH "authenticate " FUZZ_USER " " FUZZ_PASSWORD

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the n bytes of s hold the NUL-terminated w, or NULL. */
static const char *
fuzz_find(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    const char *p = s, *end = s + n;

    while (p + wl <= end && (p = memchr(p, w[0], (size_t)(end - p) - wl + 1)) != NULL) {
        if (memcmp(p, w, wl) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Whether n bytes hold a control byte other than "\n". */
static int
fuzz_has_control(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

/* Compare two indices for qsort. */
static int
fuzz_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* The list the person sees: sorted index without repeats, and the same indices in order. */
static void
fuzz_check_list(const struct slotlist *l)
{
    uint32_t *copy;
    size_t i;

    if (l->nslots > l->cap || l->cap > SLOTLIST_MAX)
        abort();
    if (l->nslots == 0)
        return;
    if ((copy = malloc(l->nslots * sizeof *copy)) == NULL)
        abort();
    for (i = 0; i < l->nslots; i++)
        copy[i] = l->slots[i].index;
    qsort(copy, l->nslots, sizeof *copy, fuzz_cmp);
    for (i = 0; i < l->nslots; i++)
        if (copy[i] != l->sorted[i] || (i > 0 && l->sorted[i] <= l->sorted[i - 1]) ||
            l->sorted[i] == 0 || !slotlist_has(l, l->sorted[i]))
            abort();
    free(copy);
}

/* What one run has seen so far, for the checks that span events. */
struct fuzz_run {
    unsigned nauth;    /* authenticate lines sent */
    int asked_held;    /* appointment sent */
    int prompt_before; /* the session was at the prompt before the event */
    int push;          /* the event is a schedule push from the center */
    int gone_typed;    /* the event is an index typed after its slot went away */
    int prompt_fed;    /* the input holds the prompt's text: a center may send it to be shown */
};

/* How many lines the n bytes of s end. */
static size_t
fuzz_lines(const char *s, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

/* Check the lines queued for the center: known commands only, the password only in one. */
static void
fuzz_check_wire(const struct client *c, struct fuzz_run *run)
{
    unsigned *nauth = &run->nauth;
    const char *line = c->wire.data, *end = line + c->wire.len, *nl;
    uint64_t v;
    size_t len;

    if (c->wire.len == 0)
        return;
    if (end[-1] != '\n')
        abort();
    for (; line < end; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(end - line));
        len = (size_t)(nl - line);
        if (len == sizeof FUZZ_AUTH - 1 && memcmp(line, FUZZ_AUTH, len) == 0) {
            if ((*nauth)++ > 0)
                abort();
            continue;
        }
        if (fuzz_find(line, len, FUZZ_PASSWORD) != NULL)
            abort();
        if (len > 10 && memcmp(line, "selection ", 10) == 0) {
            if (util_parse_uint(line + 10, len - 10, 1, PROTO_MAXINDEX, &v) == -1 ||
                v != c->selected)
                abort();
            /* Only a slot the list shows is asked for. */
            if (c->state == CLIENT_SELECT && !slotlist_has(&c->list, (uint32_t)v))
                abort();
            continue;
        }
        if (len == 11 && memcmp(line, "appointment", 11) == 0) {
            run->asked_held = 1;
            continue;
        }
        /* Booking: the list is asked only once the center said the user holds nothing. */
        if (len == 9 && memcmp(line, "available", 9) == 0 && c->p.mode == CLIENT_BOOK &&
            !run->asked_held)
            abort();
        if (!(len == 9 && memcmp(line, "available", 9) == 0) &&
            !(len == 6 && memcmp(line, "cancel", 6) == 0))
            abort();
    }
}

/*
 * Check the session after one event, then empty screen and wire as the shell
 * does. The password may show only if the input itself holds it (an echo).
 */
static void
fuzz_check(struct client *c, int was_done, int echoed, struct fuzz_run *run)
{
    size_t dl;

    if (c->screen.len > 0 &&
        (fuzz_has_control(c->screen.data, c->screen.len) || c->screen.data[c->screen.len] != '\0' ||
         (!echoed && fuzz_find(c->screen.data, c->screen.len, FUZZ_PASSWORD) != NULL)))
        abort();
    /* With the shell's editor the session never prints the prompt it asks with. */
    if (c->p.editor && !c->p.echo && c->p.slot == 0 && c->screen.len > 0 && !run->prompt_fed &&
        fuzz_find(c->screen.data, c->screen.len, CLIENT_PROMPT_TEXT) != NULL)
        abort();
    /* A change at the prompt with a long list: the line ended, one line of news, the prompt. */
    if (run->push && run->prompt_before && c->state == CLIENT_PROMPT &&
        c->list.nslots > CLIENT_SHORTLIST && fuzz_lines(c->screen.data, c->screen.len) > 2)
        abort();
    /* A slot typed after it went away is named as taken or removed. */
    if (run->gone_typed && c->state == CLIENT_PROMPT && c->screen.len > 0 &&
        fuzz_find(c->screen.data, c->screen.len, "is not one of") != NULL)
        abort();
    fuzz_check_wire(c, run);
    if (was_done && (c->screen.len > 0 || c->wire.len > 0 || c->state != CLIENT_DONE))
        abort(); /* a finished session stays quiet */
    if (memchr(c->diag, '\0', sizeof c->diag) == NULL)
        abort();
    dl = strlen(c->diag);
    if (dl > 0 && (c->state != CLIENT_DONE || strncmp(c->diag, "phase ", 6) != 0 ||
                   fuzz_has_control(c->diag, dl) ||
                   (!echoed && fuzz_find(c->diag, dl, FUZZ_PASSWORD) != NULL)))
        abort();
    switch (c->state) {
    case CLIENT_DONE:
        if ((unsigned)c->status > PATIENT_EXIT_CENTER ||
            (c->status == PATIENT_EXIT_CENTER && dl == 0))
            abort();
        break;
    case CLIENT_PROMPT:
        if (c->list.nslots == 0)
            abort();
        /* fall through */
    case CLIENT_SELECT:
        fuzz_check_list(&c->list);
        break;
    case CLIENT_ROWS:
        if (c->rows == 0 || c->list.nslots > c->list.cap)
            abort();
        break;
    case CLIENT_DOCTOR:
        if (memchr(c->doctor, '\0', sizeof c->doctor) == NULL || c->doctor[0] == '\0' ||
            c->port < 1 || c->port > 65535)
            abort();
        break;
    default:
        break;
    }
    if (client_waits_input(c) != (c->state == CLIENT_PROMPT))
        abort();
    c->screen.len = 0;
    if (c->wire.len > 0) {
        memset(c->wire.data, 0, c->wire.len);
        c->wire.len = 0;
    }
}

/* The session options from a first line "#...". */
static void
fuzz_params(struct client_params *p, const char *line, size_t len)
{
    const char *s;
    size_t i;

    memset(p, 0, sizeof *p);
    p->id = 1;
    p->user = FUZZ_USER;
    p->password = FUZZ_PASSWORD;
    p->plan = "insurance1";
    p->mode = CLIENT_BOOK;
    p->retries = 2;
    if (len == 0 || line[0] != '#')
        return;
    if (fuzz_find(line, len, "show") != NULL)
        p->mode = CLIENT_SHOW;
    else if (fuzz_find(line, len, "cancel") != NULL)
        p->mode = CLIENT_CANCEL;
    p->echo = fuzz_find(line, len, "echo") != NULL;
    p->editor = fuzz_find(line, len, "editor") != NULL;
    if ((s = fuzz_find(line, len, "slot=")) != NULL) {
        s += 5;
        for (i = 0; s + i < line + len && s[i] >= '0' && s[i] <= '9' && i < 10; i++)
            p->slot = p->slot * 10 + (uint32_t)(s[i] - '0');
    }
}

/* A line from the center, through the filter of patient.c. */
static void
fuzz_center_line(struct client *c, const char *line, size_t len)
{
    /* The shell reads the center only while it waits for it or for the person. */
    if (!client_waits_center(c) && !client_waits_input(c))
        return;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > CLIENT_MAXLINE)
        client_center_garbage(c, "a line longer than 1024 bytes");
    else if (memchr(line, '\0', len) != NULL)
        client_center_garbage(c, "a line holding a NUL byte");
    else
        client_center_line(c, line, len);
}

/* Whether the typed line (its first len bytes) names, blanks aside, a slot that went away. */
static int
fuzz_typed_gone(const struct client *c, const char *line, size_t len)
{
    uint64_t v;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++;
        len--;
    }
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    return util_parse_uint(line, len, 1, PROTO_MAXINDEX, &v) == 0 &&
           slotlist_gone(&c->list, (uint32_t)v) != SLOTLIST_LISTED;
}

/* Whether a line from the center is a schedule push. */
static int
fuzz_is_push(const char *line, size_t len)
{
    struct proto_reply r;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    return len <= CLIENT_MAXLINE && memchr(line, '\0', len) == NULL &&
           proto_parse_reply(line, len, &r) == 0 && slotlist_is_push(&r);
}

/* One event of the input. */
static void
fuzz_event(struct client *c, const char *line, size_t len)
{
    char *copy;

    if (len > 0 && (line[0] == '>' || line[0] == '<' || line[0] == '{')) {
        /* The shell hands over its own buffer: give exactly len bytes, no more. */
        if ((copy = malloc(len)) == NULL)
            abort();
        memcpy(copy, line + 1, len - 1);
        if (line[0] == '>')
            client_input_line(c, copy, len - 1);
        else
            client_doctor_reply(c, copy, len - 1, line[0] == '{');
        free(copy);
        return;
    }
    if (len >= 2 && line[0] == '!') {
        switch (line[1]) {
        case 'c':
            client_center_closed(c, NULL);
            break;
        case 'C':
            client_center_closed(c, "Connection reset by peer");
            break;
        case 't':
            client_center_timeout(c, 2000);
            break;
        case 'T':
            if (client_doctor_timeout(c))
                client_doctor_sent(c, "127.0.0.1");
            break;
        case 'r':
            client_doctor_refused(c);
            break;
        case 'e':
            client_input_eof(c);
            break;
        default:
            break;
        }
        return;
    }
    fuzz_center_line(c, line, len);
}

/* One run: a session fed the input line by line. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl;
    struct client_params params;
    struct client c;
    struct fuzz_run run;
    size_t len;
    int was_done, echoed = fuzz_find(p, size, FUZZ_PASSWORD) != NULL;

    nl = size > 0 ? memchr(p, '\n', size) : NULL;
    fuzz_params(&params, p, nl != NULL ? (size_t)(nl - p) : size);
    if (size > 0 && p[0] == '#')
        p = nl != NULL ? nl + 1 : end;
    if (client_init(&c, &params) == -1)
        abort();
    memset(&run, 0, sizeof run);
    run.prompt_fed = fuzz_find((const char *)data, size, CLIENT_PROMPT_TEXT) != NULL;
    client_connected(&c, "127.0.0.1", 50000);
    fuzz_check(&c, 0, echoed, &run);
    if (run.nauth != 1 || c.state != CLIENT_AUTH)
        abort();
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        was_done = c.state == CLIENT_DONE;
        if (c.state == CLIENT_DOCTOR && c.tries == 0) {
            /* Booked: the shell opens its UDP socket and sends the request. */
            client_doctor_ready(&c, "127.0.0.1", 50001);
            client_doctor_sent(&c, "127.0.0.1");
        }
        run.prompt_before = c.state == CLIENT_PROMPT;
        run.push = len > 0 && !strchr(">{<!", p[0]) && fuzz_is_push(p, len);
        run.gone_typed =
            len > 0 && p[0] == '>' && run.prompt_before && fuzz_typed_gone(&c, p + 1, len - 1);
        fuzz_event(&c, p, len);
        fuzz_check(&c, was_done, echoed, &run);
        p = nl != NULL ? nl + 1 : end;
    }
    client_free(&c);
    return 0;
}
