/* Unit tests of faults/netns_net.c from C, as any C caller would use it: open
 * a namespace network, attach two members, check datagrams pass, cut and
 * heal, shape, cancel a step, close, and find nothing left. Needs root and
 * ip/nft/tc; without them every test is skipped with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/helpers/test_skip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "faults/netns_net.h"
#include "tests/helpers/unit_loop.h"

typedef struct {
  uv_loop_t loop;
  fl_nsnet_t *n;
  char run_id[9];
  int done, status, closed;
  char msg[512];
  int received, sent;
} fx_t;

static void on_step(int status, const char *msg, void *arg) {
  fx_t *fx = arg;
  fx->status = status;
  snprintf(fx->msg, sizeof(fx->msg), "%s", msg ? msg : "");
  fx->done = 1;
}

static void on_closed(void *arg) {
  fx_t *fx = arg;
  fx->closed = 1;
}

static void on_probe(int received, int sent, const char *detail, void *arg) {
  fx_t *fx = arg;
  (void)detail;
  fx->received = received;
  fx->sent = sent;
  fx->done = 1;
}

/* Waits for the step started by a call that returned rc. */
static void wait_step(fx_t *fx, int rc, const fl_err_t *err) {
  if (rc < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(rc, 0);
  assert_false(fx->done); /* never before the call returns */
  assert_true(ut_run_until(&fx->loop, &fx->done, 60000));
  if (fx->status != 0)
    fail_msg("step failed: %s", fx->msg);
  fx->done = 0;
}

static char why_not[1100]; /* why namespace networks are not usable here */

static int setup(void **state) {
  fl_err_t err = {0};
  if (fl_nsnet_usable(&err) < 0) {
    snprintf(why_not, sizeof(why_not), "namespace networks %s", err.msg);
    *state = NULL;
    return 0;
  }
  fx_t *fx = fl_calloc(1, sizeof(*fx));
  uv_loop_init(&fx->loop);
  /* A run id of this process's own, as a run's: 8 hex digits. */
  snprintf(fx->run_id, sizeof(fx->run_id), "%08x", (unsigned)getpid() * 2654435761u);
  fl_nsnet_opts_t opts = {.run_id = fx->run_id};
  int rc = fl_nsnet_open(&fx->n, &fx->loop, &opts, on_step, fx, NULL, &err);
  wait_step(fx, rc, &err);
  assert_non_null(fl_nsnet_net(fx->n));
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  if (fx == NULL)
    return 0;
  if (fx->n != NULL) {
    fl_nsnet_close(fx->n, on_closed, fx);
    assert_true(ut_run_until(&fx->loop, &fx->closed, 60000));
  }
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  fl_free(fx);
  return 0;
}

static fx_t *fixture(void **state) {
  if (*state == NULL)
    FL_SKIP(why_not);
  return *state;
}

static int probe(fx_t *fx, const char *a, const char *b) {
  fl_err_t err = {0};
  fl_nsnet_probe_t *p;
  fx->done = 0;
  if (fl_nsnet_probe(fx->n, a, b, 0.3, on_probe, fx, &p, &err) < 0)
    fail_msg("%s", err.msg);
  assert_true(ut_run_until(&fx->loop, &fx->done, 10000));
  fx->done = 0;
  assert_int_equal(fx->sent, 5);
  return fx->received;
}

static void attach(fx_t *fx, const char *name) {
  fl_err_t err = {0};
  int rc = fl_nsnet_attach(fx->n, name, on_step, fx, NULL, &err);
  wait_step(fx, rc, &err);
  /* Attached once: asking again needs no step. */
  assert_int_equal(fl_nsnet_attach(fx->n, name, on_step, fx, NULL, &err), 1);
}

static void test_attach_cut_heal(void **state) {
  fx_t *fx = fixture(state);
  fl_err_t err = {0};
  attach(fx, "a");
  attach(fx, "b");
  fl_net_ep_t *a = fl_net_endpoint(fl_nsnet_net(fx->n), "a", 0, NULL);
  assert_non_null(a);
  assert_true(a->attached);
  struct stat st;
  assert_int_equal(stat(a->ns_path, &st), 0);
  assert_true(probe(fx, "a", "b") > 0);
  assert_true(probe(fx, "host", "b") > 0);

  const char *cut[][2] = {{"a", "b"}};
  wait_step(fx, fl_nsnet_cut(fx->n, cut, 1, on_step, fx, NULL, &err), &err);
  assert_int_equal(probe(fx, "a", "b"), 0);
  assert_true(probe(fx, "b", "a") > 0); /* one direction only */
  wait_step(fx, fl_nsnet_cut(fx->n, NULL, 0, on_step, fx, NULL, &err), &err);
  assert_true(probe(fx, "a", "b") > 0);

  /* A name not on the network is an error, and no step. */
  const char *bad[][2] = {{"a", "nobody"}};
  assert_int_equal(fl_nsnet_cut(fx->n, bad, 1, on_step, fx, NULL, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "nobody"));
  fl_shape_t sh = {.rate_bps = 1000000};
  assert_int_equal(fl_nsnet_shape(fx->n, "c", FL_SHAPE_IN, &sh, on_step, fx, NULL, &err),
                   FL_ECONFIG);
  if (fl_nsnet_features()->tbf) {
    wait_step(fx, fl_nsnet_shape(fx->n, "a", FL_SHAPE_IN, &sh, on_step, fx, NULL, &err),
              &err);
    fl_shape_t none = {0};
    wait_step(fx,
              fl_nsnet_shape(fx->n, "a", FL_SHAPE_IN | FL_SHAPE_OUT, &none, on_step, fx,
                             NULL, &err),
              &err);
  }

  /* Closing removes the namespaces. */
  char path[512];
  snprintf(path, sizeof(path), "%s", a->ns_path);
  fl_nsnet_close(fx->n, on_closed, fx);
  assert_true(ut_run_until(&fx->loop, &fx->closed, 60000));
  fx->n = NULL;
  assert_int_not_equal(stat(path, &st), 0);
}

static void test_cancel(void **state) {
  fx_t *fx = fixture(state);
  fl_err_t err = {0};
  fl_nsnet_op_t *op1, *op2;
  /* The first runs (and finishes on its own), the second is dropped. */
  assert_int_equal(fl_nsnet_attach(fx->n, "x", on_step, fx, &op1, &err), 0);
  assert_int_equal(fl_nsnet_attach(fx->n, "y", on_step, fx, &op2, &err), 0);
  fl_nsnet_cancel(op1);
  fl_nsnet_cancel(op2);
  ut_run_for(&fx->loop, 3000);
  assert_false(fx->done);
  fl_net_ep_t *x = fl_net_endpoint(fl_nsnet_net(fx->n), "x", 0, NULL);
  fl_net_ep_t *y = fl_net_endpoint(fl_nsnet_net(fx->n), "y", 0, NULL);
  assert_true(x->attached);
  assert_false(y->attached);
  /* A step queued when the network closes never calls back. */
  assert_int_equal(fl_nsnet_attach(fx->n, "y", on_step, fx, NULL, &err), 0);
  fl_nsnet_close(fx->n, on_closed, fx);
  assert_true(ut_run_until(&fx->loop, &fx->closed, 60000));
  fx->n = NULL;
  assert_false(fx->done);
}

static void test_open_errors(void **state) {
  (void)state;
  fl_err_t err = {0};
  if (fl_nsnet_usable(&err) < 0) {
    /* Without root the reason names what is missing. */
    assert_int_equal(err.code, FL_ENOSUPPORT);
    assert_true(strstr(err.msg, "root") != NULL || strstr(err.msg, "install") != NULL);
    return;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_nsnet_t *n = (fl_nsnet_t *)1;
  fl_nsnet_opts_t opts = {.run_id = "0badc0de", .subnet = "10.1.2.0/33"};
  int called = 0;
  assert_true(fl_nsnet_open(&n, &loop, &opts, on_step, &called, NULL, &err) < 0);
  assert_null(n);
  assert_non_null(strstr(err.msg, "10.1.2.0/33"));
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test_setup_teardown(test_attach_cut_heal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
  };
  return cmocka_run_group_tests_name("netns_net", tests, NULL, NULL);
}
