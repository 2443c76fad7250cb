/* base/error: names and messages for faultline's own codes and for
 * libuv's, and fl_err_set / fl_err_clear with and without an fl_err_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "base/error.h"

/* Every code of the X-macro list has its own name and message, and the
 * codes stay clear of libuv's range (they must never be mistaken for one). */
static void test_own_codes(void **state) {
  struct {
    int code;
    const char *name;
    const char *msg;
  } rows[] = {
#define ROW(name, code, msg) {code, #name, msg},
      FL_ERRNO_MAP(ROW)
#undef ROW
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    assert_string_equal(fl_errname(rows[i].code), rows[i].name);
    assert_string_equal(fl_strerror(rows[i].code), rows[i].msg);
    assert_true(rows[i].code < -30000);
    for (size_t j = 0; j < i; j++)
      assert_int_not_equal(rows[i].code, rows[j].code);
  }
  assert_string_equal(fl_errname(FL_ENOTREADY), "ENOTREADY");
  assert_string_equal(fl_strerror(FL_ENOTREADY), "service never became ready");
  assert_string_equal(fl_errname(FL_ETIMEOUT), "ETIMEOUT");
  assert_string_equal(fl_errname(FL_ENOSUPPORT), "ENOSUPPORT");
}

/* libuv's codes pass through unchanged, with libuv's own names. */
static void test_uv_codes(void **state) {
  assert_string_equal(fl_errname(UV_ECONNREFUSED), "ECONNREFUSED");
  assert_string_equal(fl_strerror(UV_ECONNREFUSED), uv_strerror(UV_ECONNREFUSED));
  assert_string_equal(fl_errname(UV_ETIMEDOUT), "ETIMEDOUT");
  assert_string_equal(fl_errname(UV_ENOENT), "ENOENT");
  assert_string_equal(fl_strerror(UV_ENOENT), "no such file or directory");
  assert_string_equal(fl_errname(UV_E2BIG), "E2BIG");
  assert_string_equal(fl_errname(0), "OK");
  assert_string_equal(fl_strerror(0), "success");
  /* Every libuv code gets libuv's text. */
#define UV_ROW(name, msg)                                                                \
  assert_string_equal(fl_strerror(UV_##name), uv_strerror(UV_##name));                   \
  assert_string_equal(fl_errname(UV_##name), uv_err_name(UV_##name));
  UV_ERRNO_MAP(UV_ROW)
#undef UV_ROW
  /* Something nobody defined still gets text, never NULL, and nothing is
   * allocated for it (libuv's own calls leak there: ASan would say). */
  for (int i = 0; i < 3; i++) {
    assert_non_null(fl_strerror(-29999));
    assert_string_equal(fl_errname(-29999), "UNKNOWN");
    assert_non_null(fl_strerror(5));
  }
}

static void test_err_set(void **state) {
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(err.code, 0);
  assert_string_equal(err.msg, "");
  assert_int_equal(fl_err_set(&err, FL_ECONFIG, "service %s: bad %s", "db", "cmd"),
                   FL_ECONFIG);
  assert_int_equal(err.code, FL_ECONFIG);
  assert_string_equal(err.msg, "service db: bad cmd");
  /* No fl_err_t: the code still comes back. */
  assert_int_equal(fl_err_set(NULL, UV_ENOENT, "x"), UV_ENOENT);
  fl_err_clear(NULL);
  /* A message longer than the buffer is cut, and stays terminated. */
  char big[3000];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  fl_err_set(&err, FL_EPARSE, "%s", big);
  assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
  fl_err_clear(&err);
  assert_int_equal(err.code, 0);
  assert_string_equal(err.msg, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_own_codes),
      cmocka_unit_test(test_uv_codes),
      cmocka_unit_test(test_err_set),
  };
  return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
