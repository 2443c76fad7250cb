/* The TCP proxy's API: addresses and their errors, toxics added, updated and
 * removed by name, the JSON shapes Toxiproxy clients expect, the timeline
 * record, moving the listener, and the close callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "faults/proxy.h"
#include "tests/helpers/proxy_harness.h"

typedef struct {
  uv_loop_t loop;
  fl_proxy_t *p;
  fl_err_t err;
  int closed;
} fx_t;

static void on_closed(void *arg) {
  fx_t *fx = arg;
  fx->closed++;
}

static int setup(void **state) {
  fx_t *fx = calloc(1, sizeof(*fx));
  uv_loop_init(&fx->loop);
  *state = fx;
  if (fl_proxy_new(&fx->p, &fx->loop, "api", "127.0.0.1:0", "127.0.0.1:9", &fx->err) != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  if (fx->p != NULL) {
    fl_proxy_close(fx->p, on_closed, fx);
    /* The callback never runs before fl_proxy_close returns. */
    if (fx->closed != 0)
      return -1;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (fx->closed != 1)
      return -1;
  }
  int rc = uv_loop_close(&fx->loop);
  free(fx);
  return rc == 0 ? 0 : -1;
}

static int add(fx_t *fx, const char *spec) {
  json_t *j = json_loads(spec, 0, NULL);
  assert_non_null(j);
  int rc = fl_proxy_add_toxic(fx->p, j, &fx->err);
  json_decref(j);
  return rc;
}

static int update(fx_t *fx, const char *name, const char *spec) {
  json_t *j = json_loads(spec, 0, NULL);
  assert_non_null(j);
  int rc = fl_proxy_update_toxic(fx->p, name, j, &fx->err);
  json_decref(j);
  return rc;
}

static void expect_msg(fx_t *fx, const char *part) {
  if (strstr(fx->err.msg, part) == NULL)
    fail_msg("message \"%s\" does not mention %s", fx->err.msg, part);
}

static void test_addresses(void **state) {
  fx_t *fx = *state;
  fl_proxy_t *q = NULL;
  const char *l = fl_proxy_listen(fx->p);
  assert_true(strncmp(l, "127.0.0.1:", 10) == 0);
  assert_true(atoi(l + 10) > 0); /* the real port, not 0 */
  assert_string_equal(fl_proxy_upstream(fx->p), "127.0.0.1:9");
  assert_string_equal(fl_proxy_name(fx->p), "api");

  static const char *bad_listen[] = {"nonsense",   "127.0.0.1:99999", "[::1",
                                     "127.0.0.1:", "host.example:80", "::1:80",
                                     NULL};
  for (int i = 0; bad_listen[i]; i++) {
    assert_int_equal(
        fl_proxy_new(&q, &fx->loop, "x", bad_listen[i], "127.0.0.1:1", &fx->err),
        FL_ECONFIG);
    assert_null(q);
    expect_msg(fx, "\"listen\"");
  }
  static const char *bad_up[] = {"nonsense", "127.0.0.1:0", "a:b", "", NULL};
  for (int i = 0; bad_up[i]; i++) {
    assert_int_equal(fl_proxy_new(&q, &fx->loop, "x", "127.0.0.1:0", bad_up[i], &fx->err),
                     FL_ECONFIG);
    expect_msg(fx, "\"upstream\"");
  }
  assert_int_equal(
      fl_proxy_new(&q, &fx->loop, "", "127.0.0.1:0", "127.0.0.1:1", &fx->err),
      FL_ECONFIG);
  expect_msg(fx, "\"name\"");
  assert_int_equal(fl_proxy_set_upstream(fx->p, "bad", &fx->err), FL_ECONFIG);
  assert_string_equal(fl_proxy_upstream(fx->p), "127.0.0.1:9");
  assert_int_equal(fl_proxy_set_upstream(fx->p, "localhost:80", &fx->err), 0);
  assert_int_equal(fl_proxy_set_upstream(fx->p, "some-host.example:80", &fx->err), 0);

  /* A port in use: EADDRINUSE, naming the address. */
  char addr[64];
  snprintf(addr, sizeof(addr), "%s", l);
  assert_int_equal(fl_proxy_new(&q, &fx->loop, "x", addr, "127.0.0.1:1", &fx->err),
                   UV_EADDRINUSE);
  assert_null(q);
  expect_msg(fx, addr);

  /* IPv6 and "localhost". */
  if (fl_proxy_new(&q, &fx->loop, "v6", "[::1]:0", "[::1]:1", &fx->err) == 0) {
    assert_true(strncmp(fl_proxy_listen(q), "[::1]:", 6) == 0);
    fl_proxy_close(q, NULL, NULL);
  }
  assert_int_equal(
      fl_proxy_new(&q, &fx->loop, "lh", "localhost:0", "localhost:1", &fx->err), 0);
  assert_true(strncmp(fl_proxy_listen(q), "127.0.0.1:", 10) == 0);
  fl_proxy_close(q, NULL, NULL);
}

static void test_toxic_errors(void **state) {
  fx_t *fx = *state;
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":-1}}"),
                   FL_ECONFIG);
  expect_msg(fx, "attributes.latency");
  assert_int_equal(add(fx, "{\"type\":\"no_such\"}"), FL_ECONFIG);
  expect_msg(fx, "\"type\"");
  expect_msg(fx, "latency"); /* lists the known ones */
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"stream\":\"both\"}"), FL_ECONFIG);
  expect_msg(fx, "\"stream\"");
  assert_int_equal(add(fx, "[1]"), FL_ECONFIG);
  assert_int_equal(add(fx, "{\"type\":\"latency\"}"), 0);
  assert_int_equal(add(fx, "{\"type\":\"latency\"}"), FL_ECONFIG); /* same default name */
  expect_msg(fx, "\"name\"");
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"stream\":\"upstream\"}"), 0);
  assert_int_equal(update(fx, "nope", "{\"toxicity\":0.5}"), UV_ENOENT);
  assert_int_equal(fl_proxy_remove_toxic(fx->p, "nope", &fx->err), UV_ENOENT);
  expect_msg(fx, "not found");
  assert_int_equal(update(fx, "latency_upstream", "{\"attributes\":{\"jitter\":-3}}"),
                   FL_ECONFIG);
  expect_msg(fx, "attributes.jitter");
  /* A failed update changed nothing. */
  json_t *t = fl_proxy_toxic_json(fx->p, "latency_upstream");
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(t, "attributes"), "jitter")), 0);
  json_decref(t);
  assert_null(fl_proxy_toxic_json(fx->p, "nope"));
}

static void test_json(void **state) {
  fx_t *fx = *state;
  assert_int_equal(
      add(fx, "{\"name\":\"slow\",\"type\":\"bandwidth\",\"stream\":\"upstream\","
              "\"toxicity\":0.5,\"attributes\":{\"rate\":100}}"),
      0);
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":10}}"), 0);
  assert_int_equal(update(fx, "latency_downstream", "{\"attributes\":{\"jitter\":2}}"),
                   0);
  json_t *j = fl_proxy_to_json(fx->p);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "api");
  assert_string_equal(json_string_value(json_object_get(j, "listen")),
                      fl_proxy_listen(fx->p));
  assert_string_equal(json_string_value(json_object_get(j, "upstream")), "127.0.0.1:9");
  assert_true(json_is_true(json_object_get(j, "enabled")));
  json_t *toxics = json_object_get(j, "toxics");
  assert_int_equal(json_array_size(toxics), 2);
  /* In the order added. */
  json_t *a = json_array_get(toxics, 0), *b = json_array_get(toxics, 1);
  assert_string_equal(json_string_value(json_object_get(a, "name")), "slow");
  assert_string_equal(json_string_value(json_object_get(a, "type")), "bandwidth");
  assert_string_equal(json_string_value(json_object_get(a, "stream")), "upstream");
  assert_true(json_real_value(json_object_get(a, "toxicity")) == 0.5);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(a, "attributes"), "rate")), 100);
  assert_string_equal(json_string_value(json_object_get(b, "name")),
                      "latency_downstream");
  json_t *battrs = json_object_get(b, "attributes");
  assert_int_equal(json_integer_value(json_object_get(battrs, "latency")), 10);
  assert_int_equal(json_integer_value(json_object_get(battrs, "jitter")), 2);
  json_decref(j);

  assert_int_equal(fl_proxy_remove_toxic(fx->p, "slow", &fx->err), 0);
  j = fl_proxy_toxics_json(fx->p);
  assert_int_equal(json_array_size(j), 1);
  json_decref(j);
  fl_proxy_remove_all_toxics(fx->p);
  j = fl_proxy_toxics_json(fx->p);
  assert_int_equal(json_array_size(j), 0);
  json_decref(j);

  fl_proxy_set_enabled(fx->p, 0);
  j = fl_proxy_to_json(fx->p);
  assert_true(json_is_false(json_object_get(j, "enabled")));
  json_decref(j);
  assert_int_equal(fl_proxy_enabled(fx->p), 0);
  assert_int_equal(fl_proxy_enable(fx->p, &fx->err), 0);
  assert_int_equal(fl_proxy_enabled(fx->p), 1);
}

static void test_timeline(void **state) {
  fx_t *fx = *state;
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, &fx->err), 0);
  fl_proxy_set_timeline(fx->p, tl);
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":10}}"), 0);
  fl_proxy_partition(fx->p, FL_UPSTREAM);
  fl_proxy_heal(fx->p);
  fl_proxy_set_enabled(fx->p, 0);
  fl_proxy_set_enabled(fx->p, 1);
  assert_int_equal(fl_proxy_remove_toxic(fx->p, "latency_downstream", &fx->err), 0);
  json_t *faults = fl_timeline_faults(tl);
  assert_int_equal(json_array_size(faults), 3);
  const char *kinds[3] = {"toxic", "partition", "down"};
  for (size_t i = 0; i < 3; i++) {
    json_t *f = json_array_get(faults, i);
    assert_string_equal(json_string_value(json_object_get(f, "kind")), kinds[i]);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(f, "targets"), 0)), "api");
    assert_true(json_is_number(json_object_get(f, "end_s")));
  }
  fl_proxy_set_timeline(fx->p, NULL);
  fl_timeline_free(tl);
}

static void test_set_listen(void **state) {
  fx_t *fx = *state;
  char old[64], busy[64];
  int port;
  snprintf(old, sizeof(old), "%s", fl_proxy_listen(fx->p));
  int lfd = pt_listen(&port);
  snprintf(busy, sizeof(busy), "127.0.0.1:%d", port);
  assert_int_equal(fl_proxy_set_listen(fx->p, busy, &fx->err), UV_EADDRINUSE);
  assert_string_equal(fl_proxy_listen(fx->p), old); /* unchanged */
  close(lfd);
  assert_int_equal(fl_proxy_set_listen(fx->p, "127.0.0.1:0", &fx->err), 0);
  assert_string_not_equal(fl_proxy_listen(fx->p), old);
}

/* A proxy closed with open connections and pending name lookups frees
 * everything: the loop closes (checked by teardown). */
static void test_close_busy(void **state) {
  fx_t *fx = *state;
  int port;
  int lfd = pt_listen(&port);
  char up[64];
  snprintf(up, sizeof(up), "127.0.0.1:%d", port);
  assert_int_equal(fl_proxy_set_upstream(fx->p, up, &fx->err), 0);
  assert_int_equal(add(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":1000}}"),
                   0);
  int c = pt_connect(fl_proxy_listen(fx->p));
  assert_true(c >= 0);
  for (int i = 0; i < 50; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  int s = pt_accept(lfd, 1000);
  assert_true(s >= 0);
  assert_int_equal(pt_send_all(s, "held", 4), 0);
  for (int i = 0; i < 50; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  fl_proxy_stats_t st;
  fl_proxy_stats(fx->p, &st);
  assert_int_equal(st.connections_open, 1);
  assert_int_equal(st.bytes_read_downstream, 4);
  assert_int_equal(fl_proxy_set_upstream(fx->p, "no-such-host.invalid:80", &fx->err), 0);
  int c2 = pt_connect(fl_proxy_listen(fx->p));
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  fl_proxy_close(fx->p, on_closed, fx);
  fx->p = NULL;
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(fx->closed, 1);
  char buf[8];
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 1000), 0);
  close(c);
  close(c2);
  close(s);
  close(lfd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_addresses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_toxic_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_listen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_busy, setup, teardown),
  };
  return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
