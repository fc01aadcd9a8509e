/* tlsc.h: the client side of TLS for hcs-bench's TCP engine (--tls): OpenSSL on the
 * engine's non-blocking sockets; each connection keeps its last session to resume. */
#ifndef HCS_BENCH_TLSC_H
#define HCS_BENCH_TLSC_H

#include <stddef.h>
#include <sys/types.h>

#include "bench.h"

struct tcp_conn;

/* The client context: TLS 1.2 and 1.3, no verification (a benchmark, loopback only). */
int tlsc_init(const struct bench_opts *o);
/* Free the context. */
void tlsc_free(void);
/* Free the session c kept (at the end of the run). */
void tlsc_forget(struct tcp_conn *c);
/* Start the handshake on c's connected socket (with its last session if --tls-resume). */
int tlsc_start(struct tcp_conn *c);
/* Go on with it: 1 done, 0 wait (*wants_write: for writability), -1 failed. */
int tlsc_handshake(struct tcp_conn *c, int *wants_write);
/* Whether c's handshake resumed a session. */
int tlsc_resumed(const struct tcp_conn *c);
/* Read decrypted bytes: as read(2), -1 with EAGAIN when nothing is there. */
ssize_t tlsc_read(struct tcp_conn *c, void *buf, size_t len);
/* Write: as send(2), -1 with EAGAIN when it must wait (call again with the same bytes). */
ssize_t tlsc_write(struct tcp_conn *c, const void *buf, size_t len);
/* Free c's SSL (without close_notify: the socket is closed next). */
void tlsc_close(struct tcp_conn *c);
/* OpenSSL's reason for the last error, for a report line. */
const char *tlsc_error(void);

#endif
