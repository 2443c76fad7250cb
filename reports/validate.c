/* fl_report_validate: the rules of reports/schema.json, checked in C so that
 * the run engine can assert its own output (and tests every report they
 * read) without a JSON Schema engine. Keep the two in step: a rule added to
 * one belongs in the other, and tests/unit/test_report.c checks samples
 * against both.
 *
 * Like the schema, it tolerates fields it does not know: the report grows. */
#include "reports/report.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "reports/internal.h"

enum {
  T_STR = 1,
  T_INT = 2,
  T_NUM = 4, /* integer or real */
  T_ARR = 8,
  T_OBJ = 16,
  T_NULL = 32,
  T_SEC = 64, /* a number of seconds: not negative */
};

typedef struct {
  fl_err_t *err;
  char path[256]; /* where we are: "services[1].states[0]" */
} vctx_t;

static int bad(vctx_t *v, const char *key, const char *what) {
  return fl_err_set(v->err, FL_EPARSE, "report.json: %s%s%s: %s", v->path,
                    v->path[0] != '\0' && key != NULL ? "." : "", key != NULL ? key : "",
                    what);
}

static int type_ok(const json_t *x, int types) {
  return ((types & T_STR) && json_is_string(x)) ||
         ((types & T_INT) && json_is_integer(x)) ||
         ((types & T_NUM) && json_is_number(x)) ||
         ((types & T_ARR) && json_is_array(x)) ||
         ((types & T_OBJ) && json_is_object(x)) ||
         ((types & T_NULL) && json_is_null(x)) || ((types & T_SEC) && json_is_number(x));
}

static const char *type_want(int types) {
  switch (types) {
  case T_STR:
    return "expected a string";
  case T_INT:
    return "expected an integer";
  case T_NUM:
    return "expected a number";
  case T_ARR:
    return "expected an array";
  case T_OBJ:
    return "expected an object";
  case T_SEC:
    return "expected a number of seconds";
  case T_NUM | T_NULL:
    return "expected a number or null";
  case T_SEC | T_NULL:
    return "expected a number of seconds or null";
  case T_OBJ | T_NULL:
    return "expected an object or null";
  default:
    return "has the wrong type";
  }
}

/* Checks o.key's type. Returns 0 when it is right or absent but optional. */
static int field(vctx_t *v, const json_t *o, const char *key, int types, int required) {
  json_t *x = json_object_get(o, key);
  if (x == NULL)
    return required ? bad(v, key, "missing") : 0;
  if (!type_ok(x, types))
    return bad(v, key, type_want(types));
  if ((types & T_SEC) && json_is_number(x) && json_number_value(x) < 0)
    return bad(v, key, "must not be negative");
  return 0;
}

static int one_of(vctx_t *v, const json_t *o, const char *key,
                  const char *const *allowed) {
  const char *s = fl__jstr(o, key, NULL);
  if (s == NULL)
    return 0;
  for (; *allowed != NULL; allowed++) {
    if (strcmp(s, *allowed) == 0)
      return 0;
  }
  char what[200];
  snprintf(what, sizeof(what), "\"%.60s\" is not one of the allowed values", s);
  return bad(v, key, what);
}

/* Enters element i of array key: v->path grows, restore with the returned length. */
static size_t enter(vctx_t *v, const char *key, size_t i) {
  size_t len = strlen(v->path);
  snprintf(v->path + len, sizeof(v->path) - len, "%s%s[%zu]", len ? "." : "", key, i);
  return len;
}

static int array_of(vctx_t *v, const json_t *o, const char *key, int types) {
  size_t i;
  json_t *x;
  json_array_foreach(fl__jarr(o, key), i, x) {
    if (!type_ok(x, types)) {
      size_t len = enter(v, key, i);
      int rc = bad(v, NULL, type_want(types));
      v->path[len] = '\0';
      return rc;
    }
  }
  return 0;
}

/* Walks the objects of array key with fn; each must be an object. */
static int each(vctx_t *v, const json_t *o, const char *key,
                int (*fn)(vctx_t *v, const json_t *item)) {
  size_t i;
  json_t *x;
  json_array_foreach(fl__jarr(o, key), i, x) {
    size_t len = enter(v, key, i);
    int rc = json_is_object(x) ? fn(v, x) : bad(v, NULL, "expected an object");
    v->path[len] = '\0';
    if (rc != 0)
      return rc;
  }
  return 0;
}

#define TRY(expr)                                                                        \
  do {                                                                                   \
    int rc_ = (expr);                                                                    \
    if (rc_ != 0)                                                                        \
      return rc_;                                                                        \
  } while (0)

static int state_item(vctx_t *v, const json_t *s) {
  TRY(field(v, s, "t", T_SEC, 1));
  TRY(field(v, s, "state", T_STR, 1));
  TRY(field(v, s, "pid", T_INT, 0));
  TRY(field(v, s, "detail", T_STR, 0));
  return 0;
}

static int service_item(vctx_t *v, const json_t *s) {
  TRY(field(v, s, "name", T_STR, 1));
  if (fl__jstr(s, "name", "")[0] == '\0')
    return bad(v, "name", "must not be empty");
  TRY(field(v, s, "cmd", T_ARR, 0));
  TRY(array_of(v, s, "cmd", T_STR));
  TRY(field(v, s, "log", T_STR, 0));
  TRY(field(v, s, "pids", T_ARR, 0));
  TRY(array_of(v, s, "pids", T_INT));
  TRY(field(v, s, "states", T_ARR, 0));
  return each(v, s, "states", state_item);
}

static int fault_item(vctx_t *v, const json_t *f) {
  TRY(field(v, f, "id", T_INT, 0));
  TRY(field(v, f, "kind", T_STR, 1));
  TRY(field(v, f, "targets", T_ARR, 1));
  TRY(array_of(v, f, "targets", T_STR | T_ARR));
  /* A partition's targets may be its sides: arrays of names. */
  size_t i, j;
  json_t *side, *name;
  json_array_foreach(fl__jarr(f, "targets"), i, side) {
    json_array_foreach(side, j, name) {
      if (!json_is_string(name)) {
        size_t len = enter(v, "targets", i);
        snprintf(v->path + strlen(v->path), sizeof(v->path) - strlen(v->path), "[%zu]",
                 j);
        int rc = bad(v, NULL, "expected a string");
        v->path[len] = '\0';
        return rc;
      }
    }
  }
  TRY(field(v, f, "attrs", T_OBJ, 0));
  TRY(field(v, f, "start_s", T_SEC, 1));
  TRY(field(v, f, "end_s", T_SEC | T_NULL, 1));
  if (fl__jisnum(f, "end_s") && fl__jnum(f, "end_s", 0) < fl__jnum(f, "start_s", 0))
    return bad(v, "end_s", "is before start_s");
  return 0;
}

static int op_item(vctx_t *v, const json_t *op) {
  static const char *const types[] = {"ok", "fail", "info", NULL};
  TRY(field(v, op, "process", T_INT, 0));
  TRY(field(v, op, "f", T_STR, 0));
  TRY(field(v, op, "invoke_s", T_NUM, 0));
  TRY(field(v, op, "complete_s", T_NUM | T_NULL, 0));
  TRY(field(v, op, "type", T_STR, 0));
  return one_of(v, op, "type", types);
}

static int evidence(vctx_t *v, const json_t *ev) {
  TRY(field(v, ev, "op", T_OBJ, 0));
  if (fl__jobj(ev, "op") != NULL) {
    size_t len = strlen(v->path);
    snprintf(v->path + len, sizeof(v->path) - len, ".op");
    int rc = op_item(v, fl__jobj(ev, "op"));
    v->path[len] = '\0';
    TRY(rc);
  }
  TRY(field(v, ev, "concurrent", T_ARR, 0));
  TRY(each(v, ev, "concurrent", op_item));
  TRY(field(v, ev, "before", T_ARR, 0));
  TRY(each(v, ev, "before", op_item));
  TRY(field(v, ev, "message", T_STR, 0));
  return 0;
}

static int check_item(vctx_t *v, const json_t *c) {
  static const char *const statuses[] = {"pass", "fail", "unknown", "error", NULL};
  TRY(field(v, c, "name", T_STR, 1));
  TRY(field(v, c, "status", T_STR, 1));
  TRY(one_of(v, c, "status", statuses));
  TRY(field(v, c, "kind", T_STR, 0));
  TRY(field(v, c, "message", T_STR, 0));
  TRY(field(v, c, "t", T_SEC, 0));
  TRY(field(v, c, "recovery_s", T_SEC | T_NULL, 0));
  TRY(field(v, c, "limit_s", T_SEC | T_NULL, 0));
  TRY(field(v, c, "took_s", T_SEC | T_NULL, 0));
  TRY(field(v, c, "evidence", T_OBJ | T_NULL, 0));
  if (fl__jobj(c, "evidence") != NULL) {
    size_t len = strlen(v->path);
    snprintf(v->path + len, sizeof(v->path) - len, ".evidence");
    int rc = evidence(v, fl__jobj(c, "evidence"));
    v->path[len] = '\0';
    TRY(rc);
  }
  return 0;
}

static int event_item(vctx_t *v, const json_t *e) {
  TRY(field(v, e, "t", T_NUM, 1));
  TRY(field(v, e, "type", T_STR, 1));
  return 0;
}

static int counts(vctx_t *v, const json_t *o) {
  static const char *const keys[] = {"ok", "fail", "info"};
  for (size_t i = 0; i < FL_ARRAY_SIZE(keys); i++) {
    TRY(field(v, o, keys[i], T_INT, 0));
    if (fl__jnum(o, keys[i], 0) < 0)
      return bad(v, keys[i], "must not be negative");
  }
  return 0;
}

static int phase_item(vctx_t *v, const json_t *p) {
  TRY(field(v, p, "name", T_STR, 1));
  TRY(field(v, p, "start_s", T_SEC, 0));
  TRY(field(v, p, "end_s", T_SEC, 0));
  TRY(counts(v, p));
  TRY(field(v, p, "latency_ms", T_OBJ | T_NULL, 0));
  return 0;
}

static int stats(vctx_t *v, const json_t *s) {
  TRY(field(v, s, "ops", T_OBJ, 0));
  if (fl__jobj(s, "ops") != NULL) {
    strcpy(v->path, "stats.ops");
    TRY(counts(v, fl__jobj(s, "ops")));
  }
  strcpy(v->path, "stats");
  TRY(field(v, s, "latency_ms", T_OBJ, 0));
  const char *key;
  json_t *x;
  json_object_foreach(fl__jobj(s, "latency_ms"), key, x) {
    if (!json_is_number(x) && !json_is_null(x)) {
      strcpy(v->path, "stats.latency_ms");
      return bad(v, key, "expected a number or null");
    }
  }
  TRY(field(v, s, "phases", T_ARR, 0));
  return each(v, s, "phases", phase_item);
}

static int finding_item(vctx_t *v, const json_t *f) {
  TRY(field(v, f, "check", T_STR, 1));
  TRY(field(v, f, "kind", T_STR, 0));
  TRY(field(v, f, "what", T_STR, 1));
  TRY(field(v, f, "count", T_INT, 1));
  if (fl__jnum(f, "count", 0) < 0)
    return bad(v, "count", "must not be negative");
  TRY(field(v, f, "message", T_STR, 0));
  TRY(field(v, f, "ops", T_ARR, 0));
  return each(v, f, "ops", op_item);
}

static int metric_item(vctx_t *v, const json_t *m) {
  TRY(field(v, m, "name", T_STR, 1));
  TRY(field(v, m, "unit", T_STR, 0));
  TRY(field(v, m, "dropped", T_INT, 0));
  TRY(field(v, m, "points", T_ARR, 1));
  size_t i;
  json_t *p;
  json_array_foreach(fl__jarr(m, "points"), i, p) {
    if (json_array_size(p) != 2 || !json_is_number(json_array_get(p, 0)) ||
        !json_is_number(json_array_get(p, 1)) ||
        json_number_value(json_array_get(p, 0)) < 0) {
      size_t len = enter(v, "points", i);
      int rc = bad(v, NULL, "expected [seconds, value]");
      v->path[len] = '\0';
      return rc;
    }
  }
  return 0;
}

/* "2026-11-26T12:00:00" followed by anything (fraction, zone). */
static int looks_like_time(const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  if (strlen(s) < 19)
    return 0;
  for (int i = 0; i < 19; i++) {
    if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
      return 0;
  }
  return 1;
}

int fl_report_validate(const json_t *report, fl_err_t *err) {
  static const char *const statuses[] = {"pass", "fail", "error", NULL};
  vctx_t v = {err, ""};
  if (!json_is_object(report))
    return fl_err_set(err, FL_EPARSE, "report.json: expected an object at the top");
  TRY(field(&v, report, "faultline", T_STR, 1));
  TRY(field(&v, report, "scenario", T_STR, 1));
  TRY(field(&v, report, "file", T_STR, 1));
  TRY(field(&v, report, "seed", T_INT, 1));
  TRY(field(&v, report, "status", T_STR, 1));
  TRY(one_of(&v, report, "status", statuses));
  int is_error = strcmp(fl__jstr(report, "status", ""), "error") == 0;
  TRY(field(&v, report, "error", T_STR, is_error));
  TRY(field(&v, report, "command", T_STR, 0));
  TRY(field(&v, report, "started_at", T_STR, 1));
  if (!looks_like_time(fl__jstr(report, "started_at", "")))
    return bad(&v, "started_at", "expected a date-time like 2026-11-26T12:00:00Z");
  TRY(field(&v, report, "duration_s", T_SEC, 1));
  TRY(field(&v, report, "run_dir", T_STR, 0));
  TRY(field(&v, report, "html", T_STR, 0));
  TRY(field(&v, report, "services", T_ARR, 1));
  TRY(each(&v, report, "services", service_item));
  TRY(field(&v, report, "faults", T_ARR, 1));
  TRY(each(&v, report, "faults", fault_item));
  /* A run that died may not have got as far as its checks. */
  TRY(field(&v, report, "checks", T_ARR, !is_error));
  TRY(each(&v, report, "checks", check_item));
  TRY(field(&v, report, "events", T_ARR, 0));
  TRY(each(&v, report, "events", event_item));
  TRY(field(&v, report, "findings", T_ARR, 0));
  TRY(each(&v, report, "findings", finding_item));
  TRY(field(&v, report, "metrics", T_ARR, 0));
  TRY(each(&v, report, "metrics", metric_item));
  TRY(field(&v, report, "stats", T_OBJ, !is_error));
  if (fl__jobj(report, "stats") != NULL) {
    strcpy(v.path, "stats");
    TRY(stats(&v, fl__jobj(report, "stats")));
  }
  return 0;
}
