/* base/timeline: events with type and time, service state changes,
 * faults that begin and end (one by one, by kind, all), the listener, and
 * the JSONL write-through file that a killed run leaves behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/timeline.h"

static const char *type_of(json_t *ev) {
  return json_string_value(json_object_get(ev, "type"));
}

static void test_events(void **state) {
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_timeline_event(tl, "step", json_pack("{s:s}", "name", "warm up"));
  fl_timeline_event(tl, "note", NULL);
  uv_sleep(20);
  fl_timeline_service(tl, "db", "starting", 1234, NULL);
  fl_timeline_service(tl, "db", "crashed", 0, "exited with code 3");

  json_t *evs = fl_timeline_events(tl);
  assert_int_equal(json_array_size(evs), 4);
  json_t *e0 = json_array_get(evs, 0);
  assert_string_equal(type_of(e0), "step");
  assert_string_equal(json_string_value(json_object_get(e0, "name")), "warm up");
  assert_true(json_is_real(json_object_get(e0, "t")));
  assert_string_equal(type_of(json_array_get(evs, 1)), "note");

  json_t *e2 = json_array_get(evs, 2);
  assert_string_equal(type_of(e2), "service");
  assert_string_equal(json_string_value(json_object_get(e2, "service")), "db");
  assert_string_equal(json_string_value(json_object_get(e2, "state")), "starting");
  assert_int_equal(json_integer_value(json_object_get(e2, "pid")), 1234);
  assert_null(json_object_get(e2, "detail"));
  /* Time goes on: the 20 ms sleep shows between the second and third. */
  double t1 = json_real_value(json_object_get(json_array_get(evs, 1), "t"));
  double t2 = json_real_value(json_object_get(e2, "t"));
  assert_true(t1 >= 0.0);
  assert_true(t2 - t1 >= 0.015);

  json_t *e3 = json_array_get(evs, 3);
  assert_null(json_object_get(e3, "pid")); /* pid <= 0 is left out */
  assert_string_equal(json_string_value(json_object_get(e3, "detail")),
                      "exited with code 3");

  /* The clock: ns and seconds agree, and the origin is uv_hrtime's. */
  uint64_t now = fl_timeline_now(tl);
  assert_true(now >= 20 * 1000 * 1000);
  assert_true(fl_timeline_seconds(tl) >= (double)now / 1e9);
  assert_true(fl_timeline_origin(tl) + now <= uv_hrtime());
  fl_timeline_free(tl);
  fl_timeline_free(NULL);
}

static void test_faults(void **state) {
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  int a = fl_timeline_fault_begin(tl, "partition", json_pack("[ss]", "n1", "n2"),
                                  json_pack("{s:s}", "mode", "both"));
  int b = fl_timeline_fault_begin(tl, "latency", json_pack("[s]", "n3"), NULL);
  int c = fl_timeline_fault_begin(tl, "partition", json_pack("[s]", "n3"), NULL);
  int d = fl_timeline_fault_begin(tl, "kill", NULL, NULL);
  assert_int_equal(a, 1);
  assert_int_equal(b, 2);
  assert_int_equal(c, 3);
  assert_int_equal(d, 4);

  json_t *faults = fl_timeline_faults(tl);
  assert_int_equal(json_array_size(faults), 4);
  json_t *fa = json_array_get(faults, 0);
  assert_int_equal(json_integer_value(json_object_get(fa, "id")), 1);
  assert_string_equal(json_string_value(json_object_get(fa, "kind")), "partition");
  assert_int_equal(json_array_size(json_object_get(fa, "targets")), 2);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(fa, "attrs"), "mode")), "both");
  assert_true(json_is_real(json_object_get(fa, "start_s")));
  assert_true(json_is_null(json_object_get(fa, "end_s")));
  /* A fault with no targets or attrs gets empty ones, not nulls. */
  json_t *fd = json_array_get(faults, 3);
  assert_true(json_is_array(json_object_get(fd, "targets")));
  assert_true(json_is_object(json_object_get(fd, "attrs")));

  /* An instantaneous fault ends at once; ending twice changes nothing. */
  fl_timeline_fault_end(tl, d);
  double end_d = json_real_value(json_object_get(fd, "end_s"));
  assert_true(end_d >= json_real_value(json_object_get(fd, "start_s")));
  size_t nev = json_array_size(fl_timeline_events(tl));
  fl_timeline_fault_end(tl, d);
  fl_timeline_fault_end(tl, 0);
  fl_timeline_fault_end(tl, 99);
  fl_timeline_fault_end(tl, -1);
  assert_int_equal(json_array_size(fl_timeline_events(tl)), nev);

  /* Ending by kind leaves the others running. */
  fl_timeline_fault_end_all(tl, "partition");
  assert_true(json_is_real(json_object_get(json_array_get(faults, 0), "end_s")));
  assert_true(json_is_null(json_object_get(json_array_get(faults, 1), "end_s")));
  assert_true(json_is_real(json_object_get(json_array_get(faults, 2), "end_s")));
  fl_timeline_fault_end_all(tl, NULL);
  assert_true(json_is_real(json_object_get(json_array_get(faults, 1), "end_s")));

  /* Events: 4 starts, then the ends in order d, a, c, b. */
  json_t *evs = fl_timeline_events(tl);
  assert_int_equal(json_array_size(evs), 8);
  static const struct {
    int id;
    const char *phase;
  } want[] = {{1, "start"}, {2, "start"}, {3, "start"}, {4, "start"},
              {4, "end"},   {1, "end"},   {3, "end"},   {2, "end"}};
  for (size_t i = 0; i < 8; i++) {
    json_t *ev = json_array_get(evs, i);
    assert_string_equal(type_of(ev), "fault");
    assert_int_equal(json_integer_value(json_object_get(ev, "id")), want[i].id);
    assert_string_equal(json_string_value(json_object_get(ev, "phase")), want[i].phase);
    assert_non_null(json_object_get(ev, "kind"));
    assert_true(json_is_array(json_object_get(ev, "targets")));
    /* start_s/end_s live in the faults array, not in events. */
    assert_null(json_object_get(ev, "start_s"));
    assert_null(json_object_get(ev, "end_s"));
  }
  assert_string_equal(json_string_value(json_array_get(
                          json_object_get(json_array_get(evs, 5), "targets"), 1)),
                      "n2");
  fl_timeline_free(tl);
}

typedef struct {
  int calls;
  char last[64];
} listener_t;

static void on_event(const json_t *ev, void *arg) {
  listener_t *l = arg;
  l->calls++;
  snprintf(l->last, sizeof(l->last), "%s",
           json_string_value(json_object_get((json_t *)ev, "type")));
}

/* A group fault (attrs.group, fl.fault{}) makes the faults that begin while
 * it is open on its targets its parts; after it ends, or on other targets,
 * a fault is its own. */
static void test_groups(void **state) {
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  int g = fl_timeline_fault_begin(tl, "failover", json_pack("[s, s]", "a", "b"),
                                  json_pack("{s:b}", "group", 1));
  int kill = fl_timeline_fault_begin(tl, "kill", json_pack("[s]", "a"), NULL);
  int cut =
      fl_timeline_fault_begin(tl, "partition", json_pack("[[s], [s]]", "c", "b"), NULL);
  int other = fl_timeline_fault_begin(tl, "kill", json_pack("[s]", "c"), NULL);
  fl_timeline_fault_end(tl, g);
  int after = fl_timeline_fault_begin(tl, "kill", json_pack("[s]", "b"), NULL);
  json_t *faults = fl_timeline_faults(tl);
#define PART_OF(id)                                                                      \
  json_object_get(json_object_get(json_array_get(faults, (size_t)(id)-1), "attrs"),      \
                  "part_of")
  assert_null(PART_OF(g));
  assert_int_equal(json_integer_value(PART_OF(kill)), g);
  assert_int_equal(json_integer_value(PART_OF(cut)), g); /* b is on one side */
  assert_null(PART_OF(other));
  assert_null(PART_OF(after));
#undef PART_OF
  fl_timeline_free(tl);
}

static void test_listener(void **state) {
  fl_timeline_t *tl;
  listener_t l = {0};
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_timeline_set_listener(tl, on_event, &l);
  fl_timeline_event(tl, "a", NULL);
  fl_timeline_service(tl, "s", "ready", 0, NULL);
  assert_int_equal(l.calls, 2);
  assert_string_equal(l.last, "service");
  int id = fl_timeline_fault_begin(tl, "pause", NULL, NULL);
  fl_timeline_fault_end(tl, id);
  assert_int_equal(l.calls, 4);
  assert_string_equal(l.last, "fault");
  fl_timeline_set_listener(tl, NULL, NULL);
  fl_timeline_event(tl, "b", NULL);
  assert_int_equal(l.calls, 4);
  fl_timeline_free(tl);
}

static void test_jsonl_file(void **state) {
  char dir[] = "/tmp/fl-test-timeline-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/timeline.jsonl", dir);

  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, path, NULL), 0);
  fl_timeline_event(tl, "step", json_pack("{s:s}", "name", "one"));
  fl_timeline_service(tl, "db", "starting", 42, NULL);
  int id = fl_timeline_fault_begin(tl, "partition", json_pack("[s]", "db"), NULL);
  fl_timeline_fault_end(tl, id);

  /* Written through as recorded: readable before the timeline is freed,
   * as it would be after a SIGKILL. */
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[1024];
  const char *types[] = {"step", "service", "fault", "fault"};
  int n = 0;
  double last_t = 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    assert_true(n < 4);
    assert_non_null(strchr(line, '\n'));
    json_error_t jerr;
    json_t *ev = json_loads(line, 0, &jerr);
    assert_non_null(ev);
    assert_string_equal(type_of(ev), types[n]);
    double t = json_real_value(json_object_get(ev, "t"));
    assert_true(t >= last_t);
    last_t = t;
    if (n == 1)
      assert_int_equal(json_integer_value(json_object_get(ev, "pid")), 42);
    if (n == 3)
      assert_string_equal(json_string_value(json_object_get(ev, "phase")), "end");
    json_decref(ev);
    n++;
  }
  assert_int_equal(n, 4);
  fclose(f);
  fl_timeline_free(tl);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

static void test_bad_path(void **state) {
  fl_timeline_t *tl = NULL;
  fl_err_t err = {0};
  int rc = fl_timeline_new(&tl, "/nonexistent-dir/x/timeline.jsonl", &err);
  assert_int_equal(rc, UV_ENOENT);
  assert_int_equal(err.code, UV_ENOENT);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/x/timeline.jsonl"));
  assert_null(tl);
}

/* A full disk (/dev/full answers every write with ENOSPC) is remembered,
 * named and sticky; the events stay in memory. */
static void test_disk_full(void **state) {
  fl_timeline_t *tl = NULL;
  fl_err_t err = {0};
  assert_int_equal(fl_timeline_new(&tl, "/dev/full", &err), 0);
  assert_int_equal(fl_timeline_write_error(tl, &err), 0);
  fl_timeline_event(tl, "step", NULL);
  assert_int_equal(fl_timeline_write_error(tl, &err), UV_ENOSPC);
  assert_non_null(strstr(err.msg, "cannot write /dev/full: No space left on device"));
  fl_timeline_event(tl, "step", NULL);
  assert_int_equal(fl_timeline_write_error(tl, NULL), UV_ENOSPC);
  assert_int_equal(json_array_size(fl_timeline_events(tl)), 2);
  fl_timeline_free(tl);

  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_timeline_event(tl, "step", NULL);
  assert_int_equal(fl_timeline_write_error(tl, NULL), 0);
  fl_timeline_free(tl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_events),     cmocka_unit_test(test_faults),
      cmocka_unit_test(test_groups),     cmocka_unit_test(test_listener),
      cmocka_unit_test(test_jsonl_file), cmocka_unit_test(test_bad_path),
      cmocka_unit_test(test_disk_full),
  };
  return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
