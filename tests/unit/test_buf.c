/* base/buf.c: the shell quoting every re-run command is built with (the one
 * fl_buf_shell_quote), checked against a real POSIX shell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uv.h>

#include "base/buf.h"

static const char *quote(fl_buf_t *b, const char *s) {
  fl_buf_reset(b);
  assert_int_equal(fl_buf_shell_quote(b, s), 0);
  return fl_buf_str(b);
}

static void test_quote_forms(void **state) {
  fl_buf_t b;
  fl_buf_init(&b, 4096);
  assert_string_equal(quote(&b, "scenarios/demo/kill.lua"), "scenarios/demo/kill.lua");
  assert_string_equal(quote(&b, "a@b%c+d=e:f,g_h-1"), "a@b%c+d=e:f,g_h-1");
  assert_string_equal(quote(&b, ""), "''");
  assert_string_equal(quote(&b, "kill and restart"), "'kill and restart'");
  assert_string_equal(quote(&b, "it's"), "'it'\\''s'");
  assert_string_equal(quote(&b, "~root"), "'~root'");
  assert_string_equal(quote(&b, "$HOME"), "'$HOME'");
  fl_buf_free(&b);
  /* A cap too small: the buffer says so (and drops what follows). */
  fl_buf_init(&b, 4);
  assert_int_equal(fl_buf_shell_quote(&b, "a b c"), UV_ENOBUFS);
  assert_true(b.full);
  fl_buf_free(&b);
}

/* Each quoted word, pasted into sh, is the word again. */
static void test_quote_round_trip(void **state) {
  static const char *const words[] = {
      "plain", "",     "two words", "it's",  "''",        "\\'",         "a\"b",
      "$(id)", "`id`", "x;y|z&",    "*?[a]", "tab\there", "line\nbreak", "!bang",
      "#hash", "~",    "é ü",       "-n",    "a=b c",
  };
  fl_buf_t cmd;
  fl_buf_init(&cmd, 1 << 16);
  fl_buf_puts(&cmd, "for w in");
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    fl_buf_puts(&cmd, " ");
    fl_buf_shell_quote(&cmd, words[i]);
  }
  fl_buf_puts(&cmd, "; do printf '%s\\0' \"$w\"; done");
  fl_buf_t q;
  fl_buf_init(&q, 1 << 16);
  fl_buf_puts(&q, "sh -c ");
  fl_buf_shell_quote(&q, fl_buf_str(&cmd));
  FILE *p = popen(fl_buf_str(&q), "r");
  assert_non_null(p);
  char out[4096];
  size_t n = fread(out, 1, sizeof(out), p);
  assert_int_equal(pclose(p), 0);
  size_t at = 0;
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    assert_true(at < n);
    assert_string_equal(out + at, words[i]);
    at += strlen(words[i]) + 1;
  }
  assert_int_equal(at, n);
  fl_buf_free(&cmd);
  fl_buf_free(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote_forms),
      cmocka_unit_test(test_quote_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
