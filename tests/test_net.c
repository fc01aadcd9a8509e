/* test_net.c: unit tests of common/net.c (addresses as text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

/* IPv4 and IPv6 addresses print as text with their port. */
static void
test_addr_str(void **state)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr_storage ss;
    char host[64];
    unsigned port = 1;

    (void)state;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(21000);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    net_addr_str((struct sockaddr *)&sin, host, sizeof host, &port);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 21000);
    assert_int_equal(net_addr_port((struct sockaddr *)&sin), 21000);

    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(65535);
    sin6.sin6_addr = in6addr_loopback;
    net_addr_str((struct sockaddr *)&sin6, host, sizeof host, &port);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(net_addr_port((struct sockaddr *)&sin6), 65535);

    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    net_addr_str((struct sockaddr *)&ss, host, sizeof host, &port);
    assert_string_equal(host, "unknown");
    assert_int_equal(port, 0);
    assert_int_equal(net_addr_port((struct sockaddr *)&ss), 0);
}

/* net_bind_all binds every address of localhost on one port; nobody else can take it. */
static void
test_bind_all(void **state)
{
    struct sockaddr_in sin;
    char err[256], host[64];
    unsigned port = 0, p;
    int fds[8], n, i, other;

    (void)state;
    n = net_bind_all("localhost", 0, SOCK_STREAM, 16, fds, 8, err, sizeof err);
    if (n == -1)
        fail_msg("net_bind_all: %s", err);
    assert_true(n >= 1);
    for (i = 0; i < n; i++) {
        assert_int_equal(net_local_addr(fds[i], host, sizeof host, &p), 0);
        if (i == 0)
            port = p;
        assert_int_equal(p, port);
        assert_true(strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0);
    }
    /* Another socket cannot bind 127.0.0.1 on that port, and a client reaches the listener. */
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    other = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(other != -1);
    assert_int_equal(bind(other, (struct sockaddr *)&sin, sizeof sin), -1);
    assert_int_equal(errno, EADDRINUSE);
    close(other);
    other = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(other, (struct sockaddr *)&sin, sizeof sin), 0);
    close(other);
    for (i = 0; i < n; i++)
        close(fds[i]);
    /* A name without an address is refused with a reason. */
    assert_int_equal(
        net_bind_all("nosuchhost.invalid", 0, SOCK_STREAM, 16, fds, 8, err, sizeof err), -1);
    assert_non_null(strstr(err, "nosuchhost.invalid"));
}

/* A refused address makes net_connect_tcp try the next; the first that answers is used. */
static void
test_connect_refused(void **state)
{
    char err[256];
    int fds[8], n, fd;
    unsigned port;
    char host[64];

    (void)state;
    n = net_bind_all("127.0.0.1", 0, SOCK_STREAM, 16, fds, 8, err, sizeof err);
    assert_int_equal(n, 1);
    assert_int_equal(net_local_addr(fds[0], host, sizeof host, &port), 0);
    fd = net_connect_tcp("127.0.0.1", port, 2000, err, sizeof err);
    assert_true(fd != -1);
    close(fd);
    close(fds[0]);
    /* Nobody listens now: refused, with a reason naming the address. */
    assert_int_equal(net_connect_tcp("127.0.0.1", port, 2000, err, sizeof err), -1);
    assert_non_null(strstr(err, "Connection refused"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_str),
        cmocka_unit_test(test_bind_all),
        cmocka_unit_test(test_connect_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
