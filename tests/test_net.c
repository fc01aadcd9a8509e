/* test_net.c: unit tests of common/net.c (addresses as text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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

    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(65535);
    sin6.sin6_addr = in6addr_loopback;
    net_addr_str((struct sockaddr *)&sin6, host, sizeof host, &port);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);

    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    net_addr_str((struct sockaddr *)&ss, host, sizeof host, &port);
    assert_string_equal(host, "unknown");
    assert_int_equal(port, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
