/*
 * core/transport.c: how a connection's bytes move.  The plain transport
 * reads and writes the socket itself, and lets libevent write file
 * segments with sendfile(2).  A TLS transport would read and write
 * through its library instead (and copy file segments through memory);
 * the HTTP layer calls only these four functions (http_int.h).
 */

#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"


static ssize_t plain_recv(cairn_conn_t *c, void *buf, size_t len);
static int plain_send(cairn_conn_t *c, struct evbuffer *out);
static int plain_shutdown(cairn_conn_t *c);
static void plain_close(cairn_conn_t *c);


const cairn__transport_t  cairn__transport_plain = {
    "plain", plain_recv, plain_send, plain_shutdown, plain_close
};


static ssize_t
plain_recv(cairn_conn_t *c, void *buf, size_t len)
{
    return read(c->fd, buf, len);
}


static int
plain_send(cairn_conn_t *c, struct evbuffer *out)
{
    return evbuffer_write(out, c->fd);
}


static int
plain_shutdown(cairn_conn_t *c)
{
    return shutdown(c->fd, SHUT_WR);
}


static void
plain_close(cairn_conn_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}
