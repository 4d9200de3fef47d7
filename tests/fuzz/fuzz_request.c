/*
 * tests/fuzz/fuzz_request.c: the request path, from bytes to the answer:
 * a connection of the real HTTP/1.1 layer (core/http.c, llhttp) and the
 * real pipeline (core/pipeline.c, filter.c), with mod_static serving a
 * small document root, mod_auth asking for Basic credentials checked
 * against a password file, and fuzzapi, a handler of /api/ that reads
 * the body and answers JSON.  No socket: the connection is opened with
 * cairn__conn_open() over a transport of this file, which hands out the
 * input's bytes and drops what is written, on a worker that is only its
 * event loop and task pool.
 *
 * Input: a script, then the bytes the client sends.  The first byte is
 * the script's length (up to 63 steps); each step is one byte, kind in
 * the top 3 bits and an argument in the low 5:
 *
 *   0 DATA n      n bytes more become readable (the sizes of chunk_len)
 *   1 ALL         everything left becomes readable
 *   2 LOOP        one turn of the event loop, after the tasks running
 *                 (password checks) are done
 *   3 EOF         the client closes: recv() gives 0 once the bytes
 *                 readable are read
 *   4 RESET       the same with -1 and ECONNRESET
 *   5 WINDOW n    send() takes n * 37 bytes more, then EAGAIN (0: none)
 *   6 WRITABLE    send() takes everything again
 *   7 TIMEOUT     the connection's deadline passes (its timer fires)
 *
 * The transport behaves as a socket under a level-triggered loop: after
 * every step the read event fires while the connection reads and
 * something is readable, and the write event while it writes and
 * send() has room.  After the script everything left is readable, send()
 * takes everything, and the connection is closed unless it is already
 * gone; the loop then runs until it is freed, so each input leaves
 * nothing behind.  With FUZZ_TRACE set in the environment, what the
 * server sends is copied to standard error.
 */

#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "fuzz.h"

#include "arena_int.h"
#include "conf_int.h"
#include "http_int.h"
#include "worker_int.h"

extern cairn_module_t  mod_static_module;
extern cairn_module_t  mod_auth_module;

enum {
    STEP_DATA = 0, STEP_ALL, STEP_LOOP, STEP_EOF, STEP_RESET, STEP_WINDOW,
    STEP_WRITABLE, STEP_TIMEOUT
};

static const size_t  chunk_len[32] = {
    1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17, 24, 31, 32, 33, 48,
    63, 64, 65, 100, 127, 128, 200, 255, 256, 500, 512, 1000, 1024, 2048,
    4096, 8192
};

/* The client's side of the one connection. */
static struct {
    const uint8_t   *data;          /* what the client sends */
    size_t           size;
    size_t           pos;           /* read by the server */
    size_t           readable;      /* end of what it may read now */
    int              end;           /* 0, or EOF / RESET after the data */
    size_t           window;        /* what send() still takes */
    int              closed;        /* the transport was closed */
    cairn_conn_t    *conn;          /* valid while !closed */
} fz;

static int               fuzz_trace;
static char              fuzz_root[64];
static cairn_server_t   *fuzz_s;
static cairn__worker_t  *fuzz_w;

#define FUZZ_UNLIMITED  ((size_t) -1)


/* ------------------------------------------------------------------ */
/* The transport                                                      */
/* ------------------------------------------------------------------ */

static ssize_t
fuzz_recv(cairn_conn_t *c, void *buf, size_t len)
{
    size_t  n = fz.readable - fz.pos;

    if (n == 0) {
        if (fz.end == STEP_EOF && fz.pos == fz.size) {
            return 0;
        }
        if (fz.end == STEP_RESET && fz.pos == fz.size) {
            errno = ECONNRESET;
            return -1;
        }
        errno = EAGAIN;
        return -1;
    }
    if (n > len) {
        n = len;
    }
    memcpy(buf, fz.data + fz.pos, n);
    fz.pos += n;

    return (ssize_t) n;
}


/* FUZZ_TRACE=1: what the server writes goes to standard error. */
static void
fuzz_trace_out(struct evbuffer *out, size_t n)
{
    char     *buf = malloc(n);
    ssize_t   got;

    if (buf == NULL) {
        return;
    }
    got = evbuffer_copyout(out, buf, n);
    if (got > 0) {
        fwrite(buf, 1, (size_t) got, stderr);
    }
    if (got < 0 || (size_t) got < n) {
        fprintf(stderr, "[%zu bytes of a file]", n - (got > 0 ? (size_t) got
                                                               : 0));
    }
    fprintf(stderr, "\n--- %zu bytes sent\n", n);
    free(buf);
}


/* Drops what the window takes, memory and file segments alike. */
static int
fuzz_send(cairn_conn_t *c, struct evbuffer *out)
{
    size_t  n = evbuffer_get_length(out);

    if (fz.window == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (n > fz.window) {
        n = fz.window;
    }
    if (fz.window != FUZZ_UNLIMITED) {
        fz.window -= n;
    }
    if (fuzz_trace) {
        fuzz_trace_out(out, n);
    }
    if (evbuffer_drain(out, n) != 0) {
        errno = EIO;
        return -1;
    }

    return (int) n;
}


static int
fuzz_shutdown(cairn_conn_t *c)
{
    return 0;
}


static void
fuzz_close(cairn_conn_t *c)
{
    fz.closed = 1;
    fz.conn = NULL;
}


static const cairn__transport_t  fuzz_transport = {
    "fuzz", fuzz_recv, fuzz_send, fuzz_shutdown, fuzz_close
};


/* ------------------------------------------------------------------ */
/* fuzzapi: a REST-like handler of /api/                              */
/* ------------------------------------------------------------------ */

static int fuzzapi_handler(cairn_request_t *r);

static const cairn_hook_decl_t  fuzzapi_hooks[] = {
    CAIRN_HOOK_HANDLER(fuzzapi_handler, CAIRN_ORDER_FIRST),
    CAIRN_HOOK_END
};

static cairn_module_t  fuzzapi_module = {
    CAIRN_MODULE_HEADER,
    .name           = "fuzzapi",
    .version        = "1.0.0",
    .hooks          = fuzzapi_hooks,
};


static int
fuzzapi_json(cairn_request_t *r, int status, json_t *v)
{
    char    *text, *copy;
    size_t   len;
    int      rc;

    text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (text == NULL) {
        return 500;
    }
    /* The body must live until the headers go: in the request arena. */
    len = strlen(text);
    copy = cairn_arena_strdup(cairn_request_arena(r), text);
    free(text);
    rc = cairn_respond(r, status, "application/json", copy, len);

    return rc;
}


/* /api/later: answered from a timer, after the handler suspended. */
static void
fuzzapi_later(cairn_request_t *r, void *data)
{
    cairn_request_resume(r, fuzzapi_json(r, 200, json_pack("{s:s}", "later",
                                                          "yes")));
}


static void
fuzzapi_cancel(cairn_request_t *r, void *data)
{
}


static int
fuzzapi_handler(cairn_request_t *r)
{
    const char    *path = cairn_request_path(r), *body;
    const char    *user = cairn_request_user(r);
    json_error_t   jerr;
    json_t        *doc;
    size_t         len, i;

    if (strncmp(path, "/api/", 5) != 0) {
        return CAIRN_DECLINED;
    }

    body = cairn_request_body(r, &len);

    if (strcmp(path, "/api/later") == 0) {
        cairn_request_on_cancel(r, fuzzapi_cancel, NULL);
        cairn_timer_add(r, 0, fuzzapi_later, NULL);
        return CAIRN_SUSPENDED;
    }

    if (strcmp(path, "/api/stream") == 0) {
        /* The body back in pieces of 5 bytes, then the end. */
        if (cairn_response_stream_start(r, 200) != CAIRN_OK) {
            return CAIRN_SUSPENDED;
        }
        for (i = 0; body != NULL && i < len; i += 5) {
            if (cairn_response_stream_write(r, body + i,
                                            len - i < 5 ? len - i : 5)
                != CAIRN_OK)
            {
                break;
            }
        }
        cairn_response_stream_end(r);
        return CAIRN_SUSPENDED;
    }

    if (cairn_request_method(r) == CAIRN_METHOD_GET
        || cairn_request_method(r) == CAIRN_METHOD_HEAD)
    {
        return fuzzapi_json(r, 200, json_pack("{s:s,s:s?,s:[]}", "path",
                                              path, "user", user, "items"));
    }

    doc = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES,
                     &jerr);
    if (doc == NULL) {
        return fuzzapi_json(r, 400, json_pack("{s:s,s:i}", "error",
                                              jerr.text, "column",
                                              jerr.column));
    }

    return fuzzapi_json(r, 201, json_pack("{s:o,s:I}", "created", doc,
                                          "bytes", (json_int_t) len));
}


/* ------------------------------------------------------------------ */
/* The server                                                         */
/* ------------------------------------------------------------------ */

static void
fuzz_file(const char *name, const char *text)
{
    char   path[128];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", fuzz_root, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        abort();
    }
}


static void
fuzz_mkdir(const char *name)
{
    char  path[128];

    snprintf(path, sizeof(path), "%s/%s", fuzz_root, name);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        abort();
    }
}


static void
fuzz_cleanup(void)
{
    static const char *const  files[] = {
        "htdocs/sub/index.html", "htdocs/sub/data.json", "htdocs/a.txt",
        "htdocs/index.html", "htdocs/private/secret.txt", "users"
    };
    static const char *const  dirs[] = {
        "htdocs/sub", "htdocs/private", "htdocs", ""
    };
    char                      path[128];
    size_t                    i;

    cairn__server_hooks_run(fuzz_s, CAIRN_SERVER_WORKER_EXIT);
    cairn__taskpool_destroy(fuzz_w->tasks);
    event_base_free(fuzz_w->base);
    cairn__worker_current = NULL;
    cairn__server_current = NULL;
    free(fuzz_w);
    cairn__server_destroy(fuzz_s);

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_root, files[i]);
        unlink(path);
    }
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_root, dirs[i]);
        rmdir(path);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char          *tmp = getenv("TMPDIR"), *err;
    struct crypt_data   *cd;
    struct event_config *cfg;
    char                 conf[2048], users[256];
    const char          *hash;

    snprintf(fuzz_root, sizeof(fuzz_root), "%s/cairn-fuzz-XXXXXX",
             tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(fuzz_root) == NULL) {
        perror("mkdtemp");
        abort();
    }
    fuzz_mkdir("htdocs");
    fuzz_mkdir("htdocs/sub");
    fuzz_mkdir("htdocs/private");
    fuzz_file("htdocs/index.html", "<!DOCTYPE html>\n<h1>cairn</h1>\n");
    fuzz_file("htdocs/a.txt", "0123456789abcdefghijklmnopqrstuvwxyz"
              "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\n");
    fuzz_file("htdocs/sub/index.html", "<p>sub</p>\n");
    fuzz_file("htdocs/sub/data.json", "{\"a\": [1, 2, 3]}\n");
    fuzz_file("htdocs/private/secret.txt", "secret\n");

    /* alice:secret and bob:hunter2, sha-crypt with the fewest rounds. */
    cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        abort();
    }
    hash = crypt_r("secret", "$5$rounds=1000$cairnfuzz$", cd);
    snprintf(users, sizeof(users), "alice:%s\n", hash);
    hash = crypt_r("hunter2", "$5$rounds=1000$cairnfuzz2$", cd);
    snprintf(users + strlen(users), sizeof(users) - strlen(users),
             "bob:%s\n", hash);
    free(cd);
    fuzz_file("users", users);

    snprintf(conf, sizeof(conf),
             "LogLevel emerg\n"
             "DocumentRoot %s/htdocs\n"
             "LimitRequestBody 4096\n"
             "LingeringTimeout 1s\n"
             "<Location /private>\n"
             "    AuthType Basic\n"
             "    AuthName fuzz\n"
             "    AuthUserFile %s/users\n"
             "    Require valid-user\n"
             "</Location>\n"
             "<Location /api/private>\n"
             "    AuthType Basic\n"
             "    AuthName api\n"
             "    AuthUserFile %s/users\n"
             "    <RequireAny>\n"
             "        Require user alice\n"
             "        Require ip 203.0.113.0/24\n"
             "    </RequireAny>\n"
             "</Location>\n",
             fuzz_root, fuzz_root, fuzz_root);

    /* Named by LoadModule when loaded from a file. */
    mod_static_module.name = "static";
    mod_auth_module.name = "auth";

    fuzz_s = cairn__server_create("/nonexistent/cairn-fuzz/cairn.conf",
                                  NULL, 0);
    cairn__server_building = fuzz_s;
    err = cairn__module_add_static(fuzz_s, &mod_static_module);
    if (err == NULL) {
        err = cairn__module_add_static(fuzz_s, &mod_auth_module);
    }
    if (err == NULL) {
        err = cairn__module_add_static(fuzz_s, &fuzzapi_module);
    }
    cairn__server_building = NULL;
    if (err != NULL) {
        fprintf(stderr, "add_static: %s\n", err);
        abort();
    }
    if (cairn__conf_parse_string(fuzz_s, "fuzz.conf", conf) != 0
        || cairn__conf_finalize(fuzz_s) != 0)
    {
        cairn__conf_print_errors(fuzz_s, stderr);
        abort();
    }

    /* A worker: its loop (one thread owns it, as in worker.c), its task
     * pool, and no listener. */
    fuzz_w = calloc(1, sizeof(*fuzz_w));
    if (fuzz_w == NULL) {
        abort();
    }
    cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    fuzz_w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    fuzz_w->server = fuzz_s;
    fuzz_w->max_conns = 16;
    fuzz_w->accepting = 1;
    fuzz_w->id_seed = 0x5eed;
    cairn__worker_current = fuzz_w;
    cairn__server_current = fuzz_s;
    cairn__time_update();
    fuzz_w->tasks = cairn__taskpool_create(fuzz_w->base, 1);
    if (fuzz_w->base == NULL || fuzz_w->tasks == NULL
        || cairn__server_hooks_run(fuzz_s, CAIRN_SERVER_WORKER_INIT)
           != CAIRN_OK)
    {
        abort();
    }

    atexit(fuzz_cleanup);

    fuzz_trace = getenv("FUZZ_TRACE") != NULL;

    return 0;
}


/* ------------------------------------------------------------------ */
/* Driving the connection                                             */
/* ------------------------------------------------------------------ */

/* One turn of the loop, after the tasks of the request are done. */
static void
fuzz_loop(void)
{
    unsigned  i;

    for (i = 0; i < 100 && !fz.closed && fz.conn->req != NULL
                && fz.conn->req->pending_tasks > 0; i++)
    {
        event_base_loop(fuzz_w->base, EVLOOP_ONCE);
    }
    event_base_loop(fuzz_w->base, EVLOOP_NONBLOCK);
}


/* The events a socket would raise now: read while something is
 * readable (or its end is), write while send() has room. */
static void
fuzz_pump(void)
{
    unsigned  i;
    int       fired;

    for (i = 0; i < 64 && !fz.closed; i++) {
        fired = 0;
        if (fz.conn->reading
            && (fz.readable > fz.pos || (fz.end && fz.pos == fz.size)))
        {
            event_active(fz.conn->ev_read, EV_READ, 1);
            fired = 1;
        }
        if (!fz.closed && fz.conn->writing && fz.window > 0) {
            event_active(fz.conn->ev_write, EV_WRITE, 1);
            fired = 1;
        }
        if (!fired) {
            return;
        }
        event_base_loop(fuzz_w->base, EVLOOP_NONBLOCK);
    }
}


static void
fuzz_step(uint8_t step)
{
    unsigned  arg = step & 31;
    size_t    n;

    switch (step >> 5) {
    case STEP_DATA:
        n = chunk_len[arg];
        fz.readable = fz.size - fz.readable < n ? fz.size
                                                : fz.readable + n;
        break;
    case STEP_ALL:
        fz.readable = fz.size;
        break;
    case STEP_LOOP:
        fuzz_loop();
        break;
    case STEP_EOF:
        fz.end = STEP_EOF;
        break;
    case STEP_RESET:
        fz.end = STEP_RESET;
        break;
    case STEP_WINDOW:
        fz.window = (size_t) arg * 37;
        break;
    case STEP_WRITABLE:
        fz.window = FUZZ_UNLIMITED;
        break;
    case STEP_TIMEOUT:
        if (fz.conn->deadline_us != 0) {
            fz.conn->deadline_us = cairn_now_us();
            event_active(fz.conn->ev_timer, EV_TIMEOUT, 1);
            event_base_loop(fuzz_w->base, EVLOOP_NONBLOCK);
        }
        break;
    }

    if (!fz.closed) {
        fuzz_pump();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in  sin;
    size_t              nsteps, i;
    unsigned            turns;

    if (size == 0) {
        return 0;
    }
    nsteps = data[0] & 63;
    if (nsteps > size - 1) {
        nsteps = size - 1;
    }

    memset(&fz, 0, sizeof(fz));
    fz.data = data + 1 + nsteps;
    fz.size = size - 1 - nsteps;
    fz.window = FUZZ_UNLIMITED;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(40000);
    sin.sin_addr.s_addr = htonl(0xc0000207);    /* 192.0.2.7 */

    cairn__time_update();
    fz.conn = cairn__conn_open(fuzz_w, &fuzz_transport, -1,
                               (struct sockaddr *) &sin, sizeof(sin), 0);
    if (fz.conn == NULL) {
        abort();
    }

    for (i = 0; i < nsteps && !fz.closed; i++) {
        fuzz_step(data[1 + i]);
    }

    /* The rest of the input, and room for every answer. */
    if (!fz.closed) {
        fuzz_step(STEP_ALL << 5);
    }
    if (!fz.closed) {
        fuzz_step(STEP_WRITABLE << 5);
    }
    if (!fz.closed) {
        fuzz_step(STEP_LOOP << 5);
    }

    if (!fz.closed) {
        cairn__conn_enter(fz.conn);
        cairn__conn_close(fz.conn);
        if (!fz.closed) {
            cairn__conn_leave(fz.conn);
        }
    }

    /* A request waiting for a task keeps its connection until then. */
    for (turns = 0; !fz.closed && turns < 1000; turns++) {
        event_base_loop(fuzz_w->base, EVLOOP_ONCE);
    }
    if (!fz.closed) {
        fprintf(stderr, "the connection was never freed\n");
        abort();
    }
    if (fuzz_w->nconns != 0 || fuzz_w->conns != NULL) {
        fprintf(stderr, "the worker still lists a connection\n");
        abort();
    }

    /* Timers of requests that are gone must be gone too. */
    event_base_loop(fuzz_w->base, EVLOOP_NONBLOCK);

    return 0;
}
