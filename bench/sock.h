/* sock.h: the transport of the TCP engine: non-blocking sockets on one epoll set, requests
 * queued and written, replies split into lines for tcp_line. */
#ifndef HCS_BENCH_SOCK_H
#define HCS_BENCH_SOCK_H

#include <stdint.h>

#include "tcp.h"

/* Start a non-blocking connect. Returns 0 or -1. */
int sock_open(struct tcp *t, struct tcp_conn *c);
/* Close the socket; the connection can be opened again. */
void sock_close(struct tcp *t, struct tcp_conn *c);
/* Watch the socket for reading, or for writing too (op: EPOLL_CTL_ADD or _MOD). */
void sock_watch(struct tcp *t, struct tcp_conn *c, int op, uint32_t events);
/* Queue a request and write it; what does not go waits for write readiness. */
void sock_send(struct tcp *t, struct tcp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Run the event loop until t->stop: events to the connections, tcp_tick between. */
void sock_loop(struct tcp *t);

#endif
