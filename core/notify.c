/*
 * core/notify.c: systemd readiness, spoken directly.
 *
 * The protocol of sd_notify(3) is one datagram of "KEY=VALUE" lines sent
 * to the unix socket named by $NOTIFY_SOCKET ('@' names an abstract
 * socket).  A few lines here spare every worker the libraries libsystemd
 * would pull in.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log_int.h"
#include "worker_int.h"


void
cairn__notify(const char *fmt, ...)
{
    struct sockaddr_un  sun;
    const char         *path;
    char                msg[512];
    va_list             ap;
    socklen_t           len;
    size_t              plen;
    int                 fd, n;

    path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0') {
        return;
    }

    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
        return;
    }

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= sizeof(msg)) {
        return;
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0';
    }
    len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + plen
                       + (path[0] == '@' ? 0 : 1));

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        cairn_log(NULL, CAIRN_LOG_WARN, errno, "sd_notify: socket() failed");
        return;
    }

    if (sendto(fd, msg, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &sun,
               len) < 0)
    {
        cairn_log(NULL, CAIRN_LOG_WARN, errno, "sd_notify: cannot send to "
                  "%s", path);
    }

    close(fd);
}
