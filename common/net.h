/* net.h: socket set-up shared by the three programs (addresses, listen, connect). */
#ifndef HCS_NET_H
#define HCS_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Resolve host and port to the first address of the given socket type. */
int net_resolve(const char *host, unsigned port, int socktype, struct sockaddr_storage *ss,
                socklen_t *sslen, char *err, size_t errlen);
/*
 * Whether host can be an address to listen on: text of digits and dots must
 * be an IPv4 address, text with a ':' an IPv6 address, anything else a name
 * that resolves (when resolve is 0, names are not looked up). 0, or -1 with
 * the reason in err.
 */
int net_check_host(const char *host, int socktype, int resolve, char *err, size_t errlen);
/* A non-blocking, close-on-exec socket bound to host:port (TCP listening or UDP). */
int net_bind(const char *host, unsigned port, int socktype, int backlog, char *err, size_t errlen);
/*
 * Bind every IPv4 and IPv6 address host resolves to ("localhost": both
 * 127.0.0.1 and ::1 where /etc/hosts says so), so that nobody else can
 * take one of them on that port. Up to max sockets go to fds (an IPv6 one
 * takes IPv6 only); with port 0 they all share the port the kernel gave
 * the first. Returns how many, or -1 with err set (none is left open).
 */
int net_bind_all(const char *host, unsigned port, int socktype, int backlog, int *fds, int max,
                 char *err, size_t errlen);
/*
 * Connect a TCP socket to host:port within timeout_ms, trying the next
 * address of host only when nobody is at this one (connection refused, no
 * route, no such local address): a timeout or another error ends it.
 */
int net_connect_tcp(const char *host, unsigned port, unsigned timeout_ms, char *err, size_t errlen);
/* Make fd non-blocking. Returns 0 or -1. */
int net_nonblock(int fd);
/* The local (getsockname) address of fd, as text. */
int net_local_addr(int fd, char *host, size_t hostlen, unsigned *port);
/* Format the address and port of sa as text into host (at least 64 bytes). */
void net_addr_str(const struct sockaddr *sa, char *host, size_t hostlen, unsigned *port);
/* The port of sa (IPv4 or IPv6), or 0: a sender with port 0 cannot be answered. */
unsigned net_addr_port(const struct sockaddr *sa);

#endif
