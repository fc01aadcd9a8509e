/* notify.c: the sd_notify(3) protocol by hand: a datagram to the socket $NOTIFY_SOCKET. */
#include "notify.h"
#include "log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The address of a $NOTIFY_SOCKET value (see notify.h). */
int
notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n < 2 || (name[0] != '/' && name[0] != '@') || n >= sizeof sun->sun_path)
        return -1;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, name, n);
    if (name[0] == '@') {
        sun->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

/* Send state to $NOTIFY_SOCKET (see notify.h). */
int
notify_send(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t len;
    ssize_t n;
    int fd, saved;

    if (name == NULL || *name == '\0')
        return 0;
    if (notify_addr(name, &sun, &len) == -1) {
        errno = EINVAL;
        return -1;
    }
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    /* Never wait for a service manager that does not read: the state is dropped instead. */
    n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sun, len);
    saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(state) ? 1 : -1;
}

/* Send state, warning when it cannot be sent. */
void
notify_tell(const char *state)
{
    if (notify_send(state) == -1)
        log_warn("cannot tell the service manager %s (NOTIFY_SOCKET)", state);
}
