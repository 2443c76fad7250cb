/* base/parse: numbers typed by a user, accepted only when the whole string
 * is the number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>

#include "base/error.h"
#include "base/parse.h"

static void test_u64(void **state) {
  uint64_t v = 42;
  assert_int_equal(fl_parse_u64("0", &v), 0);
  assert_true(v == 0);
  assert_int_equal(fl_parse_u64("976271914", &v), 0);
  assert_true(v == 976271914ull);
  assert_int_equal(fl_parse_u64("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
  static const char *const bad[] = {
      "", "-1", "+1", " 1", "1 ", "abc", "12abc", "1e3", "0x10", "18446744073709551616"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 7;
    assert_int_equal(fl_parse_u64(bad[i], &v), FL_EPARSE);
    assert_true(v == 7); /* untouched on error */
  }
  assert_int_equal(fl_parse_u64(NULL, &v), FL_EPARSE);
}

static void test_int_range(void **state) {
  int v = 0;
  assert_int_equal(fl_parse_int("1", 1, 256, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(fl_parse_int("256", 1, 256, &v), 0);
  assert_int_equal(v, 256);
  assert_int_equal(fl_parse_int("-3", -5, 5, &v), 0);
  assert_int_equal(v, -3);
  v = 9;
  assert_int_equal(fl_parse_int("0", 1, 256, &v), FL_EPARSE);
  assert_int_equal(fl_parse_int("257", 1, 256, &v), FL_EPARSE);
  assert_int_equal(fl_parse_int("99999999999999999999", 1, 256, &v), FL_EPARSE);
  assert_int_equal(fl_parse_int("3x", 1, 256, &v), FL_EPARSE);
  assert_int_equal(fl_parse_int("", 1, 256, &v), FL_EPARSE);
  assert_int_equal(fl_parse_int("-", -5, 5, &v), FL_EPARSE);
  assert_int_equal(v, 9);
}

static void test_seconds(void **state) {
  double v = 0;
  assert_int_equal(fl_parse_seconds("0.5", &v), 0);
  assert_true(v == 0.5);
  assert_int_equal(fl_parse_seconds("30", &v), 0);
  assert_true(v == 30);
  static const char *const bad[] = {"",   "0",   "-1",  "abc",  "5s",
                                    " 5", "inf", "nan", "1e999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 3;
    assert_int_equal(fl_parse_seconds(bad[i], &v), FL_EPARSE);
    assert_true(v == 3);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_u64),
      cmocka_unit_test(test_int_range),
      cmocka_unit_test(test_seconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
