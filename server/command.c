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

#include <event2/buffer.h>

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
                 conn_host(c));
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
    if (c->src != NULL)
        throttle_authenticated(&center->throttle, c->src);
    center_conn_settled(center, c);
    conn_reply(c, PROTO_LIT("success\n"));
}

/* Refuse a login with "error busy" (no hash is checked); one log line a second at most. */
static void
command_refuse(struct conn *c, struct throttle_ratelog *r, const char *why)
{
    struct center *center = c->center;
    uint64_t n = throttle_ratelog(r, conn_now(c));

    if (n > 0)
        log_warnx("%s: %s; refused %llu login%s since the last such message", conn_host(c), why,
                  (unsigned long long)n, n == 1 ? "" : "s");
    center->stats.busy++;
    free(c->loginname);
    c->loginname = NULL;
    c->login = NULL;
    conn_error(c, PROTO_ERR_BUSY);
}

/*
 * The login's result is known (user, or NULL for a failure; named: the
 * user of users.txt the login named, or NULL): answer now, or after
 * THROTTLE_DELAY when its source or its user failed too often. waited: c
 * was waiting for a password check, so the answer must be written here.
 */
static void
command_login_result(struct conn *c, struct user *named, struct user *user, int waited)
{
    struct center *center = c->center;
    struct throttle *t = &center->throttle;
    int64_t now = conn_now(c);
    unsigned delay = throttle_delay(t, c->src, now);

    if (named != NULL && throttle_user_delay(t, named->name, named->namelen, now) > delay)
        delay = throttle_user_delay(t, named->name, named->namelen, now);
    if (c->src != NULL)
        throttle_login_done(t, c->src, user != NULL ? THROTTLE_OK : THROTTLE_FAILED, now);
    if (user == NULL && named != NULL)
        throttle_user_failure(t, named->name, named->namelen, now);
    if (delay > 0 && conn_timed(c)) {
        log_info("%s: too many failed logins, answers wait %us", conn_host(c), delay);
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

static void command_auth_done(void *arg, int ok);

/*
 * Hand c's password to the authpool: checked against the named user's hash,
 * or the dummy for a clear or unknown user. A full pool refuses the login.
 * Returns 0, or -1 when refused (c is closing).
 */
static int
command_check(struct conn *c, const char *password, size_t len)
{
    struct center *center = c->center;
    const char *hash =
        c->login != NULL && c->login->hashed ? c->login->password : center->dummyhash;

    c->authjob = authpool_check(center->authpool, hash, password, len, command_auth_done, c);
    if (c->authjob != NULL)
        return 0;
    if (c->src != NULL)
        throttle_check_end(&center->throttle, c->src);
    command_refuse(c, &center->throttle.backed, "password checks are backed up");
    return -1;
}

/* Start the check of the next login of src waiting for its share, if it may go now. */
static void
command_wake(struct center *center, struct throttle_src *src)
{
    struct conn *w;

    if (src == NULL || src->waiting == 0 || !throttle_check_take(&center->throttle, src))
        return;
    TAILQ_FOREACH(w, &center->authwait, wait_entry)
    {
        if (w->src == src)
            break;
    }
    if (w == NULL) {
        throttle_check_end(&center->throttle, src);
        return;
    }
    TAILQ_REMOVE(&center->authwait, w, wait_entry);
    w->checkwait = 0;
    if (command_check(w, w->loginpass, w->loginpasslen) == -1)
        conn_flush(w);
    util_wipe(w->loginpass, w->loginpasslen);
    free(w->loginpass);
    w->loginpass = NULL;
    w->loginpasslen = 0;
}

/* The authpool checked the password (see command_authenticate). */
static void
command_auth_done(void *arg, int ok)
{
    struct conn *c = arg;
    struct center *center = c->center;
    struct user *named = c->login, *user = named;

    c->authjob = NULL;
    c->login = NULL;
    if (c->src != NULL) {
        throttle_check_end(&center->throttle, c->src);
        command_wake(center, c->src);
    }
    /* For a clear or unknown user the check was a dummy: its result is moot. */
    if (user != NULL && !(user->hashed ? ok : c->loginclear))
        user = NULL;
    command_login_result(c, named, user, 1);
}

/* Abandon c's login: drop its check or its place in line (see command.h). */
void
command_login_abandon(struct conn *c)
{
    struct center *center = c->center;
    int had = c->authjob != NULL || c->checkwait;

    if (c->authjob != NULL) {
        authpool_cancel(c->authjob);
        c->authjob = NULL;
        if (c->src != NULL)
            throttle_check_end(&center->throttle, c->src);
    } else if (c->checkwait) {
        TAILQ_REMOVE(&center->authwait, c, wait_entry);
        c->checkwait = 0;
        if (c->src != NULL)
            throttle_unwait(&center->throttle, c->src);
    }
    if (c->loginpass != NULL) {
        util_wipe(c->loginpass, c->loginpasslen);
        free(c->loginpass);
        c->loginpass = NULL;
        c->loginpasslen = 0;
    }
    if (had && c->src != NULL) {
        throttle_login_done(&center->throttle, c->src, THROTTLE_LOST, conn_now(c));
        command_wake(center, c->src);
    }
}

/* c is closing: its login goes, and so does it from its source's counts. */
void
command_conn_closed(struct conn *c)
{
    struct throttle_src *src = c->src;

    command_login_abandon(c);
    c->src = NULL;
    if (src != NULL)
        throttle_disconnect(&c->center->throttle, src, c->user != NULL, conn_now(c));
}

/*
 * authenticate <user> <password>. A source over its failed logins of the
 * minute is refused at once, without a hash. Clear passwords are compared
 * at once. When users.txt holds hashes, every login waits for one hash
 * check on the authpool (the real one, or a dummy of the costliest hash
 * for a clear or unknown user), so the answer takes as long whoever asks
 * and the loop never runs crypt itself; a source whose share of the checks
 * is in use waits its turn, holding a copy of the password.
 */
static void
command_authenticate(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    struct user *user = users_find(&center->users, pf->f[1], pf->len[1]);
    struct user *clear = NULL;
    enum throttle_login go = THROTTLE_CHECK;
    char name[160];

    util_escape(name, sizeof name, pf->f[1], pf->len[1]);
    center_print(center,
                 "Phase 1: The Health Center Server has received request from a patient with "
                 "username %s and password ********.",
                 name);
    c->loginname = strdup(name);
    if (c->src != NULL)
        go = throttle_login(&center->throttle, c->src,
                            center->authpool != NULL && center->dummyhash != NULL, conn_now(c));
    if (go == THROTTLE_REFUSE) {
        command_refuse(c, &center->throttle.failing, "too many failed logins from this address");
        return;
    }
    users_check(&center->users, pf->f[1], pf->len[1], pf->f[2], pf->len[2], &clear);
    if (center->authpool == NULL || center->dummyhash == NULL) {
        command_login_result(c, user, clear, 0);
        return;
    }
    c->login = user;
    c->loginclear = clear != NULL;
    if (go == THROTTLE_WAIT) {
        if ((c->loginpass = malloc(pf->len[2] + 1)) == NULL) {
            throttle_unwait(&center->throttle, c->src);
            command_refuse(c, &center->throttle.backed, "out of memory for a login");
            return;
        }
        memcpy(c->loginpass, pf->f[2], pf->len[2]);
        c->loginpasslen = pf->len[2];
        c->checkwait = 1;
        TAILQ_INSERT_TAIL(&center->authwait, c, wait_entry);
    } else if (command_check(c, pf->f[2], pf->len[2]) == -1) {
        return;
    }
    conn_wait(c, CONN_AUTH, 0);
}

/* --trace: queue the list of free slots and print its lines. */
static void
command_list_traced(struct conn *c)
{
    size_t from = evbuffer_get_length(c->out);

    center_list(c->center, c->out);
    conn_trace_queued(c, from);
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
                 c->port, conn_host(c));
    if (conn_out(c) == NULL) {
        conn_error(c, PROTO_ERR_OUT_OF_MEMORY);
        return;
    }
    if (trace_on)
        command_list_traced(c);
    else
        center_list(center, c->out);
    if (c->user->booked == 0)
        schedule_subscribe(&center->sched, &c->sub);
    if (!center->quiet)
        center_print(center,
                     "Phase 2: The Health Center Server sends available time slots to patient "
                     "with username %s.",
                     command_username(c, name, sizeof name));
}

/* Answer a selection or a cancel the store took, refused or could not reach (see command.h). */
static void
command_answer(struct conn *c, int put, uint32_t index, enum center_commit r)
{
    struct center *center = c->center;
    const struct sched_doctor *doc;
    char name[160], buf[128];
    size_t len;

    command_username(c, name, sizeof name);
    if (r == CENTER_UNKNOWN) {
        conn_error(c, PROTO_ERR_UNAVAILABLE);
        return;
    }
    if (!put) {
        conn_replyf(c, "cancelled %u\n", index);
        center_print(center,
                     "Phase 2: The Health Center Server cancels appointment %u of patient with "
                     "username %s.",
                     index, name);
        return;
    }
    if (r == CENTER_WRITTEN) {
        doc = schedule_doctor(&center->sched, schedule_find(&center->sched, index));
        len = proto_fmt_booked(buf, sizeof buf, doc->name, doc->port);
        conn_reply(c, buf, len);
        center_print(center,
                     "Phase 2: The Health Center Server confirms the following appointment %u to "
                     "patient with username %s.",
                     index, name);
        return;
    }
    /* Refused: another booking of the slot, or one of this user made elsewhere meanwhile. */
    if (c->user->booked != 0)
        conn_replyf(c, "error already-booked %u\n", c->user->booked);
    else
        conn_reply(c, PROTO_LIT("notavailable\n"));
    center_print(center,
                 "Phase 2: The Health Center Server rejects the following appointment %u to "
                 "patient with username %s.",
                 index, name);
}

/*
 * Ask the store for a change of the schedule: answered at once when the
 * store took it on the spot, else once it is committed (the connection
 * waits, and so does any input after it).
 */
static void
command_change(struct conn *c, int put, uint32_t index)
{
    enum center_commit r = center_commit(c->center, c, put, c->user, index);

    if (r != CENTER_HELD) {
        command_answer(c, put, index, r);
        return;
    }
    c->changeput = put;
    c->changeslot = index;
    conn_wait(c, CONN_COMMIT, 0);
}

/* The store answered: tell the patient and go on (see command.h). */
void
command_committed(struct conn *c, enum center_commit r)
{
    command_answer(c, c->changeput, c->changeslot, r);
    conn_done_waiting(c, CONN_READY);
}

/* selection <index>: the store books the slot before the reply. */
static void
command_selection(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    const struct slot *slot;
    uint32_t index;
    char name[160];

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
        command_answer(c, 1, index, CENTER_REFUSED); /* error already-booked */
        return;
    }
    if (!center_store_available(center)) {
        center->stats.unavailable++;
        conn_error(c, PROTO_ERR_UNAVAILABLE);
        return;
    }
    /* Known to be taken (or unknown): answered at once, without the store. */
    slot = schedule_find(&center->sched, index);
    if (slot == NULL || slot->holder != SCHEDULE_FREE || slot->retired) {
        command_answer(c, 1, index, CENTER_REFUSED);
        return;
    }
    command_change(c, 1, index);
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
    command_change(c, 0, index);
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
