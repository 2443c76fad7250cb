/* The counter checker: every ok read within the bounds that the adds allow
 * (check.h). Bounds come from prefix sums over history positions, so a
 * check is O(n log n) whatever the number of reads. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/check.h"
#include "check/partition.h"

#define MAX_ERRORS 20

/* Totals are informative: they wrap rather than overflow (the bounds, which
 * decide, are checked for overflow). */
#define WRAP_ADD(a, b) ((a) = (int64_t)((uint64_t)(a) + (uint64_t)(b)))

typedef struct {
  uint32_t pos;
  int64_t sum, pos_sum, neg_sum; /* prefix sums up to and including this add */
} pref_t;

/* The prefix (sum, positive part, negative part) of the adds in a whose
 * position is below pos. */
static const pref_t *prefix_below(const pref_t *a, size_t n, uint32_t pos) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (a[mid].pos < pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == 0 ? NULL : &a[lo - 1];
}

static int pref_cmp(const void *x, const void *y) {
  uint32_t a = ((const pref_t *)x)->pos, b = ((const pref_t *)y)->pos;
  return a < b ? -1 : a > b;
}

static int accumulate(pref_t *a, size_t n) {
  int64_t s = 0, ps = 0, ns = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t v = a[i].sum;
    if (__builtin_add_overflow(s, v, &s) ||
        __builtin_add_overflow(v > 0 ? ps : ns, v, v > 0 ? &ps : &ns))
      return -1;
    a[i].sum = s;
    a[i].pos_sum = ps;
    a[i].neg_sum = ns;
  }
  return 0;
}

typedef struct {
  size_t reads, acked, info, errors;
  int64_t acked_sum, info_sum;
} ctotals_t;

static json_t *bound_json(const fl_op_t *op, int64_t value, int64_t lower,
                          int64_t upper) {
  json_t *o = json_object();
  json_object_set_new(o, "op", fl_op_to_json(op));
  json_object_set_new(o, "value", json_integer(value));
  json_object_set_new(o, "lower", json_integer(lower));
  json_object_set_new(o, "upper", json_integer(upper));
  return o;
}

/* Checks that every op is a counter op with integer values; counts the adds
 * into *nadd. */
static int validate_ops(const fl_ops_t *ops, const uint32_t *idx, size_t n, size_t *nadd,
                        fl_err_t *err) {
  *nadd = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk == FL_F_ADD) {
      if (!json_is_integer(op->value))
        return fl_err_set(err, FL_EPARSE,
                          "%s:%" PRIu32 ": a counter add's value must be an integer",
                          ops->name, op->invoke_line);
      (*nadd)++;
    } else if (op->fk == FL_F_READ) {
      if (op->type == FL_OP_OK && !json_is_integer(op->result))
        return fl_err_set(err, FL_EPARSE,
                          "%s:%" PRIu32 ": a counter read's value must be an integer",
                          ops->name, op->complete_line);
    } else {
      return fl_err_set(err, FL_EPARSE,
                        "%s:%" PRIu32
                        ": f \"%s\" is not an operation of the counter model "
                        "(add, read)",
                        ops->name, op->invoke_line, op->f);
    }
  }
  return 0;
}

/* Fills done (ok adds by completion position) and maybe (ok and info adds
 * by invoke position, already in order) and counts the adds into t. */
static void collect_adds(const fl_ops_t *ops, const uint32_t *idx, size_t n, pref_t *done,
                         size_t *nd, pref_t *maybe, size_t *nm, ctotals_t *t) {
  *nd = *nm = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk != FL_F_ADD || op->type == FL_OP_FAIL)
      continue;
    int64_t v = json_integer_value(op->value);
    maybe[(*nm)++] = (pref_t){op->invoke_pos, v, 0, 0};
    if (op->type == FL_OP_OK) {
      done[(*nd)++] = (pref_t){op->complete_pos, v, 0, 0};
      t->acked++;
      WRAP_ADD(t->acked_sum, v);
    } else {
      t->info++;
      WRAP_ADD(t->info_sum, v);
    }
  }
}

/* Checks every ok read against its bounds: the first MAX_ERRORS out of
 * bounds into errors, the last read's bounds into *final. */
static void check_reads(const fl_ops_t *ops, const uint32_t *idx, size_t n,
                        const pref_t *done, size_t nd, const pref_t *maybe, size_t nm,
                        json_t *errors, json_t **final, ctotals_t *t) {
  const fl_op_t *final_op = NULL;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk != FL_F_READ || op->type != FL_OP_OK)
      continue;
    t->reads++;
    const pref_t *d = prefix_below(done, nd, op->invoke_pos);
    const pref_t *mb = prefix_below(maybe, nm, op->complete_pos);
    int64_t dsum = d ? d->sum : 0, dpos = d ? d->pos_sum : 0, dneg = d ? d->neg_sum : 0;
    int64_t mpos = mb ? mb->pos_sum : 0, mneg = mb ? mb->neg_sum : 0;
    int64_t lower = dsum + (mneg - dneg), upper = dsum + (mpos - dpos);
    int64_t value = json_integer_value(op->result);
    if (value < lower || value > upper) {
      if (t->errors++ < MAX_ERRORS)
        json_array_append_new(errors, bound_json(op, value, lower, upper));
    }
    if (final_op == NULL || op->complete_pos > final_op->complete_pos) {
      final_op = op;
      json_decref(*final);
      *final = bound_json(op, value, lower, upper);
    }
  }
}

/* One key's object; takes errors and final. */
static json_t *key_json(const ctotals_t *t, json_t *errors, json_t *final) {
  json_t *o = json_object();
  json_object_set_new(o, "valid",
                      t->errors > 0  ? json_false()
                      : t->reads > 0 ? json_true()
                                     : json_string("unknown"));
  json_object_set_new(o, "reads", json_integer((json_int_t)t->reads));
  json_object_set_new(o, "acknowledged", json_integer((json_int_t)t->acked));
  json_object_set_new(o, "acknowledged_sum", json_integer(t->acked_sum));
  json_object_set_new(o, "indeterminate", json_integer((json_int_t)t->info));
  json_object_set_new(o, "indeterminate_sum", json_integer(t->info_sum));
  json_object_set_new(o, "error_count", json_integer((json_int_t)t->errors));
  char msg[512];
  if (t->errors > 0) {
    json_t *e0 = json_array_get(errors, 0);
    snprintf(msg, sizeof(msg),
             "%zu of %zu reads out of bounds; first: process %" JSON_INTEGER_FORMAT
             " read %" JSON_INTEGER_FORMAT " where [%" JSON_INTEGER_FORMAT
             ", %" JSON_INTEGER_FORMAT "] was possible",
             t->errors, t->reads,
             json_integer_value(json_object_get(json_object_get(e0, "op"), "process")),
             json_integer_value(json_object_get(e0, "value")),
             json_integer_value(json_object_get(e0, "lower")),
             json_integer_value(json_object_get(e0, "upper")));
  } else if (t->reads == 0) {
    snprintf(msg, sizeof(msg), "the counter was never read successfully");
  } else {
    snprintf(msg, sizeof(msg),
             "all %zu reads within bounds; final read %" JSON_INTEGER_FORMAT
             " in [%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT "]",
             t->reads, json_integer_value(json_object_get(final, "value")),
             json_integer_value(json_object_get(final, "lower")),
             json_integer_value(json_object_get(final, "upper")));
  }
  json_object_set_new(o, "message", json_string(msg));
  json_object_set_new(o, "errors", errors);
  json_object_set_new(o, "final_read", final);
  return o;
}

/* fl_per_key_t's check_key: one key's report and totals. */
static int check_key(const fl_ops_t *ops, const uint32_t *idx, size_t n, json_t **out,
                     void *totals, fl_err_t *err) {
  ctotals_t *t = totals;
  size_t nadd, nd, nm;
  int r = validate_ops(ops, idx, n, &nadd, err);
  if (r != 0)
    return r;
  pref_t *done = fl_malloc((nadd + 1) * sizeof(*done));
  pref_t *maybe = fl_malloc((nadd + 1) * sizeof(*maybe));
  collect_adds(ops, idx, n, done, &nd, maybe, &nm, t);
  qsort(done, nd, sizeof(*done), pref_cmp);
  if (accumulate(done, nd) != 0 || accumulate(maybe, nm) != 0) {
    r = fl_err_set(err, FL_EPARSE, "%s: the counter's adds overflow 64-bit integers",
                   ops->name);
  } else {
    json_t *errors = json_array(), *final = json_null();
    check_reads(ops, idx, n, done, nd, maybe, nm, errors, &final, t);
    *out = key_json(t, errors, final);
  }
  fl_free(done);
  fl_free(maybe);
  return r;
}

/* fl_per_key_t's add: a key's totals into the sums. */
static int add_totals(void *sum, const void *key) {
  ctotals_t *s = sum;
  const ctotals_t *t = key;
  s->reads += t->reads;
  s->acked += t->acked;
  s->info += t->info;
  s->errors += t->errors;
  WRAP_ADD(s->acked_sum, t->acked_sum);
  WRAP_ADD(s->info_sum, t->info_sum);
  return t->reads > 0;
}

/* fl_per_key_t's summary: the report of zero or several keys. */
static json_t *summary(void *sum, int all_read, size_t nkeys) {
  const ctotals_t *s = sum;
  json_t *result = json_object();
  json_object_set_new(result, "valid",
                      s->errors > 0 ? json_false()
                      : all_read    ? json_true()
                                    : json_string("unknown"));
  json_object_set_new(result, "reads", json_integer((json_int_t)s->reads));
  json_object_set_new(result, "acknowledged", json_integer((json_int_t)s->acked));
  json_object_set_new(result, "acknowledged_sum", json_integer(s->acked_sum));
  json_object_set_new(result, "indeterminate", json_integer((json_int_t)s->info));
  json_object_set_new(result, "indeterminate_sum", json_integer(s->info_sum));
  json_object_set_new(result, "error_count", json_integer((json_int_t)s->errors));
  char msg[256];
  snprintf(msg, sizeof(msg), "%zu keys: %zu of %zu reads out of bounds", nkeys, s->errors,
           s->reads);
  json_object_set_new(result, "message", json_string(msg));
  return result;
}

int fl_check_counter(const fl_ops_t *ops, json_t **out, fl_err_t *err) {
  static const fl_per_key_t m = {"counter", sizeof(ctotals_t), check_key, add_totals,
                                 summary};
  return fl_check_per_key(ops, &m, out, err);
}

/* The row of counter (models.c). */
fl_checker_fn fl_checker_counter;
int fl_checker_counter(const fl_ops_t *ops, const char *model,
                       const fl_check_opts_t *opts, json_t **out, fl_err_t *err) {
  return fl_check_counter(ops, out, err);
}
