/* command.h: the patient's commands: the table, the five commands and the login path. */
#ifndef HCS_COMMAND_H
#define HCS_COMMAND_H

#include <stddef.h>

#include "center.h"

struct conn;

/* Handle one complete line (checked for length and bytes by conn.c). */
void command_dispatch(struct conn *c, const char *line, size_t len);
/* The store took c's change, refused it, or could not be reached (r): answer it. */
void command_committed(struct conn *c, enum center_commit r);
/* The throttle's delay of c's login answer is over: send it. */
void command_login_delayed(struct conn *c);
/* c's login is abandoned (auth-timeout, or c closes): its check, or its wait for one, goes. */
void command_login_abandon(struct conn *c);
/* c is closing: abandon its login and take it off its source's counts. */
void command_conn_closed(struct conn *c);

#endif
