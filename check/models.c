/* The checkers, one row per model: `faultline check --model` and its list,
 * `faultline check --help`, the unknown-model messages, the Lua fl.check.*
 * functions and the model lists in README.md and check/README.md all read
 * this table.
 *
 * Adding a checker is one new file and one row: check/NAME.c defines
 *
 *   int fl_checker_NAME(const fl_ops_t *ops, const char *model,
 *                       const fl_check_opts_t *opts, json_t **out, fl_err_t *err);
 *
 * (see fl_checker_fn in check.h for what it must return), and one X(...) row
 * below names it. CMake finds the new file by its glob; the row declares the
 * function, so no header changes. Then `FL_UPDATE_DOCS=1 ctest -R
 * check_models_doc` rewrites the model lists in the READMEs from the rows. */
#include <stdio.h>
#include <string.h>

#include "check/check.h"

/* The rows: X(name, fl.check.<lua>, default model of that Lua call, history
 * kind (the f's its histories hold), the Lua call's options, one-line
 * summary, function). Order is the order of every list. */
/* clang-format off */
#define FL_CHECK_MODELS(X)                                                                \
  X("register", "linearizable", 0, "read, write", "model history timeout name",           \
    "linearizable as registers, one per key", fl_checker_linear)                          \
  X("cas-register", "linearizable", 0, "read, write, cas [old, new]",                     \
    "model history timeout name",                                                         \
    "linearizable as compare-and-set registers, one per key", fl_checker_linear)          \
  X("kv", "linearizable", 1, "read, write, cas [old, new], by key",                       \
    "model history timeout name",                                                         \
    "linearizable as a map of independent cas-registers", fl_checker_linear)              \
  X("set", "set", 1, "add, read (the whole set)", "history timeout name expect_loss",     \
    "every acknowledged add is in the final read; nothing unexpected or twice",           \
    fl_checker_set)                                                                       \
  X("counter", "counter", 1, "add, read (an integer)", "history timeout name",             \
    "every read lies within what acknowledged and indeterminate adds allow",              \
    fl_checker_counter)                                                                   \
  X("list-append", "transactions", 1,                                                     \
    "txn: [[\"append\", k, v], [\"r\", k, [v...]]]",                                  \
    "model history timeout name consistency realtime process",                             \
    "no cycle or data anomaly the consistency model forbids (Elle's list-append)",         \
    fl_checker_txn)                                                                       \
  X("rw-register", "transactions", 0, "txn: [[\"w\", k, v], [\"r\", k, v]]",            \
    "model history timeout name consistency realtime process",                             \
    "no cycle or data anomaly the consistency model forbids (Elle's rw-register)",         \
    fl_checker_txn)
/* clang-format on */

#define DECLARE(name, lua, dflt, ops, options, summary, fn) fl_checker_fn fn;
FL_CHECK_MODELS(DECLARE)
#undef DECLARE

#define ROW(name, lua, dflt, ops, options, summary, fn)                                  \
  {name, lua, dflt, ops, options, summary, fn},
static const fl_check_model_t models[] = {FL_CHECK_MODELS(ROW)};
#undef ROW

#define NMODELS (sizeof(models) / sizeof(models[0]))

const fl_check_model_t *fl_check_models(size_t *n) {
  *n = NMODELS;
  return models;
}

const fl_check_model_t *fl_check_model_find(const char *name) {
  for (size_t i = 0; name != NULL && i < NMODELS; i++)
    if (strcmp(models[i].name, name) == 0)
      return &models[i];
  return NULL;
}

int fl_check_model_known(const char *name) {
  return fl_check_model_find(name) != NULL;
}

char *fl_check_model_names(char *buf, size_t size, const char *sep, const char *last) {
  size_t used = 0;
  if (size == 0)
    return buf;
  buf[0] = '\0';
  for (size_t i = 0; i < NMODELS && used < size; i++) {
    const char *s = i == 0 ? "" : i + 1 == NMODELS ? last : sep;
    int n = snprintf(buf + used, size - used, "%s%s", s, models[i].name);
    if (n < 0)
      break;
    used += (size_t)n;
  }
  return buf;
}
