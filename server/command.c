/* command.c: the patient's commands: the table, the five commands and the login path. */
#include "command.h"
#include "authpool.h"
#include "center.h"
#include "conn.h"
#include "log.h"
#include "proto.h"
#include "throttle.h"
#include "users.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Escape the connection's user name for the screen. */
static const char *
command_username(const struct conn *c, char *buf, size_t len)
{
    if (c->user == NULL)
        return util_escape(buf, len, "", 0);
    return util_escape(buf, len, c->user->name, c->user->namelen);
}

/* Send the answer to a login (user, or NULL for a failure); a failure closes. */
static void
command_auth_answer(struct conn *c, struct user *user)
{
    struct center *center = c->center;

    center_print(center,
                 "Phase 1: The Health Center Server sends the response %s to patient with "
                 "username %s.",
                 user != NULL ? "success" : "failure", c->loginname != NULL ? c->loginname : "");
    if (user == NULL) {
        /* For fail2ban and journald: the address, and the name as tried (escaped). */
        log_info("failed login for %s from %s", c->loginname != NULL ? c->loginname : "",
                 c->host);
        center->stats.logins_failed++;
        free(c->loginname);
        c->loginname = NULL;
        conn_close_after(c, PROTO_LIT("failure\n"));
        return;
    }
    free(c->loginname);
    c->loginname = NULL;
    center->stats.logins_ok++;
    c->user = user;
    conn_reply(c, PROTO_LIT("success\n"));
}

/*
 * The login's result is known (user, or NULL for a failure): answer now, or
 * after THROTTLE_DELAY when this address failed too often. waited: c was
 * waiting for a password check, so the answer must be written here.
 */
static void
command_login_result(struct conn *c, struct user *user, int waited)
{
    struct center *center = c->center;
    int64_t now = conn_now(c);
    unsigned delay = throttle_delay(&center->throttle, c->host, now);

    if (user == NULL)
        throttle_failure(&center->throttle, c->host, now);
    if (delay > 0 && c->timer != NULL) {
        log_info("%s: too many failed logins, answers wait %us", c->host, delay);
        center->stats.logins_throttled++;
        c->login = user;
        conn_wait(c, CONN_THROTTLED, delay);
        return;
    }
    command_auth_answer(c, user);
    if (c->state == CONN_CLOSING)
        conn_flush(c);
    else if (waited)
        conn_done_waiting(c, CONN_READY);
    else
        c->state = CONN_READY;
}

/* The throttle's delay is over: send the answer it held. */
void
command_login_delayed(struct conn *c)
{
    struct user *user = c->login;

    c->login = NULL;
    command_auth_answer(c, user);
    if (c->state == CONN_CLOSING)
        conn_flush(c);
    else
        conn_done_waiting(c, CONN_READY);
}

/* The authpool checked the password (see command_authenticate). */
static void
command_auth_done(void *arg, int ok)
{
    struct conn *c = arg;
    struct user *user = c->login;

    c->authjob = NULL;
    c->login = NULL;
    /* For a clear or unknown user the check was a dummy: its result is moot. */
    if (user != NULL && !(user->hashed ? ok : c->loginclear))
        user = NULL;
    command_login_result(c, user, 1);
}

/*
 * authenticate <user> <password>. Clear passwords are compared at once.
 * When users.txt holds hashes, every login waits for one hash check on the
 * authpool (the real one, or a dummy for a clear or unknown user), so the
 * answer takes as long whoever asks and the loop never runs crypt itself.
 */
static void
command_authenticate(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    struct user *user = users_find(&center->users, pf->f[1], pf->len[1]);
    struct user *clear = NULL;
    const char *hash;
    char name[160];

    util_escape(name, sizeof name, pf->f[1], pf->len[1]);
    center_print(center,
                 "Phase 1: The Health Center Server has received request from a patient with "
                 "username %s and password ********.",
                 name);
    c->loginname = strdup(name);
    users_check(&center->users, pf->f[1], pf->len[1], pf->f[2], pf->len[2], &clear);
    if (center->authpool == NULL || center->dummyhash == NULL) {
        command_login_result(c, clear, 0);
        return;
    }
    c->login = user;
    c->loginclear = clear != NULL;
    hash = user != NULL && user->hashed ? user->password : center->dummyhash;
    c->authjob = authpool_check(center->authpool, hash, pf->f[2], pf->len[2], command_auth_done, c);
    if (c->authjob == NULL) {
        log_warnx("%s: password checks are backed up; refusing a login", c->host);
        center->stats.busy++;
        conn_error(c, PROTO_ERR_BUSY);
        return;
    }
    conn_wait(c, CONN_AUTH, 0);
}

/* available: the free slots, then pushes until booked. */
static void
command_available(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    char name[160];

    (void)pf;
    center_print(center,
                 "Phase 2: The Health Center Server, receives a request for available time "
                 "slots from patients with port number %u and IP address %s.",
                 c->port, c->host);
    center_list(center, c->out);
    if (c->user->booked == 0)
        schedule_subscribe(&center->sched, &c->sub);
    if (!center->quiet)
        center_print(center,
                     "Phase 2: The Health Center Server sends available time slots to patient "
                     "with username %s.",
                     command_username(c, name, sizeof name));
}

/*
 * Answer a change of the schedule: at once when the store took it on the
 * spot, else once it is committed (the answer is held, and so is any input
 * after it). Returns 0, or -1 when the store refused it (nothing changed).
 */
static int
command_change(struct conn *c, const char *answer, size_t len, int put, uint32_t index)
{
    switch (center_commit(c->center, c, put, c->user, index)) {
    case CENTER_WRITTEN:
        conn_reply(c, answer, len);
        return 0;
    case CENTER_REFUSED:
        return -1;
    case CENTER_HELD:
        break;
    }
    if (len > sizeof c->held)
        len = sizeof c->held;
    memcpy(c->held, answer, len);
    c->heldlen = len;
    conn_wait(c, CONN_COMMIT, 0);
    return 0;
}

/* The store committed: send the held answer and go on (see command.h). */
void
command_committed(struct conn *c, int refused)
{
    if (refused)
        conn_reply(c, PROTO_LIT("notavailable\n"));
    else
        conn_reply(c, c->held, c->heldlen);
    c->heldlen = 0;
    conn_done_waiting(c, CONN_READY);
}

/* selection <index>: reserve the slot before replying. */
static void
command_selection(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    const struct sched_doctor *doc;
    uint32_t index;
    char name[160], buf[128];
    size_t len;

    if (proto_field_index(pf, 1, &index) == -1) {
        conn_error(c, PROTO_ERR_BAD_INDEX);
        return;
    }
    command_username(c, name, sizeof name);
    center_print(center,
                 "Phase 2: The Health Center Server receives a request for appointment %u from "
                 "patient with port number %u and username %s.",
                 index, c->port, name);
    if (c->user->booked != 0) {
        conn_replyf(c, "error already-booked %u\n", c->user->booked);
    } else if (!center_store_available(center)) {
        center->stats.unavailable++;
        conn_error(c, PROTO_ERR_UNAVAILABLE);
        return;
    } else if (center_book(center, c->user, index, &c->sub) == SCHED_OK) {
        doc = schedule_doctor(&center->sched, schedule_find(&center->sched, index));
        len = proto_fmt_booked(buf, sizeof buf, doc->name, doc->port);
        if (command_change(c, buf, len, 1, index) == 0) {
            center_print(center,
                         "Phase 2: The Health Center Server confirms the following appointment "
                         "%u to patient with username %s.",
                         index, name);
            return;
        }
        conn_reply(c, PROTO_LIT("notavailable\n"));
    } else {
        conn_reply(c, PROTO_LIT("notavailable\n"));
    }
    center_print(center,
                 "Phase 2: The Health Center Server rejects the following appointment %u to "
                 "patient with username %s.",
                 index, name);
}

/* appointment: what this user holds. */
static void
command_appointment(struct conn *c, const struct proto_fields *pf)
{
    struct schedule *sched = &c->center->sched;
    const struct sched_doctor *doc;
    const struct slot *slot;

    (void)pf;
    if (c->user->booked == 0 || (slot = schedule_find(sched, c->user->booked)) == NULL) {
        conn_reply(c, PROTO_LIT("appointment none\n"));
        return;
    }
    doc = schedule_doctor(sched, slot);
    conn_replyf(c, "appointment %u %s %s %s %u\n", slot->index, slot->day, slot->time, doc->name,
                doc->port);
}

/* cancel: give the booked slot back to the schedule. */
static void
command_cancel(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    uint32_t index = c->user->booked;
    char name[160], buf[32];
    int n;

    (void)pf;
    if (index == 0) {
        conn_error(c, PROTO_ERR_NO_APPOINTMENT);
        return;
    }
    if (!center_store_available(center)) {
        center->stats.unavailable++;
        conn_error(c, PROTO_ERR_UNAVAILABLE);
        return;
    }
    center_unbook(center, c->user);
    n = snprintf(buf, sizeof buf, "cancelled %u\n", index);
    command_change(c, buf, (size_t)n, 0, index);
    center_print(center,
                 "Phase 2: The Health Center Server cancels appointment %u of patient with "
                 "username %s.",
                 index, command_username(c, name, sizeof name));
}

#define COMMAND_S_NEW (1 << CONN_NEW)
#define COMMAND_S_READY (1 << CONN_READY)

/* The commands: name, argument count, states allowed, handler. */
static const struct command {
    const char *name;
    int nargs;
    int states;
    void (*fn)(struct conn *, const struct proto_fields *);
} command_table[] = {
    {"authenticate", 2, COMMAND_S_NEW, command_authenticate},
    {"available", 0, COMMAND_S_READY, command_available},
    {"selection", 1, COMMAND_S_READY, command_selection},
    {"appointment", 0, COMMAND_S_READY, command_appointment},
    {"cancel", 0, COMMAND_S_READY, command_cancel},
};

/* Handle one complete, checked line. */
void
command_dispatch(struct conn *c, const char *line, size_t len)
{
    const struct command *cmd;
    struct proto_fields pf;
    size_t i;

    if (len == 0) {
        conn_error(c, PROTO_ERR_EMPTY_LINE);
        return;
    }
    if (proto_split(line, len, &pf) == -1) {
        conn_error(c, PROTO_ERR_BAD_SPACING);
        return;
    }
    for (i = 0; i < sizeof command_table / sizeof command_table[0]; i++) {
        cmd = &command_table[i];
        if (!proto_field_is(&pf, 0, cmd->name))
            continue;
        if (!(cmd->states & (1 << c->state))) {
            conn_error(c, c->state == CONN_NEW ? PROTO_ERR_NOT_AUTHENTICATED
                                               : PROTO_ERR_ALREADY_AUTHENTICATED);
            return;
        }
        if (pf.n - 1 != cmd->nargs) {
            conn_error(c, PROTO_ERR_WRONG_ARGUMENTS);
            return;
        }
        cmd->fn(c, &pf);
        return;
    }
    conn_error(c, PROTO_ERR_UNKNOWN_COMMAND);
}
