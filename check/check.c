/* The checkers by name: one row per model, so that adding a model is one new
 * file and one row. */
#include "check/check.h"

#include <string.h>

#include "check/partition.h"

typedef int (*check_fn)(const fl_ops_t *ops, const char *model,
                        const fl_check_opts_t *opts, json_t **out, fl_err_t *err);

static int run_linear(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                      json_t **out, fl_err_t *err) {
  fl_linear_model_t m;
  fl_linear_model_parse(model, &m);
  return fl_check_linear(ops, m, opts, out, err);
}

static int run_set(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                   json_t **out, fl_err_t *err) {
  return fl_check_set(ops, out, err);
}

static int run_counter(const fl_ops_t *ops, const char *model,
                       const fl_check_opts_t *opts, json_t **out, fl_err_t *err) {
  return fl_check_counter(ops, out, err);
}

static const struct {
  const char *name;
  check_fn fn;
} models[] = {
    {"register", run_linear}, {"cas-register", run_linear}, {"kv", run_linear},
    {"set", run_set},         {"counter", run_counter},
};

static check_fn find_model(const char *name) {
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
    if (strcmp(models[i].name, name) == 0)
      return models[i].fn;
  return NULL;
}

int fl_check_model_known(const char *name) {
  return name != NULL && find_model(name) != NULL;
}

fl_check_status_t fl_check_status(const json_t *result) {
  const json_t *v = json_object_get(result, "valid");
  if (json_is_true(v))
    return FL_CHECK_VALID;
  if (json_is_false(v))
    return FL_CHECK_INVALID;
  return FL_CHECK_UNKNOWN;
}

int fl_check_ops(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                 json_t **out, fl_err_t *err) {
  *out = NULL;
  check_fn fn = model != NULL ? find_model(model) : NULL;
  if (fn == NULL)
    return fl_err_set(err, FL_EUSAGE,
                      "unknown model \"%s\" (register, cas-register, kv, set or counter)",
                      model != NULL ? model : "");
  return fn(ops, model, opts, out, err);
}

int fl_check_file(const char *history_path, const char *model, double timeout_s,
                  json_t **out, fl_err_t *err) {
  *out = NULL;
  if (!fl_check_model_known(model))
    return fl_check_ops(NULL, model, NULL, out, err);
  uint64_t t0 = fl_check_now_ns();
  fl_ops_t *ops;
  int r = fl_history_read(&ops, history_path, err);
  if (r != 0)
    return r;
  double parse_s = (double)(fl_check_now_ns() - t0) / 1e9;
  fl_check_opts_t opts = {0};
  opts.timeout_s = timeout_s;
  r = fl_check_ops(ops, model, &opts, out, err);
  if (r == 0) {
    json_object_set_new(*out, "file", json_string(history_path));
    json_object_set_new(*out, "parse_s", json_real(parse_s));
  }
  fl_ops_free(ops);
  return r;
}
