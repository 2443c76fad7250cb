/* Findings: the anomalies a scenario was told to expect and found (a check
 * recorded with expected_finding = true whose status is "pass": a set check
 * with expect_loss that found lost writes, util.finding, ...). Such a
 * scenario passes *with findings*; every output says so with the count. A
 * run writes them into report.json as "findings" (fl_report_findings on
 * its own report); a report written before that key existed gets the same
 * list built from its checks, so every renderer works from report.json
 * alone. */
#include "reports/report.h"

#include <string.h>

#include "base/alloc.h"
#include "reports/internal.h"

#define MAX_FINDING_OPS 200 /* operations listed per finding */

/* The figures a check may count its anomalies in, most specific first. */
static const char *const count_keys[] = {"lost_count", "duplicates_count", "stale_count",
                                         "anomalies_count", "count"};
/* Where a check's evidence lists the operations it found. */
static const char *const op_lists[] = {"lost_ops", "lost_adds", "duplicate_ops",
                                       "stale_ops", "ops"};

static double seconds_of(const json_t *op, const char *s_key, const char *ns_key) {
  if (fl__jisnum(op, s_key))
    return fl__jnum(op, s_key, 0);
  if (fl__jisnum(op, ns_key))
    return fl__jnum(op, ns_key, 0) / 1e9;
  return -1;
}

/* Returns new: op in the findings' shape {process, f, key, value, type,
 * invoke_s, complete_s}, or NULL when it is not an operation. */
static json_t *op_of(const json_t *op) {
  if (!json_is_object(op))
    return NULL;
  json_t *o = json_object();
  static const char *const copied[] = {"process", "f", "key", "value", "type"};
  for (size_t i = 0; i < FL_ARRAY_SIZE(copied); i++) {
    json_t *x = json_object_get(op, copied[i]);
    if (x != NULL)
      json_object_set(o, copied[i], x);
  }
  double inv = seconds_of(op, "invoke_s", "invoke_ns");
  double comp = seconds_of(op, "complete_s", "complete_ns");
  if (inv >= 0)
    json_object_set_new(o, "invoke_s", json_real(inv));
  json_object_set_new(o, "complete_s", comp >= 0 ? json_real(comp) : json_null());
  return o;
}

static void add_ops(json_t *out, const json_t *list) {
  size_t i;
  json_t *op;
  json_array_foreach(list, i, op) {
    if (json_array_size(out) >= MAX_FINDING_OPS)
      return;
    json_t *o = op_of(op);
    if (o != NULL)
      json_array_append_new(out, o);
  }
}

/* The operations a check's evidence (or its own "finding") names. */
static json_t *ops_of(const json_t *c, const json_t *given) {
  json_t *ops = json_array();
  if (fl__jarr(given, "ops") != NULL) {
    add_ops(ops, fl__jarr(given, "ops"));
    return ops;
  }
  const json_t *ev = fl__jobj(c, "evidence");
  for (size_t i = 0; i < FL_ARRAY_SIZE(op_lists); i++)
    add_ops(ops, fl__jarr(ev, op_lists[i]));
  json_t *one = op_of(fl__jobj(ev, "op"));
  if (one != NULL)
    json_array_append_new(ops, one);
  return ops;
}

/* What a check found, in words: its "finding" says, else its message
 * without the "expected finding: " every built-in finding starts with. */
static const char *what_of(const json_t *c, const json_t *given) {
  const char *w = fl__jstr(given, "what", NULL);
  if (w != NULL)
    return w;
  const char *m = fl__jstr(c, "message", "found");
  static const char prefix[] = "expected finding: ";
  return strncmp(m, prefix, sizeof(prefix) - 1) == 0 ? m + sizeof(prefix) - 1 : m;
}

/* Returns new: the finding of check c, or NULL when c is none. */
static json_t *finding_of(const json_t *c) {
  if (!json_is_true(json_object_get(c, "expected_finding")) ||
      strcmp(fl__jstr(c, "status", ""), "pass") != 0)
    return NULL;
  const json_t *given = fl__jobj(c, "finding");
  json_t *ops = ops_of(c, given);
  double count = fl__jnum(given, "count", -1);
  for (size_t i = 0; count < 0 && i < FL_ARRAY_SIZE(count_keys); i++)
    count = fl__jnum(c, count_keys[i], -1);
  if (count < 0)
    count = json_array_size(ops) > 0 ? (double)json_array_size(ops) : 1;
  if (!(count <= 1e15)) /* a report from elsewhere: keep the cast defined */
    count = 1e15;
  json_t *f = json_object();
  json_object_set_new(f, "check", json_string(fl__jstr(c, "name", "check")));
  if (fl__jstr(c, "kind", NULL) != NULL)
    json_object_set_new(f, "kind", json_string(fl__jstr(c, "kind", "")));
  json_object_set_new(f, "what", json_string(what_of(c, given)));
  json_object_set_new(f, "count", json_integer((json_int_t)count));
  if (fl__jstr(c, "message", NULL) != NULL)
    json_object_set_new(f, "message", json_string(fl__jstr(c, "message", "")));
  json_object_set_new(f, "ops", ops);
  return f;
}

json_t *fl_report_findings(const json_t *report) {
  json_t *given = json_object_get(report, "findings");
  if (json_is_array(given))
    return json_incref(given);
  json_t *out = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(fl__jarr(report, "checks"), i, c) {
    json_t *f = finding_of(c);
    if (f != NULL)
      json_array_append_new(out, f);
  }
  return out;
}

size_t fl_report_findings_count(const json_t *report) {
  json_t *f = fl_report_findings(report);
  size_t n = json_array_size(f);
  json_decref(f);
  return n;
}
