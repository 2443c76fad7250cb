/* The public entry points: a history file or parsed ops checked against a
 * model of the table in models.c. */
#include "check/check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "check/edn.h"
#include "check/txn.h"

#include "check/partition.h"

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
  const fl_check_model_t *m = fl_check_model_find(model);
  if (m == NULL) {
    char names[256];
    return fl_err_set(err, FL_EUSAGE, "unknown model \"%s\" (%s)",
                      model != NULL ? model : "",
                      fl_check_model_names(names, sizeof(names), ", ", " or "));
  }
  return m->fn(ops, m->name, opts, out, err);
}

/* A Jepsen history.edn, read whole, converted (edn.c) and parsed. */
static int read_edn(fl_ops_t **ops, const char *path, fl_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fl_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
  fl_buf_t text, json;
  fl_buf_init(&text, (size_t)4 << 30);
  fl_buf_init(&json, (size_t)4 << 30);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    fl_buf_add(&text, chunk, n);
  int rerr = ferror(f);
  fclose(f);
  int r = rerr ? fl_err_set(err, -EIO, "cannot read %s", path)
               : fl_edn_to_jsonl(text.data ? text.data : "", text.len, path, &json, err);
  if (r == 0)
    r = fl_history_parse(ops, json.data ? json.data : "", json.len, path, err);
  fl_buf_free(&text);
  fl_buf_free(&json);
  return r;
}

int fl_check_file(const char *history_path, const char *model, double timeout_s,
                  json_t **out, fl_err_t *err) {
  fl_check_opts_t opts = {0};
  opts.timeout_s = timeout_s;
  return fl_check_file_opts(history_path, model, &opts, out, err);
}

int fl_check_file_opts(const char *history_path, const char *model,
                       const fl_check_opts_t *given, json_t **out, fl_err_t *err) {
  *out = NULL;
  if (!fl_check_model_known(model))
    return fl_check_ops(NULL, model, NULL, out, err);
  /* Transactions stream into the checker's arrays (txn_read.c). */
  if (fl_check_model_find(model)->fn == fl_checker_txn)
    return fl_txn_check_file(history_path, model, given, out, err);
  uint64_t t0 = fl_check_now_ns();
  fl_ops_t *ops;
  int r = given->edn ? read_edn(&ops, history_path, err)
                     : fl_history_read(&ops, history_path, err);
  if (r != 0)
    return r;
  double parse_s = (double)(fl_check_now_ns() - t0) / 1e9;
  fl_check_opts_t opts = *given;
  r = fl_check_ops(ops, model, &opts, out, err);
  if (r == 0) {
    json_object_set_new(*out, "file", json_string(history_path));
    json_object_set_new(*out, "parse_s", json_real(parse_s));
  }
  fl_ops_free(ops);
  return r;
}
