/* tcpclient.h: raw TCP and UDP clients and a tiny fake TCP server for system tests: exact
 * bytes out, lines in with deadlines, and how the peer ended (orderly close or reset). */
#ifndef HCS_TCPCLIENT_H
#define HCS_TCPCLIENT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Every wait below has a deadline (h_timeout_ms unless a time is given) and
 * keeps the harness's processes pumped, so none of them blocks on a full
 * pipe while the test waits on a socket. Connections, servers and UDP
 * sockets are kept on a list: tc_cleanup closes whatever is left.
 */

/* How the peer ended the connection, as far as the test has read. */
enum tc_end {
    TC_OPEN,  /* nothing seen yet */
    TC_EOF,   /* orderly close: read() returned 0 */
    TC_RESET, /* ECONNRESET: the peer's kernel answered with a reset */
    TC_ERROR, /* another read error (err holds errno) */
};

/* One TCP connection of the test. */
struct tconn {
    int fd;         /* -1 once closed */
    unsigned lport; /* local port (the peer's logs name it) */
    char *buf;      /* bytes received and not yet taken */
    size_t len, cap;
    size_t total;    /* bytes received in all */
    enum tc_end end; /* how the peer ended, once seen */
    int err;         /* errno when end is TC_ERROR */
    char *line;      /* the line tc_line returned last */
    size_t linecap;
};

/* A listening socket on 127.0.0.1 with a port the kernel chose. */
struct tserver {
    int fd;
    unsigned port;
};

/* Close and free every connection, server and UDP socket still open (cmocka teardown). */
void tc_cleanup(void);
/* The name of an ending, for messages. */
const char *tc_end_name(enum tc_end end);

/* Connect to 127.0.0.1:port; fails the test if that is impossible. */
#define tc_connect(port) tc_connect_at(__FILE__, __LINE__, (port), 0)
/* The same with SO_RCVBUF set to rcvbuf before connecting (a small window). */
#define tc_connect_rcvbuf(port, rcvbuf) tc_connect_at(__FILE__, __LINE__, (port), (rcvbuf))
struct tconn *tc_connect_at(const char *file, int line, unsigned port, int rcvbuf);

/* Send every byte (waiting while the socket's buffer is full); fails the test on error. */
#define tc_send(c, data, len) tc_send_at(__FILE__, __LINE__, (c), (data), (len))
void tc_send_at(const char *file, int line, struct tconn *c, const void *data, size_t len);
/* Send formatted text. */
#define tc_sendf(c, ...) tc_sendf_at(__FILE__, __LINE__, (c), __VA_ARGS__)
void tc_sendf_at(const char *file, int line, struct tconn *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Send what fits within ms; returns the bytes sent, or -1 with errno on an error. */
ssize_t tc_send_some(struct tconn *c, const void *data, size_t len, int ms);

/* Wait up to ms for bytes or the end and read what is there. Returns 1 if bytes came. */
int tc_recv(struct tconn *c, int ms);
/* Whether a complete line, or the end, is already there (reads without waiting). */
int tc_ready(struct tconn *c);
/* The next complete line without its "\n" within ms, or NULL (the end, or no line in time). */
const char *tc_line(struct tconn *c, int ms);

/* The next line must be exactly s (within h_timeout_ms). */
#define tc_expect(c, s) tc_expect_at(__FILE__, __LINE__, (c), (s))
void tc_expect_at(const char *file, int line, struct tconn *c, const char *s);
/* The next line must be exactly the formatted text. */
#define tc_expectf(c, ...) tc_expectf_at(__FILE__, __LINE__, (c), __VA_ARGS__)
void tc_expectf_at(const char *file, int line, struct tconn *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Nothing more comes: the peer closes in an orderly way within h_timeout_ms, and every
 * byte it sent has been taken. */
#define tc_expect_eof(c) tc_expect_eof_at(__FILE__, __LINE__, (c))
void tc_expect_eof_at(const char *file, int line, struct tconn *c);
/* Read and discard until the peer ends or ms pass; returns the ending (TC_OPEN: still
 * open) and adds the bytes discarded to *bytes if bytes is not NULL. */
enum tc_end tc_drain(struct tconn *c, int ms, size_t *bytes);

/* Shut down the sending side (the peer reads end of file). */
void tc_shutdown(struct tconn *c);
/* Close in an orderly way. */
void tc_close(struct tconn *c);
/* Close abortively (SO_LINGER 0): the kernel sends a reset. */
void tc_abort(struct tconn *c);

/* Listen on 127.0.0.1, port 0; fails the test if that is impossible. */
#define tc_listen() tc_listen_at(__FILE__, __LINE__)
struct tserver *tc_listen_at(const char *file, int line);
/* Accept one connection within h_timeout_ms; fails the test otherwise. */
#define tc_accept(s) tc_accept_at(__FILE__, __LINE__, (s))
struct tconn *tc_accept_at(const char *file, int line, struct tserver *s);

/* A UDP socket connected to 127.0.0.1:port; returns its descriptor. */
#define tc_udp(port) tc_udp_at(__FILE__, __LINE__, (port))
int tc_udp_at(const char *file, int line, unsigned port);
/* The local port of a socket. */
unsigned tc_udp_port(int fd);
/* Send one datagram; fails the test on error. */
#define tc_udp_send(fd, data, len) tc_udp_send_at(__FILE__, __LINE__, (fd), (data), (len))
void tc_udp_send_at(const char *file, int line, int fd, const void *data, size_t len);
/* One datagram within ms into buf (NUL-terminated, cut to cap - 1); its length, or -1. */
ssize_t tc_udp_recv(int fd, char *buf, size_t cap, int ms);
/* Send a datagram and return the reply as a string (kept until h_cleanup); fails the test
 * when no reply comes within h_timeout_ms. */
#define tc_udp_ask(fd, data, len) tc_udp_ask_at(__FILE__, __LINE__, (fd), (data), (len))
const char *tc_udp_ask_at(const char *file, int line, int fd, const void *data, size_t len);

#endif
