/* `faultline init` (harness/cmd_init.c): its arguments, the embedded layout,
 * and that it writes every file once and never overwrites one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/cmd_init.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(v) ((int)(sizeof(v) / sizeof(v[0])) - 1)
#define CALL(out, err, ...)                                                              \
  fl_init_args_parse(out, ARGC(((char *[]){__VA_ARGS__, NULL})), ARGV(__VA_ARGS__), err)

static void test_args(void **state) {
  (void)state;
  fl_init_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(&a, &err, "init"), 0);
  assert_string_equal(a.dir, ".");
  assert_int_equal(CALL(&a, &err, "init", "proj"), 0);
  assert_string_equal(a.dir, "proj");
  assert_int_equal(CALL(&a, &err, "init", "a", "b"), FL_EUSAGE);
  assert_non_null(strstr(err.msg, "\"b\""));
  assert_int_equal(CALL(&a, &err, "init", "--bogus"), FL_EUSAGE);
  assert_int_equal(CALL(&a, &err, "init", "--help"), 0);
  assert_int_equal(a.help, 1);
}

static int has(const char *path) {
  for (const fl_init_file_t *f = fl_init_files(); f->path != NULL; f++)
    if (strcmp(f->path, path) == 0)
      return strlen(f->text) > 0;
  return 0;
}

static void test_layout(void **state) {
  (void)state;
  assert_true(has("scenarios/web-recovers.lua"));
  assert_true(has("scenarios/lib/web.lua"));
  assert_true(has(".github/workflows/faultline.yml"));
  assert_true(has(".gitlab-ci.yml"));
  for (const fl_init_file_t *f = fl_init_files(); f->path != NULL; f++) {
    size_t n = strlen(f->text);
    assert_true(n > 0 && f->text[n - 1] == '\n'); /* whole lines */
  }
}

static void test_write_once(void **state) {
  (void)state;
  char tmpl[] = "/tmp/fl-init-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char *dir = fl_asprintf("%s/new/deeper", tmpl);
  fl_err_t err = {0};
  assert_int_equal(fl_init_write(dir, NULL, &err), 0);
  struct stat st;
  for (const fl_init_file_t *f = fl_init_files(); f->path != NULL; f++) {
    char *p = fl_asprintf("%s/%s", dir, f->path);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((size_t)st.st_size, strlen(f->text));
    fl_free(p);
  }
  /* A second time: refused, naming the first file, nothing changed. */
  char *first = fl_asprintf("%s/%s", dir, fl_init_files()[0].path);
  FILE *fp = fopen(first, "w");
  fputs("mine\n", fp);
  fclose(fp);
  assert_int_equal(fl_init_write(dir, NULL, &err), FL_EUSAGE);
  assert_non_null(strstr(err.msg, "already exists"));
  assert_int_equal(stat(first, &st), 0);
  assert_int_equal(st.st_size, 5);
  fl_free(first);
  fl_free(dir);
  fl_rm_tree(tmpl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_write_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
