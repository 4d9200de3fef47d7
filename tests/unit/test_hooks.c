/*
 * tests/unit/test_hooks.c: core/hooks.c (registration, ordering, the
 * server hook runner).
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "log_int.h"


static cairn_arena_t   *arena;
static cairn__hooks_t  *hooks;
static char             err[256];

static cairn_module_t   mod_a = { .name = "a" };
static cairn_module_t   mod_b = { .name = "b" };
static cairn_module_t   mod_c = { .name = "c" };
static cairn_module_t   mod_d = { .name = "d" };

/* The server hooks that ran, and the module the log saw for each. */
static char             ran[16];
static size_t           nran;
static int              log_module_ok;


static void
setup(void)
{
    arena = cairn_arena_create(0);
    hooks = cairn__hooks_create(arena);
    cairn__hooks_building = hooks;
    err[0] = '\0';
    nran = 0;
    ran[0] = '\0';
    log_module_ok = 1;
}


static void
teardown(void)
{
    cairn__hooks_building = NULL;
    cairn_arena_destroy(arena);
}


static int
req_hook(cairn_request_t *r)
{
    return CAIRN_DECLINED;
}


static int
conn_hook(cairn_conn_t *c)
{
    return CAIRN_OK;
}


static int
note(const cairn_module_t *m)
{
    if (cairn__log_module != m) {
        log_module_ok = 0;
    }
    ran[nran++] = m->name[0];
    ran[nran] = '\0';

    return 0;
}


static int
srv_ok_a(cairn_server_t *s)
{
    note(&mod_a);
    return CAIRN_OK;
}


static int
srv_declined_b(cairn_server_t *s)
{
    note(&mod_b);
    return CAIRN_DECLINED;
}


static int
srv_error_c(cairn_server_t *s)
{
    note(&mod_c);
    return CAIRN_ERROR;
}


static int
srv_ok_d(cairn_server_t *s)
{
    note(&mod_d);
    return CAIRN_OK;
}


static void
handler(cairn_module_t *m, int order, int n, const char *const *before,
        const char *const *after)
{
    ck_assert_int_eq(cairn_hook_handler(m, req_hook, order, n, before,
                                        after), CAIRN_OK);
}


/* The module names of the handler hooks in their current order. */
static const char *
order_of(int kind)
{
    static char   buf[32];
    size_t        i;

    for (i = 0; i < hooks->kind[kind].n && i < sizeof(buf) - 1; i++) {
        buf[i] = hooks->kind[kind].v[i].module->name[0];
    }
    buf[i] = '\0';

    return buf;
}


static const char *
sorted_handlers(void)
{
    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), 0);
    return order_of(CAIRN_PHASE_HANDLER);
}


START_TEST(orders)
{
    handler(&mod_c, CAIRN_ORDER_LAST, 0, NULL, NULL);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
    handler(&mod_d, CAIRN_ORDER_LAST, 0, NULL, NULL);
    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, NULL);

    ck_assert_str_eq(sorted_handlers(), "abcd");
}
END_TEST


START_TEST(n_ties)
{
    handler(&mod_a, CAIRN_ORDER_MIDDLE, 5, NULL, NULL);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, -3, NULL, NULL);
    handler(&mod_c, CAIRN_ORDER_MIDDLE, 2, NULL, NULL);
    handler(&mod_d, CAIRN_ORDER_FIRST, 9, NULL, NULL);

    ck_assert_str_eq(sorted_handlers(), "dbca");
}
END_TEST


START_TEST(registration_ties)
{
    handler(&mod_c, CAIRN_ORDER_MIDDLE, 1, NULL, NULL);
    handler(&mod_a, CAIRN_ORDER_MIDDLE, 1, NULL, NULL);
    handler(&mod_d, CAIRN_ORDER_MIDDLE, 1, NULL, NULL);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, 1, NULL, NULL);

    ck_assert_str_eq(sorted_handlers(), "cadb");

    /* Sorting again changes nothing. */
    ck_assert_str_eq(sorted_handlers(), "cadb");
}
END_TEST


START_TEST(before_list)
{
    static const char *const  before_a[] = { "a", NULL };

    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, NULL);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
    handler(&mod_c, CAIRN_ORDER_LAST, 0, before_a, NULL);
    handler(&mod_d, CAIRN_ORDER_LAST, 1, NULL, NULL);

    /* c must precede a, which waits for it; b, available and MIDDLE,
     * goes first. */
    ck_assert_str_eq(sorted_handlers(), "bcad");
}
END_TEST


START_TEST(after_list)
{
    static const char *const  after_cd[] = { "c", "d", NULL };

    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, after_cd);
    handler(&mod_b, CAIRN_ORDER_FIRST, 1, NULL, NULL);
    handler(&mod_c, CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
    handler(&mod_d, CAIRN_ORDER_LAST, 0, NULL, NULL);

    ck_assert_str_eq(sorted_handlers(), "bcda");
}
END_TEST


START_TEST(before_and_after)
{
    static const char *const  before_b[] = { "b", NULL };
    static const char *const  after_b[] = { "b", NULL };

    /* d before b, a after b, b is LAST: the smallest available first. */
    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, after_b);
    handler(&mod_b, CAIRN_ORDER_LAST, 0, NULL, NULL);
    handler(&mod_c, CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
    handler(&mod_d, CAIRN_ORDER_LAST, 5, before_b, NULL);

    ck_assert_str_eq(sorted_handlers(), "cdba");
}
END_TEST


START_TEST(unknown_names)
{
    static const char *const  ghosts[] = { "nonexistent", "static", NULL };
    static const char *const  not_here[] = { "d", NULL };

    /* d has no handler hook: naming it constrains nothing. */
    ck_assert_int_eq(cairn_hook_log(&mod_d, req_hook, CAIRN_ORDER_FIRST, 0,
                                    NULL, NULL), CAIRN_OK);

    handler(&mod_b, CAIRN_ORDER_MIDDLE, 0, ghosts, not_here);
    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, ghosts);
    handler(&mod_c, CAIRN_ORDER_LAST, 0, not_here, NULL);

    ck_assert_str_eq(sorted_handlers(), "abc");
}
END_TEST


START_TEST(same_module)
{
    static const char *const  self[] = { "a", NULL };

    /* A module orders its own hooks with (order, n) only. */
    handler(&mod_a, CAIRN_ORDER_LAST, 0, self, NULL);
    handler(&mod_a, CAIRN_ORDER_FIRST, 0, NULL, self);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, 0, NULL, NULL);

    ck_assert_str_eq(sorted_handlers(), "aba");
    ck_assert_int_eq(hooks->kind[CAIRN_PHASE_HANDLER].v[0].order,
                     CAIRN_ORDER_FIRST);
}
END_TEST


START_TEST(cycle_two)
{
    static const char *const  before_b[] = { "b", NULL };
    static const char *const  before_a[] = { "a", NULL };

    handler(&mod_c, CAIRN_ORDER_FIRST, 0, NULL, NULL);
    handler(&mod_a, CAIRN_ORDER_MIDDLE, 0, before_b, NULL);
    handler(&mod_b, CAIRN_ORDER_MIDDLE, 0, before_a, NULL);

    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "hook order cycle in phase 'handler': mod_a must "
                     "run before mod_b and mod_b before mod_a");
}
END_TEST


START_TEST(cycle_three)
{
    static const char *const  after_c[] = { "c", NULL };
    static const char *const  before_c[] = { "c", NULL };
    static const char *const  after_a[] = { "a", NULL };

    /* a after c, c after b (said by b), b after a. */
    ck_assert_int_eq(cairn_hook_post_config(&mod_a, srv_ok_a,
                                            CAIRN_ORDER_MIDDLE, 0, NULL,
                                            after_c), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_b, srv_declined_b,
                                            CAIRN_ORDER_MIDDLE, 0, before_c,
                                            after_a), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_c, srv_error_c,
                                            CAIRN_ORDER_MIDDLE, 0, NULL,
                                            NULL), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_d, srv_ok_d,
                                            CAIRN_ORDER_FIRST, 0, NULL,
                                            NULL), CAIRN_OK);

    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), -1);
    ck_assert_ptr_null(strstr(err, "mod_d"));

    /* In running order, from the hook that sorts first. */
    ck_assert_str_eq(err, "hook order cycle in phase 'post_config': mod_a "
                     "must run before mod_b, mod_b before mod_c and mod_c "
                     "before mod_a");

    /* A short buffer truncates the message but stays a string. */
    ck_assert_int_eq(cairn__hooks_sort(hooks, err, 20), -1);
    ck_assert_uint_eq(strlen(err), 19);
    ck_assert_int_eq(cairn__hooks_sort(hooks, NULL, 0), -1);
}
END_TEST


START_TEST(kinds)
{
    ck_assert_int_eq(cairn_hook_worker_init(&mod_a, srv_ok_a,
                                            CAIRN_ORDER_LAST, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_hook_worker_init(&mod_b, srv_declined_b,
                                            CAIRN_ORDER_FIRST, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_hook_conn(&mod_c, CAIRN_CONN_CLOSE, conn_hook,
                                     CAIRN_ORDER_MIDDLE, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_hook_route(&mod_d, req_hook, CAIRN_ORDER_MIDDLE,
                                      0, NULL, NULL), CAIRN_OK);

    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), 0);
    ck_assert_str_eq(order_of(CAIRN__HOOK_SERVER_BASE
                              + CAIRN_SERVER_WORKER_INIT), "ba");
    ck_assert_str_eq(order_of(CAIRN__HOOK_CONN_BASE + CAIRN_CONN_CLOSE), "c");
    ck_assert_str_eq(order_of(CAIRN_PHASE_ROUTE), "d");
    ck_assert_str_eq(order_of(CAIRN_PHASE_HANDLER), "");
    ck_assert_uint_eq(hooks->kind[CAIRN__HOOK_CONN_BASE
                                  + CAIRN_CONN_CLOSE].v[0].fn.conn
                      == conn_hook, 1);
}
END_TEST


START_TEST(register_errors)
{
    ck_assert_int_eq(cairn_hook_request(&mod_a, CAIRN_PHASE_COUNT, req_hook,
                                        0, 0, NULL, NULL), CAIRN_ERROR);
    ck_assert_int_eq(cairn_hook_request(&mod_a, (cairn_phase_t) -1,
                                        req_hook, 0, 0, NULL, NULL),
                     CAIRN_ERROR);
    ck_assert_int_eq(cairn_hook_server(&mod_a, CAIRN_SERVER_HOOK_COUNT,
                                       srv_ok_a, 0, 0, NULL, NULL),
                     CAIRN_ERROR);
    ck_assert_int_eq(cairn_hook_conn(&mod_a, CAIRN_CONN_HOOK_COUNT,
                                     conn_hook, 0, 0, NULL, NULL),
                     CAIRN_ERROR);
    ck_assert_int_eq(cairn_hook_handler(&mod_a, NULL, 0, 0, NULL, NULL),
                     CAIRN_ERROR);

    cairn__hooks_building = NULL;
    ck_assert_int_eq(cairn_hook_handler(&mod_a, req_hook, 0, 0, NULL, NULL),
                     CAIRN_ERROR);
    ck_assert_int_eq(cairn_hook_post_config(&mod_a, srv_ok_a, 0, 0, NULL,
                                            NULL), CAIRN_ERROR);

    ck_assert_uint_eq(hooks->kind[CAIRN_PHASE_HANDLER].n, 0);
}
END_TEST


START_TEST(many_hooks)
{
    size_t  i;

    /* The table grows: 100 hooks of alternating orders. */
    for (i = 0; i < 100; i++) {
        handler(i % 2 ? &mod_b : &mod_a,
                i % 2 ? CAIRN_ORDER_FIRST : CAIRN_ORDER_LAST, (int) i,
                NULL, NULL);
    }

    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), 0);
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(hooks->kind[CAIRN_PHASE_HANDLER].v[i].n,
                         i < 50 ? (int) (2 * i + 1) : (int) (2 * (i - 50)));
    }
}
END_TEST


START_TEST(names)
{
    static const char *const  expect[] = {
        "post_read_request", "route", "access", "authenticate", "authorize",
        "fixups", "handler", "response", "log", "pre_config", "post_config",
        "worker_init", "worker_exit", "reopen_logs", "connection_open",
        "connection_close", "header_filter", "body_filter", "error_page"
    };
    int  kind;

    ck_assert_int_eq(CAIRN__HOOK_KINDS,
                     (int) (sizeof(expect) / sizeof(expect[0])));

    for (kind = 0; kind < CAIRN__HOOK_KINDS; kind++) {
        ck_assert_str_eq(cairn__hook_kind_name(kind), expect[kind]);
    }
    ck_assert_str_eq(cairn__hook_kind_name(-1), "unknown");
    ck_assert_str_eq(cairn__hook_kind_name(CAIRN__HOOK_KINDS), "unknown");

    ck_assert_str_eq(cairn_phase_name(CAIRN_PHASE_POST_READ_REQUEST),
                     "post_read_request");
    ck_assert_str_eq(cairn_phase_name(CAIRN_PHASE_HANDLER), "handler");
    ck_assert_str_eq(cairn_phase_name(CAIRN_PHASE_LOG), "log");
    ck_assert_str_eq(cairn_phase_name(CAIRN_PHASE_COUNT), "unknown");
}
END_TEST


START_TEST(server_hooks_stop)
{
    cairn_server_t  s;

    ck_assert_int_eq(cairn_hook_post_config(&mod_d, srv_ok_d,
                                            CAIRN_ORDER_LAST, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_c, srv_error_c,
                                            CAIRN_ORDER_MIDDLE, 0, NULL,
                                            NULL), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_b, srv_declined_b,
                                            CAIRN_ORDER_FIRST, 1, NULL,
                                            NULL), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_post_config(&mod_a, srv_ok_a,
                                            CAIRN_ORDER_FIRST, 0, NULL,
                                            NULL), CAIRN_OK);
    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), 0);

    memset(&s, 0, sizeof(s));
    s.hooks = hooks;

    /* OK and DECLINED go on; the first other value stops the run. */
    ck_assert_int_eq(cairn__server_hooks_run(&s, CAIRN_SERVER_POST_CONFIG),
                     CAIRN_ERROR);
    ck_assert_str_eq(ran, "abc");
    ck_assert_int_eq(log_module_ok, 1);
    ck_assert_ptr_null(cairn__log_module);
}
END_TEST


START_TEST(server_hooks_all_ok)
{
    cairn_server_t  s;

    ck_assert_int_eq(cairn_hook_worker_exit(&mod_b, srv_declined_b,
                                            CAIRN_ORDER_MIDDLE, 0, NULL,
                                            NULL), CAIRN_OK);
    ck_assert_int_eq(cairn_hook_worker_exit(&mod_a, srv_ok_a,
                                            CAIRN_ORDER_LAST, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_hook_worker_exit(&mod_d, srv_ok_d,
                                            CAIRN_ORDER_FIRST, 0, NULL, NULL),
                     CAIRN_OK);
    ck_assert_int_eq(cairn__hooks_sort(hooks, err, sizeof(err)), 0);

    memset(&s, 0, sizeof(s));
    s.hooks = hooks;

    ck_assert_int_eq(cairn__server_hooks_run(&s, CAIRN_SERVER_WORKER_EXIT),
                     CAIRN_OK);
    ck_assert_str_eq(ran, "dba");
    ck_assert_int_eq(log_module_ok, 1);
    ck_assert_ptr_null(cairn__log_module);

    /* A kind nobody registered for, and a generation without hooks. */
    nran = 0;
    ran[0] = '\0';
    ck_assert_int_eq(cairn__server_hooks_run(&s, CAIRN_SERVER_PRE_CONFIG),
                     CAIRN_OK);
    s.hooks = NULL;
    ck_assert_int_eq(cairn__server_hooks_run(&s, CAIRN_SERVER_WORKER_EXIT),
                     CAIRN_OK);
    ck_assert_str_eq(ran, "");
}
END_TEST


static Suite *
hooks_suite(void)
{
    const unit_case_t  cases[] = {
        { "orders", orders, 0 },
        { "n_ties", n_ties, 0 },
        { "registration_ties", registration_ties, 0 },
        { "before_list", before_list, 0 },
        { "after_list", after_list, 0 },
        { "before_and_after", before_and_after, 0 },
        { "unknown_names", unknown_names, 0 },
        { "same_module", same_module, 0 },
        { "cycle_two", cycle_two, 0 },
        { "cycle_three", cycle_three, 0 },
        { "kinds", kinds, 0 },
        { "register_errors", register_errors, 0 },
        { "many_hooks", many_hooks, 0 },
        { "names", names, 0 },
        { "server_hooks_stop", server_hooks_stop, 0 },
        { "server_hooks_all_ok", server_hooks_all_ok, 0 },
    };

    return unit_suite("hooks", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(hooks_suite());
}
