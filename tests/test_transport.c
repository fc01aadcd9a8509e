/*
 * test_transport.c: the transport seam of a connection (server/transport.h), driven through a
 * made-up transport on a socketpair and a real event loop: an opening that needs several
 * calls and a write, reads that hand out a few bytes at a time and keep the rest pending, and
 * reads that want the socket writable, as TLS does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "center.h"
#include "conn.h"
#include "transport.h"

#define MOCK_CHUNK 5 /* bytes a read hands out at most; the rest stays pending */

/* The made-up transport's state (one connection at a time) and what it saw. */
static struct mock {
    char hello[8];
    size_t hellolen;
    int said_ok;
    char buf[4096]; /* read from the socket, not yet handed out */
    size_t off, len;
    int reads;
    int handshakes, handshake_wanted_write, read_wanted_write, pending_seen, shutdowns;
} mock;

/* The opening: read "HI\n" from the peer, then answer "OK\n" (the first try wants to write). */
static int
mock_handshake(struct conn *c, short *want)
{
    ssize_t n;

    mock.handshakes++;
    while (mock.hellolen < 3) {
        n = read(c->fd, mock.hello + mock.hellolen, 3 - mock.hellolen);
        if (n <= 0) {
            if (n == -1 && errno == EAGAIN) {
                *want = EV_READ;
                return 0;
            }
            return -1;
        }
        mock.hellolen += (size_t)n;
    }
    if (memcmp(mock.hello, "HI\n", 3) != 0)
        return -1;
    if (!mock.handshake_wanted_write) {
        mock.handshake_wanted_write = 1;
        *want = EV_WRITE;
        return 0;
    }
    if (!mock.said_ok && write(c->fd, "OK\n", 3) != 3)
        return -1;
    mock.said_ok = 1;
    return 1;
}

/* Hand out at most MOCK_CHUNK bytes; every third call first wants the socket writable. */
static ssize_t
mock_read(struct conn *c, void *buf, size_t len, short *want)
{
    ssize_t n;

    if (++mock.reads % 3 == 0) {
        mock.read_wanted_write++;
        *want = EV_WRITE;
        errno = EAGAIN;
        return -1;
    }
    if (mock.off == mock.len) {
        mock.off = mock.len = 0;
        n = read(c->fd, mock.buf, sizeof mock.buf);
        if (n <= 0) {
            *want = EV_READ;
            return n;
        }
        mock.len = (size_t)n;
    }
    n = (ssize_t)(mock.len - mock.off < MOCK_CHUNK ? mock.len - mock.off : MOCK_CHUNK);
    if ((size_t)n > len)
        n = (ssize_t)len;
    memcpy(buf, mock.buf + mock.off, (size_t)n);
    mock.off += (size_t)n;
    return n;
}

/* Bytes read from the socket and not yet handed out. */
static size_t
mock_pending(struct conn *c)
{
    (void)c;
    if (mock.len > mock.off)
        mock.pending_seen++;
    return mock.len - mock.off;
}

/* Write queued output to the socket. */
static ssize_t
mock_write(struct conn *c, struct evbuffer *out, short *want)
{
    *want = EV_WRITE;
    return evbuffer_write(out, c->fd);
}

/* Shut the sending side. */
static void
mock_shutdown(struct conn *c)
{
    mock.shutdowns++;
    shutdown(c->fd, SHUT_WR);
}

/* Close the socket. */
static void
mock_close(struct conn *c)
{
    close(c->fd);
}

static const struct transport_ops mock_ops = {
    .name = "mock",
    .handshake = mock_handshake,
    .read = mock_read,
    .write = mock_write,
    .pending = mock_pending,
    .shutdown = mock_shutdown,
    .close = mock_close,
};

static const char conf[] = "[center]\nusers = users.txt\navailabilities = availabilities.txt\n";
static const char users[] = "alice pw1\nbob pw2\n";
static const char slots[] = "10 Mon 09am docA 41001\n2 Tue 10am docB 41002\n";

/* A center with a loop but no listener; the peer's end of a socketpair in *peer. */
struct world {
    struct center center;
    struct event_base *base;
    int peer;
    struct conn *conn;
};

/* Set up the world: a center on a loop, and one connection on the made-up transport. */
static int
setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    char err[256];
    int sv[2];

    assert_non_null(w);
    memset(&mock, 0, sizeof mock);
    if (center_init_text(&w->center, conf, users, slots, CENTER_QUIET, err, sizeof err) == -1)
        fail_msg("center_init_text: %s", err);
    assert_non_null(w->base = event_base_new());
    w->center.base = w->base;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    w->peer = sv[1];
    assert_non_null(w->conn = conn_new(&w->center, sv[0], NULL, &mock_ops));
    *state = w;
    return 0;
}

/* Free the center (and its connections), then the loop. */
static int
teardown(void **state)
{
    struct world *w = *state;

    center_free(&w->center);
    event_base_free(w->base);
    if (w->peer != -1)
        close(w->peer);
    free(w);
    return 0;
}

/* Run the loop until the peer has read want exactly, or fail after 5 s. */
static void
expect_peer(struct world *w, const char *want)
{
    struct timeval tick = {0, 10000};
    struct timespec start, now;
    char got[1024];
    size_t len = 0, wl = strlen(want);
    ssize_t n;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len < wl) {
        event_base_loopexit(w->base, &tick);
        event_base_loop(w->base, EVLOOP_ONCE);
        while ((n = recv(w->peer, got + len, sizeof got - 1 - len, MSG_DONTWAIT)) > 0)
            len += (size_t)n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5) {
            got[len] = '\0';
            fail_msg("the peer read \"%s\", not \"%s\", within 5 s", got, want);
        }
    }
    got[len] = '\0';
    assert_string_equal(got, want);
}

/*
 * The whole session goes through the transport: its opening (which wanted
 * to write once) comes first, lines sent with it are read once it is done,
 * bytes the transport holds are handled before waiting again (the peer
 * sends nothing more), and a read that wanted the socket writable is tried
 * again once it is.
 */
static void
test_session_through_transport(void **state)
{
    struct world *w = *state;
    static const char input[] = "HI\nauthenticate alice pw1\navailable\nappointment\n";

    assert_int_equal(write(w->peer, input, sizeof input - 1), (ssize_t)(sizeof input - 1));
    expect_peer(w, "OK\nsuccess\nslots 2\n10 Mon 09am\n2 Tue 10am\nappointment none\n");
    assert_true(mock.handshakes >= 2);
    assert_int_equal(mock.handshake_wanted_write, 1);
    assert_true(mock.read_wanted_write >= 1);
    assert_true(mock.pending_seen >= 1);
    assert_int_equal(w->conn->state, CONN_READY);
}

/* Nothing is read as a line before the opening is done; a bad opening closes. */
static void
test_bad_opening_closes(void **state)
{
    struct world *w = *state;
    struct timeval tick = {0, 10000};
    char buf[16];
    ssize_t n;
    int i;

    assert_int_equal(write(w->peer, "NO\nauthenticate alice pw1\n", 26), 26);
    for (i = 0; i < 50 && !w->conn->lost; i++) {
        event_base_loopexit(w->base, &tick);
        event_base_loop(w->base, EVLOOP_ONCE);
    }
    assert_true(w->conn->lost);
    /* No reply: end of file, or a reset since the center left input unread. */
    n = recv(w->peer, buf, sizeof buf, MSG_DONTWAIT);
    assert_true(n == 0 || (n == -1 && errno == ECONNRESET));
    assert_int_equal(w->center.stats.logins_ok, 0);
}

/* A closing error is written through the transport, which is then shut. */
static void
test_error_then_shutdown(void **state)
{
    struct world *w = *state;
    static const char input[] = "HI\n\x01\n";

    assert_int_equal(write(w->peer, input, sizeof input - 1), (ssize_t)(sizeof input - 1));
    expect_peer(w, "OK\nerror bad-line\n");
    assert_int_equal(mock.shutdowns, 1);
    assert_int_equal(w->conn->state, CONN_LINGER);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_through_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_opening_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_then_shutdown, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
