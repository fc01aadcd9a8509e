/* desk.h: the reception desk: staff see the whole schedule live and change it, over HTTP. */
#ifndef HCS_DESK_H
#define HCS_DESK_H

#include <stddef.h>
#include <stdint.h>

#include "center.h"

struct desk;
struct event_base;

/*
 * Start the desk of c's [desk] section on base: the staff file read (every
 * row a crypt(3) hash), evhttp listening on every address of listen, one
 * line on stderr naming the URL. NULL with err set on failure.
 */
struct desk *desk_new(struct center *c, struct event_base *base, char *err, size_t errlen);
/* Check the staff file of c's [desk] section (hcs --check): 0, or -1 with file:line. */
int desk_check(const struct center *c, char *err, size_t errlen);
/* The port the desk listens on. */
unsigned desk_port(const struct desk *d);
/* A change the desk asked for was committed, refused or could not be (center.c calls it). */
void desk_committed(struct desk *d, uint32_t index, enum center_commit r);
/* The schedule changed as a whole (a reload, a resync, a retired booking gone): every stream
 * gets a new snapshot. NULL is ignored. */
void desk_refresh(struct desk *d);
/* Close every stream and connection and free everything. NULL is ignored. */
void desk_free(struct desk *d);

#endif
