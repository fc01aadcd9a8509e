/* test_notify.c: unit tests of notify.c: $NOTIFY_SOCKET's address (a path or an abstract
 * name), and the datagram reaching a socket the test bound, as systemd's would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* A path ends with its NUL; an abstract name starts with one and has none at the end. */
static void
test_addr(void **state)
{
    struct sockaddr_un sun;
    socklen_t len;
    char longname[sizeof sun.sun_path + 1];

    (void)state;
    assert_int_equal(notify_addr("/run/systemd/notify", &sun, &len), 0);
    assert_int_equal(sun.sun_family, AF_UNIX);
    assert_string_equal(sun.sun_path, "/run/systemd/notify");
    assert_int_equal(len,
                     offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
    assert_int_equal(notify_addr("@hcs/x", &sun, &len), 0);
    assert_int_equal(sun.sun_path[0], '\0');
    assert_memory_equal(sun.sun_path + 1, "hcs/x", 5);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 6);
    assert_int_equal(notify_addr("relative/path", &sun, &len), -1);
    assert_int_equal(notify_addr("", &sun, &len), -1);
    assert_int_equal(notify_addr("@", &sun, &len), -1);
    assert_int_equal(notify_addr(NULL, &sun, &len), -1);
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(notify_addr(longname, &sun, &len), -1);
}

/* Bind a datagram socket at name (a path or "@abstract"); return it. */
static int
bind_notify(const char *name)
{
    struct sockaddr_un sun;
    socklen_t len;
    int fd;

    assert_int_equal(notify_addr(name, &sun, &len), 0);
    assert_true((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
    return fd;
}

/* The next datagram on fd must be want. */
static void
expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* The state reaches the socket $NOTIFY_SOCKET names, path or abstract; no variable, no send. */
static void
test_send(void **state)
{
    char dir[] = "/tmp/test_notify.XXXXXX", path[64], abstract[64];
    int fd;

    (void)state;
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    assert_int_equal(notify_send("READY=1"), 0);

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify", dir);
    fd = bind_notify(path);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
    assert_int_equal(notify_send("READY=1"), 1);
    expect_datagram(fd, "READY=1");
    close(fd);
    unlink(path);
    /* Nobody bound there any more: an error the caller can report. */
    assert_int_equal(notify_send("STOPPING=1"), -1);
    rmdir(dir);

    snprintf(abstract, sizeof abstract, "@hcs-test-notify-%ld", (long)getpid());
    fd = bind_notify(abstract);
    assert_int_equal(setenv("NOTIFY_SOCKET", abstract, 1), 0);
    assert_int_equal(notify_send("RELOADING=1"), 1);
    assert_int_equal(notify_send("READY=1"), 1);
    expect_datagram(fd, "RELOADING=1");
    expect_datagram(fd, "READY=1");
    close(fd);

    assert_int_equal(setenv("NOTIFY_SOCKET", "not-absolute", 1), 0);
    assert_int_equal(notify_send("READY=1"), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
}

/*
 * A service manager that does not read: once its queue is full the state
 * is dropped with EAGAIN, never waited for (the loop would stop). alarm
 * ends the test if a send blocks.
 */
static void
test_send_never_waits(void **state)
{
    char abstract[64];
    int fd, i, rc = 1;

    (void)state;
    snprintf(abstract, sizeof abstract, "@hcs-test-notify-full-%ld", (long)getpid());
    fd = bind_notify(abstract);
    assert_int_equal(setenv("NOTIFY_SOCKET", abstract, 1), 0);
    alarm(20);
    for (i = 0; i < 100000 && rc == 1; i++)
        rc = notify_send("WATCHDOG=1");
    alarm(0);
    assert_int_equal(rc, -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_never_waits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
