/* The history writer when the disk fails it: every failure is remembered and
 * named, so that no verdict is ever computed on a history with a hole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check/history.h"

/* /dev/full takes the open and fails every write with ENOSPC: the first
 * flush (the lines sit in stdio's buffer until then) reports it, and so does
 * every call after it, the close included. */
static void test_enospc_is_sticky(void **state) {
  fl_history_t *h = NULL;
  fl_err_t err = {0};
  assert_int_equal(fl_history_open(&h, "/dev/full", &err), 0);
  json_t *v = json_integer(5);
  assert_int_equal(fl_history_invoke(h, 1, "write", "x", v, 10), 0);
  assert_int_equal(fl_history_write_error(h, NULL), 0);
  assert_int_equal(fl_history_flush(h), -ENOSPC);
  assert_int_equal(fl_history_write_error(h, &err), -ENOSPC);
  assert_non_null(strstr(err.msg, "cannot write /dev/full: No space left on device"));
  assert_int_equal(fl_history_complete(h, 1, "ok", "write", "x", v, 20, NULL), -ENOSPC);
  assert_int_equal(fl_history_flush(h), -ENOSPC);
  assert_int_equal(fl_history_close(h), -ENOSPC);
  json_decref(v);
}

/* A writer whose disk is fine says so at every step. */
static void test_ok_file(void **state) {
  char path[] = "/tmp/fl_histw_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fl_history_t *h = NULL;
  assert_int_equal(fl_history_open(&h, path, NULL), 0);
  assert_int_equal(fl_history_invoke(h, 1, "read", "x", NULL, 1), 0);
  assert_int_equal(fl_history_complete(h, 1, "ok", "read", "x", NULL, 2, NULL), 0);
  assert_int_equal(fl_history_flush(h), 0);
  assert_int_equal(fl_history_write_error(h, NULL), 0);
  assert_int_equal(fl_history_close(h), 0);
  FILE *f = fopen(path, "r");
  char line[256];
  int n = 0;
  while (fgets(line, sizeof(line), f) != NULL)
    n++;
  fclose(f);
  assert_int_equal(n, 2);
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_enospc_is_sticky),
      cmocka_unit_test(test_ok_file),
  };
  return cmocka_run_group_tests_name("history_write", tests, NULL, NULL);
}
