/* addr.h: the target address (loopback only unless allowed), free ports, waiting for a port. */
#ifndef HCS_BENCH_ADDR_H
#define HCS_BENCH_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Resolve host and port into ss; refuse a non-loopback address unless allow_remote. */
int addr_resolve(const char *host, unsigned port, int allow_remote, struct sockaddr_storage *ss,
                 socklen_t *len, char *err, size_t errlen);
/* Print a loopback port free for both TCP and UDP. Returns the exit status. */
int addr_freeport(void);
/* Wait until host:port accepts a TCP connection, at most secs seconds. Returns the status. */
int addr_ping(const struct sockaddr_storage *ss, socklen_t len, double secs);

#endif
