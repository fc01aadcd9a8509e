/* client.h: the patient's session with the center and the doctor, driven by lines (no sockets). */
#ifndef HCS_CLIENT_H
#define HCS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "slotlist.h"

#define CLIENT_MAXLINE 1024 /* bytes in one line from the center, line ending excluded */
#define CLIENT_DIAGLEN 256  /* a failure explained for stderr, NUL included */
#define CLIENT_SHORTLIST                                                                           \
    10 /* a change at the prompt shows the whole list again up to this many                        \
        */
#define CLIENT_PROMPT_TEXT "Please enter the preferred appointment index and press enter: "

/*
 * How the shell uses this module: it feeds every line from the center to
 * client_center_line, every line the person types to client_input_line, and
 * the doctor's datagrams to client_doctor_reply. After each call it writes
 * c->screen to stdout and c->wire to the center (then empties both), and
 * looks at c->state: CLIENT_DOCTOR means close TCP and start phase 3,
 * CLIENT_DONE means exit with c->status, printing c->diag on stderr if set.
 * The free slots shown to the person are c->list (slotlist.h).
 *
 * At the prompt, a change of the schedule prints one line saying what
 * changed, then the whole list again if it holds at most CLIENT_SHORTLIST
 * slots, then the prompt; an empty answer shows the whole list again. With
 * p.editor the shell's line editor draws CLIENT_PROMPT_TEXT and what the
 * person typed, so the client prints neither: the shell clears the editor's
 * line, writes c->screen, and redraws it.
 */

/* The exit statuses of the patient program, as the README's table gives them. */
enum patient_exit {
    PATIENT_EXIT_OK = 0,        /* booked and priced (or --show / --cancel answered) */
    PATIENT_EXIT_CONFIG = 1,    /* usage, configuration or data-file error */
    PATIENT_EXIT_AUTH = 2,      /* authentication failed */
    PATIENT_EXIT_NOBOOKING = 3, /* no appointment made: slot taken or not listed, no slot left,
                                   input ended at the prompt, already booked, nothing to cancel */
    PATIENT_EXIT_NOPRICE = 4,   /* the doctor gave no price (the booking stands): no answer
                                   after the retries, a refusal, or an error such as an unknown
                                   insurance plan */
    PATIENT_EXIT_CENTER = 5,    /* the center could not be reached, timed out the session, or
                                   broke the protocol */
    PATIENT_EXIT_TLS = 5,       /* tls = yes: the center's certificate or name did not verify, so
                                   it was not reached (nothing was sent; the status 5);
                                   set by the shell, never by this module */
};

/* What the person asked for on the command line. */
enum client_mode {
    CLIENT_BOOK,   /* phases 1 to 3 */
    CLIENT_SHOW,   /* --show: ask "appointment" after phase 1 */
    CLIENT_CANCEL, /* --cancel: ask "cancel" after phase 1 */
};

/* Where the session is; the shell only needs the last three and the two waits. */
enum client_state {
    CLIENT_START,  /* connected, nothing sent */
    CLIENT_AUTH,   /* authenticate sent: waiting for success or failure */
    CLIENT_QUERY,  /* appointment or cancel sent: waiting for the answer (before the list too) */
    CLIENT_LIST,   /* available sent: waiting for "slots <n>" */
    CLIENT_ROWS,   /* reading the n slot lines */
    CLIENT_PROMPT, /* list and prompt shown: waiting for the person */
    CLIENT_SELECT, /* selection sent: waiting for the answer (pushes still come) */
    CLIENT_DOCTOR, /* booked: TCP is done, phase 3 runs */
    CLIENT_DONE,   /* finished: exit with status */
};

/* The fixed facts of one session. Strings are the caller's and must outlive c. */
struct client_params {
    unsigned id;          /* N in "Patient N" */
    const char *user;     /* credentials */
    const char *password; /* only ever written to the wire */
    const char *plan;     /* insurance plan for the doctor */
    enum client_mode mode;
    uint32_t slot;    /* --slot K, or 0: ask the person */
    int echo;         /* print what was read after the prompt (stdin is not a terminal) */
    unsigned retries; /* resends of the doctor request after the first try */
    int editor;       /* the shell's line editor shows the prompt and the typed text */
};

/* Bytes waiting to be written by the shell. */
struct client_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* One session. Fields are for reading; change them only through the functions below. */
struct client {
    struct client_params p;
    enum client_state state;
    enum patient_exit status;   /* exit status once CLIENT_DONE */
    char diag[CLIENT_DIAGLEN];  /* "phase N: what went wrong" for stderr, or "" */
    struct client_buf screen;   /* text for stdout */
    struct client_buf wire;     /* lines for the center, each ending in "\n" */
    struct slotlist list;       /* the free slots, in the center's order */
    uint32_t rows;              /* slot lines still to come in CLIENT_ROWS */
    uint32_t selected;          /* index sent with selection */
    char doctor[PROTO_NAMELEN]; /* after booking: the doctor's name and port */
    unsigned port;
    unsigned tries; /* doctor requests sent */
    int midline;    /* the screen ends without a newline (after the prompt) */
    int nomem;      /* an allocation failed; the session ends */
};

/* Start a session; c->p copies p. Returns 0 or -1 (no memory). */
int client_init(struct client *c, const struct client_params *p);
/* Free the lists and buffers (the wire buffer is wiped: it held the password). */
void client_free(struct client *c);

/* The shell connected from host:port: print it, queue authenticate. */
void client_connected(struct client *c, const char *host, unsigned port);
/* One line from the center, its line ending removed. */
void client_center_line(struct client *c, const char *line, size_t len);
/* The center sent a line longer than CLIENT_MAXLINE or holding a NUL byte. */
void client_center_garbage(struct client *c, const char *what);
/* The connection ended: why is NULL for an orderly close, else the error text. */
void client_center_closed(struct client *c, const char *why);
/* No answer from the center within ms milliseconds. */
void client_center_timeout(struct client *c, unsigned ms);
/* Whether an answer from the center is awaited (the shell then runs its timer). */
int client_waits_center(const struct client *c);

/* One line typed by the person, its line ending removed. */
void client_input_line(struct client *c, const char *line, size_t len);
/* The input ended. */
void client_input_eof(struct client *c);
/* Whether the person is being asked (the shell then reads stdin). */
int client_waits_input(const struct client *c);
/* The shell ended the line the prompt left open (it printed a line of its own there). */
void client_line_ended(struct client *c);

/* Phase 3: the UDP socket is ready at host:port; print it. */
void client_doctor_ready(struct client *c, const char *host, unsigned port);
/* The request (c->p.plan) was sent to the doctor at host; count the try. */
void client_doctor_sent(struct client *c, const char *host);
/* No reply in time: 1 means send again, 0 means the tries are used up (CLIENT_DONE). */
int client_doctor_timeout(struct client *c);
/* The doctor's host refused the request (ICMP port unreachable): nobody listens there. */
void client_doctor_refused(struct client *c);
/*
 * That address refused, and the request goes to another address of the
 * doctor's host: the next client_doctor_sent shows it, with fresh tries.
 */
void client_doctor_next(struct client *c);
/* One datagram from the doctor (truncated: it did not fit the shell's buffer). */
void client_doctor_reply(struct client *c, const char *data, size_t len, int truncated);

/* End the session with status and a "phase N: ..." line for stderr (N from the state). */
void client_fail(struct client *c, enum patient_exit status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
