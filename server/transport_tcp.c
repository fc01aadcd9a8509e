/* transport_tcp.c: a connection's bytes on a plain TCP socket. */
#include "conn.h"
#include "transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

/* Read from the socket. */
static ssize_t
transport_tcp_read(struct conn *c, void *buf, size_t len, short *want)
{
    *want = EV_READ;
    return read(c->fd, buf, len);
}

/* Write queued output to the socket. */
static ssize_t
transport_tcp_write(struct conn *c, struct evbuffer *out, short *want)
{
    *want = EV_WRITE;
    return evbuffer_write(out, c->fd);
}

/* Shut our sending side. */
static void
transport_tcp_shutdown(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
}

/* Close the socket. */
static void
transport_tcp_close(struct conn *c)
{
    close(c->fd);
}

const struct transport_ops transport_tcp_ops = {
    .name = "tcp",
    .read = transport_tcp_read,
    .write = transport_tcp_write,
    .shutdown = transport_tcp_shutdown,
    .close = transport_tcp_close,
};
