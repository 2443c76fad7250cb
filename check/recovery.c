/* The recovery checker: after a fault heals, how long until operations
 * succeed again, as a stated run of consecutive ok completions (check.h). */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/check.h"

typedef struct {
  uint32_t pos;
  uint32_t op;
} done_t;

static int done_cmp(const void *a, const void *b) {
  uint32_t x = ((const done_t *)a)->pos, y = ((const done_t *)b)->pos;
  return x < y ? -1 : x > y;
}

int fl_check_recovery(const fl_ops_t *ops, uint64_t heal_ns, size_t run, double limit_s,
                      json_t **out, fl_err_t *err) {
  *out = NULL;
  if (run == 0)
    return fl_err_set(err, FL_EUSAGE,
                      "recovery: the run of successes must be at least 1");

  /* The completions at or after the heal, in history order. */
  done_t *d = fl_malloc((ops->len + 1) * sizeof(*d));
  size_t n = 0;
  for (size_t i = 0; i < ops->len; i++) {
    const fl_op_t *op = &ops->v[i];
    if (op->complete_line != 0 && op->complete_ns >= heal_ns)
      d[n++] = (done_t){op->complete_pos, (uint32_t)i};
  }
  qsort(d, n, sizeof(*d), done_cmp);

  const fl_op_t *first = NULL;
  size_t streak = 0, failures = 0;
  for (size_t i = 0; i < n && streak < run; i++) {
    const fl_op_t *op = &ops->v[d[i].op];
    if (op->type == FL_OP_OK) {
      if (streak++ == 0)
        first = op;
    } else {
      streak = 0;
      failures++;
    }
  }
  fl_free(d);
  int recovered = streak >= run;

  json_t *o = json_object();
  json_object_set_new(o, "model", json_string("recovery"));
  json_object_set_new(o, "recovered", json_boolean(recovered));
  json_object_set_new(o, "run", json_integer((json_int_t)run));
  json_object_set_new(o, "heal_ns", json_integer((json_int_t)heal_ns));
  json_object_set_new(o, "failures_after_heal", json_integer((json_int_t)failures));
  int valid = recovered;
  if (recovered) {
    uint64_t rec = first->complete_ns - heal_ns;
    json_object_set_new(o, "recovery_ns", json_integer((json_int_t)rec));
    json_object_set_new(o, "recovery_s", json_real((double)rec / 1e9));
    json_object_set_new(o, "first_ok", fl_op_to_json(first));
    if (limit_s > 0 && (double)rec / 1e9 > limit_s)
      valid = 0;
  } else {
    json_object_set_new(o, "recovery_ns", json_string("never"));
    json_object_set_new(o, "recovery_s", json_null());
  }
  if (limit_s > 0)
    json_object_set_new(o, "limit_s", json_real(limit_s));
  json_object_set_new(o, "valid", json_boolean(valid));
  *out = o;
  return 0;
}
