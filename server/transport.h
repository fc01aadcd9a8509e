/* transport.h: how a connection moves bytes: plain TCP today, TLS as another table. */
#ifndef HCS_TRANSPORT_H
#define HCS_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct conn;
struct evbuffer;

/*
 * The operations conn.c calls instead of read, write, shutdown and close
 * on the socket (redis's ConnectionType, memcached's c->read/c->sendmsg).
 * A call that cannot go on now returns -1 with errno EAGAIN and sets *want
 * to what it waits for, EV_READ or EV_WRITE: a TLS read may need the
 * socket to be writable, and a TLS write readable. Every operation runs on
 * the loop and never blocks.
 */
struct transport_ops {
    const char *name;
    /* The transport's own opening (a TLS handshake): 1 done, 0 call again when *want
     * is ready, -1 failed. NULL: nothing to do. */
    int (*handshake)(struct conn *, short *want);
    /* Read up to len bytes: the count, 0 at end of file, or -1 with errno. */
    ssize_t (*read)(struct conn *, void *buf, size_t len, short *want);
    /* Write from out, draining what was written: the count, or -1 with errno. */
    ssize_t (*write)(struct conn *, struct evbuffer *out, short *want);
    /* Bytes received and held by the transport, to be read before waiting again
     * (TLS records already decrypted). NULL: never any. */
    size_t (*pending)(struct conn *);
    /* We will send nothing more (the last reply is written). */
    void (*shutdown)(struct conn *);
    /* Free the transport's state and close the socket. */
    void (*close)(struct conn *);
};

/* Plain TCP on the connection's socket. */
extern const struct transport_ops transport_tcp_ops;
/* TLS on the connection's socket, with the center's current context (tls.h). */
extern const struct transport_ops transport_tls_ops;

#endif
