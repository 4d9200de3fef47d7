/*
 * tests/unit/test_crash.c: core/crash.c, the record a dying worker
 * leaves for the master.
 *
 * Each case builds a connection and a request by hand, as the core has
 * them in the middle of a callback, forks a child that installs the crash
 * handlers and dies of SIGSEGV, and reads the record the child filled in
 * shared memory.
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <check.h>

#include "unit.h"

#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


static cairn__worker_t   test_worker;
static struct cairn_conn_s  test_conn;
static struct cairn_request_s  test_req;


/* Dies of SIGSEGV in a child with the given context; returns the record
 * it left. */
static cairn__crash_t
crash_in_child(cairn_conn_t *c, cairn_request_t *r)
{
    cairn__crash_t  *shared, out;
    pid_t            pid;
    int              status;

    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(shared, MAP_FAILED);
    memset(shared, 0, sizeof(*shared));

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cairn__crash = shared;
        cairn__current_conn = c;
        cairn__current_request = r;
        cairn__crash_handlers_install();
        raise(SIGSEGV);
        _exit(0);
    }

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGSEGV);

    out = *shared;
    munmap(shared, sizeof(*shared));

    return out;
}


static void
setup(void)
{
    memset(&test_worker, 0, sizeof(test_worker));
    memset(&test_conn, 0, sizeof(test_conn));
    memset(&test_req, 0, sizeof(test_req));

    test_worker.id_seed = 0x5a1c09e2u;
    test_conn.worker = &test_worker;
    strcpy(test_conn.peer_text, "192.0.2.7");
    test_req.conn = &test_conn;
    test_req.seq = 7;
    test_req.version = 11;
}


/* The core reading a body: no module, no hook; the record says what the
 * core was doing, for which request and client. */
START_TEST(core_reading_body)
{
    cairn__crash_t  cr;

    test_req.method_name = "POST";
    test_req.target = "/upload/a?x=1";
    test_req.state = CAIRN__REQ_BODY;
    test_conn.req = &test_req;

    cr = crash_in_child(&test_conn, NULL);

    ck_assert(cr.filled);
    ck_assert_int_eq(cr.signo, SIGSEGV);
    ck_assert_str_eq(cr.module, "");
    ck_assert_str_eq(cr.hook, "reading a body");
    ck_assert_str_eq(cr.request, "POST /upload/a?x=1 HTTP/1.1");
    ck_assert_str_eq(cr.request_id, "5a1c09e200000007");
    ck_assert_str_eq(cr.client, "192.0.2.7");
}
END_TEST


/* A request line still being parsed: what is known so far. */
START_TEST(core_reading_request_line)
{
    cairn__crash_t  cr;

    test_req.state = CAIRN__REQ_HEADERS;
    test_conn.req = &test_req;

    cr = crash_in_child(&test_conn, NULL);

    ck_assert_str_eq(cr.hook, "reading a request");
    ck_assert_str_eq(cr.request, "- - HTTP/1.1");
    ck_assert_str_eq(cr.client, "192.0.2.7");
}
END_TEST


/* Dropping the rest of an answered request's body: no request left. */
START_TEST(core_discarding)
{
    cairn__crash_t  cr;

    test_conn.discarding = 1;

    cr = crash_in_child(&test_conn, NULL);

    ck_assert_str_eq(cr.hook, "discarding a body");
    ck_assert_str_eq(cr.request, "");
    ck_assert_str_eq(cr.request_id, "");
    ck_assert_str_eq(cr.client, "192.0.2.7");
}
END_TEST


/* Outside any connection: only the signal. */
START_TEST(core_idle)
{
    cairn__crash_t  cr;

    cr = crash_in_child(NULL, NULL);

    ck_assert(cr.filled);
    ck_assert_str_eq(cr.hook, "");
    ck_assert_str_eq(cr.request, "");
    ck_assert_str_eq(cr.client, "");
}
END_TEST


static Suite *
crash_suite(void)
{
    const unit_case_t  cases[] = {
        { "core_reading_body", core_reading_body, 0 },
        { "core_reading_request_line", core_reading_request_line, 0 },
        { "core_discarding", core_discarding, 0 },
        { "core_idle", core_idle, 0 },
    };

    return unit_suite("crash", cases, UNIT_NCASES(cases), setup, NULL);
}


int
main(void)
{
    return unit_run(crash_suite());
}
