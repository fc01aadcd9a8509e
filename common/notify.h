/* notify.h: readiness for a service manager, the sd_notify(3) protocol written by hand: one
 * datagram ("READY=1", "RELOADING=1", "STOPPING=1") to the unix socket $NOTIFY_SOCKET. */
#ifndef HCS_NOTIFY_H
#define HCS_NOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

/*
 * Send state (newline-separated VAR=value lines) to $NOTIFY_SOCKET. Returns 1
 * when sent, 0 when the variable is not set (not run by a service manager),
 * -1 on error (errno set; the caller may log it and go on).
 */
int notify_send(const char *state);
/* notify_send, with a failure logged as a warning (the program goes on). */
void notify_tell(const char *state);
/*
 * The address of name: a path ("/run/systemd/notify") or, starting with '@',
 * an abstract socket name. Returns 0 and sets *len, or -1 for a name that is
 * empty, relative or too long.
 */
int notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len);

#endif
