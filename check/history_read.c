/* The history reader: pairs every invoke with its completion and checks the
 * file as it goes, so that bad input is reported once, with its line. */
#include "check/history.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/intern.h"
#include "check/scan.h"

typedef struct {
  fl_intern_t keys; /* key text -> key id */
  fl_intern_t strs; /* f and error texts */
} pool_t;

/* Maps a process number to its outstanding operation. */
typedef struct {
  int proc;
  uint32_t op; /* UINT32_MAX: none outstanding */
  uint32_t used;
} pslot_t;

typedef struct {
  fl_ops_t *ops;
  pool_t *pool;
  size_t cap;
  const char *name;
  pslot_t *procs;
  size_t nprocs, nslots;
  fl_history_read_opts_t o;
  int stop; /* max_ops reached: read no further */
  fl_err_t *err;
} parser_t;

static pslot_t *proc_slot(parser_t *p, int proc) {
  if ((p->nprocs + 1) * 2 > p->nslots) {
    size_t n = p->nslots ? p->nslots * 2 : 64;
    pslot_t *slots = fl_calloc(n, sizeof(*slots));
    for (size_t i = 0; i < p->nslots; i++) {
      if (!p->procs[i].used)
        continue;
      size_t j = ((uint32_t)p->procs[i].proc * 2654435761u) & (n - 1);
      while (slots[j].used)
        j = (j + 1) & (n - 1);
      slots[j] = p->procs[i];
    }
    fl_free(p->procs);
    p->procs = slots;
    p->nslots = n;
  }
  size_t j = ((uint32_t)proc * 2654435761u) & (p->nslots - 1);
  while (p->procs[j].used && p->procs[j].proc != proc)
    j = (j + 1) & (p->nslots - 1);
  if (!p->procs[j].used) {
    p->procs[j].used = 1;
    p->procs[j].proc = proc;
    p->procs[j].op = UINT32_MAX;
    p->nprocs++;
  }
  return &p->procs[j];
}

static fl_fkind_t fkind(const char *f) {
  if (strcmp(f, "read") == 0)
    return FL_F_READ;
  if (strcmp(f, "write") == 0)
    return FL_F_WRITE;
  if (strcmp(f, "cas") == 0)
    return FL_F_CAS;
  if (strcmp(f, "add") == 0)
    return FL_F_ADD;
  return FL_F_OTHER;
}

#define PERR(p, line, ...) parse_error((p), (line), __VA_ARGS__)

static int parse_error(parser_t *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_error(parser_t *p, size_t line, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return fl_err_set(p->err, FL_EPARSE, "%s:%zu: %s", p->name, line, what);
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a real number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

/* One line's fields, checked for type, whichever way they were parsed. The
 * strings point into the line or into its JSON object; value is borrowed
 * (NULL when absent). */
typedef struct {
  int nemesis;
  json_int_t process;
  const char *type;
  const char *f;
  size_t flen;
  const char *key; /* NULL when absent or null */
  size_t keylen;
  char keybuf[32];
  uint64_t time;
  json_t *value;
  const char *raw; /* the value's JSON text (fast path with on_value), or NULL */
  size_t rawlen;
  const char *error; /* NULL when absent or null */
  size_t errlen;
  char *error_text; /* a non-string error as JSON text, owned */
} fields_t;

/* Whether ops keep their values (not when skipped or handed to on_value). */
static int keep_values(const parser_t *p) {
  return !p->o.skip_values && p->o.on_value == NULL;
}

/* Hands the line's value to opts' on_value (when set). */
static int give_value(parser_t *p, const fl_op_t *op, int completion, const fields_t *fl,
                      uint64_t offset) {
  if (p->o.on_value == NULL || op == NULL)
    return 0;
  return p->o.on_value(p->o.on_value_data, op, completion, fl->raw, fl->rawlen,
                       fl->raw != NULL ? NULL : fl->value, offset, p->err);
}

/* Appends a new operation invoked on line (type info, not completed yet).
 * Returns NULL, with p->stop set, past max_ops. */
static fl_op_t *new_op(parser_t *p, int proc, const char *f, fields_t *fl, size_t line) {
  fl_ops_t *ops = p->ops;
  if (p->o.max_ops > 0 && ops->len >= p->o.max_ops) {
    ops->truncated = 1;
    p->stop = 1;
    return NULL;
  }
  if (ops->len == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 256;
    ops->v = fl_realloc(ops->v, p->cap * sizeof(*ops->v));
  }
  fl_op_t *op = &ops->v[ops->len];
  memset(op, 0, sizeof(*op));
  op->index = (uint32_t)ops->len;
  op->process = proc;
  op->type = FL_OP_INFO;
  op->fk = fkind(f);
  op->f = f;
  if (fl->key != NULL) {
    op->key_id = fl_intern(&p->pool->keys, fl->key, fl->keylen);
    op->key = fl_intern_str(&p->pool->keys, op->key_id);
  } else {
    op->key_id = FL_NO_KEY;
  }
  op->value = fl->value != NULL && keep_values(p) ? json_incref(fl->value) : json_null();
  op->result = json_null();
  op->invoke_ns = fl->time;
  op->complete_ns = UINT64_MAX;
  op->invoke_pos = ops->events++;
  op->complete_pos = FL_NO_POS;
  op->invoke_line = (uint32_t)line;
  ops->len++;
  return op;
}

/* Completes op with the line's fields. */
static void complete_op(parser_t *p, fl_op_t *op, fl_outcome_t outcome, fields_t *fl,
                        size_t line) {
  op->type = outcome;
  if (fl->value != NULL && keep_values(p)) {
    json_decref(op->result);
    op->result = json_incref(fl->value);
    /* Some clients only know the value written once it is acknowledged. */
    if (op->fk != FL_F_READ && json_is_null(op->value)) {
      json_decref(op->value);
      op->value = json_incref(fl->value);
    }
  }
  if (fl->error != NULL)
    op->error =
        fl_intern_str(&p->pool->strs, fl_intern(&p->pool->strs, fl->error, fl->errlen));
  op->complete_ns = fl->time < op->invoke_ns ? op->invoke_ns : fl->time;
  op->complete_pos = p->ops->events++;
  op->complete_line = (uint32_t)line;
}

/* Checks that a completion fits the invoke it pairs with (strict reading). */
static int check_completion(parser_t *p, const fl_op_t *op, const char *f, fields_t *fl,
                            size_t line) {
  if (op->f != f) /* both interned */
    return PERR(p, line,
                "completion's f \"%.64s\" differs from its invoke's \"%s\" (line %" PRIu32
                ")",
                f, op->f, op->invoke_line);
  if (fl->key != NULL && (op->key == NULL || strlen(op->key) != fl->keylen ||
                          memcmp(op->key, fl->key, fl->keylen) != 0))
    return PERR(p, line, "completion's key differs from its invoke's (line %" PRIu32 ")",
                op->invoke_line);
  if (fl->time < op->invoke_ns)
    return PERR(p, line,
                "completion time %" PRIu64 " is before its invoke's %" PRIu64
                " (line %" PRIu32 ")",
                fl->time, op->invoke_ns, op->invoke_line);
  return 0;
}

/* Pairs an invoke with its completion, and checks that the history makes
 * sense as a sequence of operations (or, tolerant, makes the best of it). */
static int record(parser_t *p, fields_t *fl, size_t line, uint64_t offset) {
  int tolerant = p->o.tolerant;
  if (fl->process < INT_MIN || fl->process > INT_MAX) {
    if (tolerant) {
      p->ops->skipped++;
      return 0;
    }
    return PERR(p, line, "\"process\" %" JSON_INTEGER_FORMAT " is out of range",
                fl->process);
  }
  int proc = (int)fl->process;
  int invoke = strcmp(fl->type, "invoke") == 0;
  fl_outcome_t outcome = FL_OP_OK;
  if (!invoke) {
    if (strcmp(fl->type, "ok") == 0)
      outcome = FL_OP_OK;
    else if (strcmp(fl->type, "fail") == 0)
      outcome = FL_OP_FAIL;
    else if (strcmp(fl->type, "info") == 0 || tolerant)
      outcome = FL_OP_INFO;
    else
      return PERR(
          p, line,
          "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\", not \"%.64s\"",
          fl->type);
  }
  if (p->ops->events >= UINT32_MAX - 2)
    return PERR(p, line, "too many operations");
  const char *f =
      fl_intern_str(&p->pool->strs, fl_intern(&p->pool->strs, fl->f, fl->flen));

  pslot_t *slot = proc_slot(p, proc);
  if (invoke) {
    if (slot->op != UINT32_MAX && !tolerant) {
      const fl_op_t *prev = &p->ops->v[slot->op];
      return PERR(p, line,
                  "process %d invoked \"%.64s\" while its \"%s\" invoked on line %" PRIu32
                  " has not completed (a process has one operation at a time)",
                  proc, f, prev->f, prev->invoke_line);
    }
    fl_op_t *op = new_op(p, proc, f, fl, line);
    slot->op = op != NULL ? op->index : UINT32_MAX;
    return give_value(p, op, 0, fl, offset);
  }
  fl_op_t *op;
  if (slot->op != UINT32_MAX) {
    op = &p->ops->v[slot->op];
    int r = tolerant ? 0 : check_completion(p, op, f, fl, line);
    if (r != 0)
      return r;
  } else if (tolerant) {
    if ((op = new_op(p, proc, f, fl, line)) == NULL)
      return 0;
    int r = give_value(p, op, 0, fl, offset);
    if (r != 0)
      return r;
  } else {
    return PERR(p, line,
                "\"%s\" completion of \"%.64s\" for process %d, which has no "
                "operation outstanding (completion without invoke)",
                fl->type, f, proc);
  }
  complete_op(p, op, outcome, fl, line);
  slot->op = UINT32_MAX;
  return give_value(p, op, 1, fl, offset);
}

/* Sets fl's key from jkey: a string, or an integer as its text; absent or
 * null is no key. Returns 0, or -1 for a key of another type (left unset). */
static int key_field(const json_t *jkey, fields_t *fl) {
  if (json_is_string(jkey)) {
    fl->key = json_string_value(jkey);
    fl->keylen = strlen(fl->key);
  } else if (json_is_integer(jkey)) {
    int n = snprintf(fl->keybuf, sizeof(fl->keybuf), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(jkey));
    fl->key = fl->keybuf;
    fl->keylen = (size_t)n;
  } else if (jkey != NULL && !json_is_null(jkey)) {
    return -1;
  }
  return 0;
}

/* The general path: jansson parses the line, and every field is checked
 * with a message that says what is wrong. */
static int parse_object(parser_t *p, json_t *o, size_t line, fields_t *fl) {
  memset(fl, 0, sizeof(*fl));
  json_t *jproc = json_object_get(o, "process");
  if (jproc == NULL)
    return PERR(p, line, "missing field \"process\"");
  /* Jepsen histories interleave the nemesis's operations with the clients';
   * they are not operations on the system under test. */
  if (json_is_string(jproc) && strcmp(json_string_value(jproc), "nemesis") == 0) {
    fl->nemesis = 1;
    return 0;
  }
  if (!json_is_integer(jproc))
    return PERR(p, line, "\"process\" must be an integer, not %s", type_name(jproc));
  fl->process = json_integer_value(jproc);

  json_t *jtype = json_object_get(o, "type");
  if (jtype == NULL)
    return PERR(p, line, "missing field \"type\"");
  if (!json_is_string(jtype))
    return PERR(p, line, "\"type\" must be a string, not %s", type_name(jtype));
  fl->type = json_string_value(jtype);

  json_t *jf = json_object_get(o, "f");
  if (jf == NULL)
    return PERR(p, line, "missing field \"f\"");
  if (!json_is_string(jf))
    return PERR(p, line, "\"f\" must be a string, not %s", type_name(jf));
  fl->f = json_string_value(jf);
  fl->flen = strlen(fl->f); /* up to a NUL, as everywhere else */

  json_t *jtime = json_object_get(o, "time");
  if (jtime == NULL)
    return PERR(p, line, "missing field \"time\"");
  if (!json_is_integer(jtime))
    return PERR(p, line, "\"time\" must be an integer (nanoseconds), not %s",
                type_name(jtime));
  if (json_integer_value(jtime) < 0)
    return PERR(p, line, "\"time\" must not be negative");
  fl->time = (uint64_t)json_integer_value(jtime);

  json_t *jkey = json_object_get(o, "key");
  if (key_field(jkey, fl) != 0)
    return PERR(p, line, "\"key\" must be a string or an integer, not %s",
                type_name(jkey));

  fl->value = json_object_get(o, "value");
  json_t *jerror = json_object_get(o, "error");
  if (jerror != NULL && !json_is_null(jerror)) {
    if (json_is_string(jerror)) {
      fl->error = json_string_value(jerror);
    } else {
      /* Jepsen's errors are often maps or vectors: keep them as text. */
      fl->error = fl->error_text = json_dumps(jerror, JSON_COMPACT | JSON_ENCODE_ANY);
      if (fl->error == NULL)
        fl->error = "?";
    }
    fl->errlen = strlen(fl->error);
  }
  return 0;
}

/* ---- The fast path -----------------------------------------------------------
 * Most lines are flat objects of the fields above with plain values: this
 * reads those without building an object, and gives up (returning 0) on
 * anything else (escapes, reals, unknown or repeated fields, a wrong type),
 * which then takes the general path. So both accept exactly the same lines,
 * and the general path words every error. */

/* A string without escapes, control characters or NULs, in valid UTF-8;
 * returns its length or -1. */
static long fast_string(fl_scan_t *c, const char **out) {
  if (c->s >= c->end || *c->s != '"')
    return -1;
  const char *start = ++c->s;
  int ascii = 1;
  while (c->s < c->end && *c->s != '"') {
    unsigned char ch = (unsigned char)*c->s;
    if (ch == '\\' || ch < 0x20)
      return -1;
    ascii &= ch < 0x80;
    c->s++;
  }
  if (c->s >= c->end)
    return -1;
  size_t n = (size_t)(c->s - start);
  if (!ascii) {
    json_t *probe = json_stringn(start, n); /* checks UTF-8 */
    if (probe == NULL)
      return -1;
    json_decref(probe);
  }
  *out = start;
  c->s++;
  return (long)n;
}

static int fast_null(fl_scan_t *c) {
  if (c->end - c->s < 4 || memcmp(c->s, "null", 4) != 0)
    return -1;
  c->s += 4;
  return 0;
}

/* A scalar (integer, plain string, null) as a new json_t, or NULL. */
static json_t *fast_scalar(fl_scan_t *c) {
  json_int_t i;
  const char *str;
  long n;
  if (c->s < c->end && *c->s == '"') {
    if ((n = fast_string(c, &str)) < 0)
      return NULL;
    return json_stringn(str, (size_t)n);
  }
  if (c->s < c->end && *c->s == 'n')
    return fast_null(c) == 0 ? json_null() : NULL;
  if (fl_scan_int(c, &i) == 0)
    return json_integer(i);
  return NULL;
}

/* A scalar or a flat array of scalars, as a new json_t, or NULL. */
static json_t *fast_value(fl_scan_t *c) {
  if (c->s >= c->end || *c->s != '[')
    return fast_scalar(c);
  c->s++;
  json_t *a = json_array();
  fl_scan_ws(c);
  if (c->s < c->end && *c->s == ']') {
    c->s++;
    return a;
  }
  for (;;) {
    fl_scan_ws(c);
    json_t *v = fast_scalar(c);
    if (v == NULL || json_array_append_new(a, v) != 0)
      break;
    fl_scan_ws(c);
    if (c->s < c->end && *c->s == ',') {
      c->s++;
      continue;
    }
    if (c->s < c->end && *c->s == ']') {
      c->s++;
      return a;
    }
    break;
  }
  json_decref(a);
  return NULL;
}

static int fast_word(fl_scan_t *c, const char *w, size_t n) {
  if ((size_t)(c->end - c->s) < n || memcmp(c->s, w, n) != 0)
    return -1;
  c->s += n;
  return 0;
}

/* Skips one JSON value the fast path can vouch for: integers, strings
 * without escapes, null, true, false, the empty object, and arrays of these
 * nested up to 32 deep. Returns 0, or -1 to give up (the general path then
 * decides, so both still accept exactly the same lines). */
static int fast_skip(fl_scan_t *c, int depth) {
  const char *str;
  json_int_t i;
  if (c->s >= c->end)
    return -1;
  switch (*c->s) {
  case '"':
    return fast_string(c, &str) < 0 ? -1 : 0;
  case 'n':
    return fast_null(c);
  case 't':
    return fast_word(c, "true", 4);
  case 'f':
    return fast_word(c, "false", 5);
  case '{':
    c->s++;
    fl_scan_ws(c);
    return fast_word(c, "}", 1);
  case '[':
    break;
  default:
    return fl_scan_int(c, &i);
  }
  if (depth >= 32)
    return -1;
  c->s++;
  fl_scan_ws(c);
  if (c->s < c->end && *c->s == ']') {
    c->s++;
    return 0;
  }
  for (;;) {
    fl_scan_ws(c);
    if (fast_skip(c, depth + 1) != 0)
      return -1;
    fl_scan_ws(c);
    if (c->s < c->end && *c->s == ',') {
      c->s++;
      continue;
    }
    return fast_word(c, "]", 1);
  }
}

enum {
  F_PROCESS = 1,
  F_TYPE = 2,
  F_F = 4,
  F_KEY = 8,
  F_VALUE = 16,
  F_TIME = 32,
  F_ERROR = 64
};

#define IS(name, n, lit)                                                                 \
  ((size_t)(n) == sizeof(lit) - 1 && memcmp((name), lit, (size_t)(n)) == 0)

/* Reads one field's value into fl; returns its bit, or 0 to give up. */
static unsigned fast_field(fl_scan_t *c, const char *name, long n, fields_t *fl,
                           int raw) {
  json_int_t i;
  if (IS(name, n, "process"))
    return fl_scan_int(c, &fl->process) == 0 ? F_PROCESS : 0;
  if (IS(name, n, "time")) {
    if (fl_scan_int(c, &i) != 0 || i < 0)
      return 0;
    fl->time = (uint64_t)i;
    return F_TIME;
  }
  if (IS(name, n, "type")) {
    const char *t;
    long tn = fast_string(c, &t);
    /* Anything but the four words is an error the general path words. */
    if (IS(t, tn, "invoke"))
      fl->type = "invoke";
    else if (IS(t, tn, "ok"))
      fl->type = "ok";
    else if (IS(t, tn, "fail"))
      fl->type = "fail";
    else if (IS(t, tn, "info"))
      fl->type = "info";
    else
      return 0;
    return F_TYPE;
  }
  if (IS(name, n, "f")) {
    long fn = fast_string(c, &fl->f);
    if (fn < 0)
      return 0;
    fl->flen = (size_t)fn;
    return F_F;
  }
  if (IS(name, n, "key")) {
    if (c->s < c->end && *c->s == '"') {
      long kn = fast_string(c, &fl->key);
      if (kn < 0)
        return 0;
      fl->keylen = (size_t)kn;
    } else if (c->s < c->end && *c->s == 'n') {
      if (fast_null(c) != 0)
        return 0;
    } else if (fl_scan_int(c, &i) == 0) {
      int kn = snprintf(fl->keybuf, sizeof(fl->keybuf), "%" JSON_INTEGER_FORMAT, i);
      fl->key = fl->keybuf;
      fl->keylen = (size_t)kn;
    } else {
      return 0;
    }
    return F_KEY;
  }
  if (IS(name, n, "value") && raw) {
    const char *start = c->s;
    if (fast_skip(c, 0) != 0)
      return 0;
    fl->raw = start;
    fl->rawlen = (size_t)(c->s - start);
    return F_VALUE;
  }
  if (IS(name, n, "value"))
    return (fl->value = fast_value(c)) != NULL ? F_VALUE : 0;
  if (IS(name, n, "error")) {
    if (c->s < c->end && *c->s == 'n')
      return fast_null(c) == 0 ? F_ERROR : 0;
    long en = fast_string(c, &fl->error);
    if (en < 0)
      return 0;
    fl->errlen = (size_t)en;
    return F_ERROR;
  }
  return 0;
}

/* Returns 1 with fl filled (fl->value new, or NULL; with raw, fl->raw
 * instead), or 0 to take the general path. */
static int fast_parse(const char *line, size_t len, fields_t *fl, int raw) {
  fl_scan_t c = {line, line + len};
  unsigned seen = 0;
  memset(fl, 0, sizeof(*fl));
  fl_scan_ws(&c);
  if (c.s >= c.end || *c.s++ != '{')
    return 0;
  for (;;) {
    fl_scan_ws(&c);
    const char *name;
    long n = fast_string(&c, &name);
    if (n < 0)
      goto bad;
    fl_scan_ws(&c);
    if (c.s >= c.end || *c.s++ != ':')
      goto bad;
    fl_scan_ws(&c);
    if (seen & (F_VALUE | F_KEY | F_ERROR | F_F)) {
      /* A repeated field would overwrite a pointer: let jansson refuse it. */
      if ((IS(name, n, "value") && (seen & F_VALUE)) ||
          (IS(name, n, "key") && (seen & F_KEY)) ||
          (IS(name, n, "error") && (seen & F_ERROR)) ||
          (IS(name, n, "f") && (seen & F_F)))
        goto bad;
    }
    unsigned bit = fast_field(&c, name, n, fl, raw);
    if (bit == 0 || (seen & bit))
      goto bad;
    seen |= bit;
    fl_scan_ws(&c);
    if (c.s < c.end && *c.s == ',') {
      c.s++;
      continue;
    }
    if (c.s < c.end && *c.s == '}') {
      c.s++;
      break;
    }
    goto bad;
  }
  fl_scan_ws(&c);
  if (c.s != c.end)
    goto bad;
  if ((seen & (F_PROCESS | F_TYPE | F_F | F_TIME)) != (F_PROCESS | F_TYPE | F_F | F_TIME))
    goto bad;
  return 1;

bad:
  json_decref(fl->value);
  fl->value = NULL;
  return 0;
}

#undef IS

/* Tolerant reading of a line jansson parsed (see fl_history_read_opts_t):
 * returns 1 with fl filled, 0 to skip it uncounted (not a client's
 * operation), -1 to skip it as malformed. */
static int tolerant_fields(json_t *o, fields_t *fl) {
  memset(fl, 0, sizeof(*fl));
  const char *type = json_string_value(json_object_get(o, "type"));
  json_t *jtime = json_object_get(o, "time");
  if (type == NULL || !json_is_number(jtime))
    return -1;
  json_t *jproc = json_object_get(o, "process");
  if (!json_is_integer(jproc))
    return 0;
  fl->process = json_integer_value(jproc);
  fl->type = type;
  const char *f = json_string_value(json_object_get(o, "f"));
  fl->f = f != NULL ? f : "";
  fl->flen = strlen(fl->f);
  double t = json_number_value(jtime);
  fl->time = t > 0 ? (t < 1.8e19 ? (uint64_t)t : UINT64_MAX - 1) : 0;
  key_field(json_object_get(o, "key"), fl); /* another type: no key */
  fl->value = json_object_get(o, "value");
  fl->error = json_string_value(json_object_get(o, "error"));
  fl->errlen = fl->error != NULL ? strlen(fl->error) : 0;
  return 1;
}

/* The general path of one line, in strict or tolerant reading. */
static int parse_json_line(parser_t *p, const char *s, size_t len, size_t line,
                           uint64_t offset) {
  fields_t fl;
  memset(&fl, 0, sizeof(fl)); /* error_text is freed below even for a non-object */
  json_error_t je;
  int r = 0;
  json_t *o = json_loadb(s, len, p->o.tolerant ? 0 : JSON_REJECT_DUPLICATES, &je);
  if (p->o.tolerant) {
    int k = json_is_object(o) ? tolerant_fields(o, &fl) : -1;
    if (k < 0)
      p->ops->skipped++;
    else if (k > 0)
      r = record(p, &fl, line, offset);
    json_decref(o);
    return r;
  }
  if (o == NULL)
    return PERR(p, line, "bad JSON: %s (column %d)", je.text, je.column);
  if (!json_is_object(o))
    r = PERR(p, line, "not a JSON object but %s", type_name(o));
  else if ((r = parse_object(p, o, line, &fl)) == 0 && !fl.nemesis)
    r = record(p, &fl, line, offset);
  free(fl.error_text);
  json_decref(o);
  return r;
}

static int parse_line(parser_t *p, const char *s, size_t len, size_t line,
                      uint64_t offset) {
  size_t i = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
    i++;
  if (i == len)
    return 0;
  fields_t fl;
  if (fast_parse(s, len, &fl, p->o.on_value != NULL)) {
    int r = record(p, &fl, line, offset);
    json_decref(fl.value);
    return r;
  }
  return parse_json_line(p, s, len, line, offset);
}

static void parser_init(parser_t *p, const char *name, const fl_history_read_opts_t *o,
                        fl_err_t *err) {
  memset(p, 0, sizeof(*p));
  p->ops = fl_calloc(1, sizeof(*p->ops));
  p->pool = fl_calloc(1, sizeof(*p->pool));
  fl_intern_init(&p->pool->keys);
  fl_intern_init(&p->pool->strs);
  p->ops->priv = p->pool;
  p->ops->name = fl_strdup(name != NULL ? name : "<memory>");
  p->name = p->ops->name;
  if (o != NULL)
    p->o = *o;
  p->err = err;
}

static int parser_end(parser_t *p, int r, fl_ops_t **out) {
  fl_free(p->procs);
  if (r != 0) {
    fl_ops_free(p->ops);
    return r;
  }
  fl_ops_t *ops = p->ops;
  ops->nkeys = p->pool->keys.n;
  ops->keys = (const char **)p->pool->keys.strs;
  *out = ops;
  return 0;
}

int fl_history_parse(fl_ops_t **out, const char *buf, size_t len, const char *name,
                     fl_err_t *err) {
  return fl_history_parse_opts(out, buf, len, name, NULL, err);
}

int fl_history_parse_opts(fl_ops_t **out, const char *buf, size_t len, const char *name,
                          const fl_history_read_opts_t *opts, fl_err_t *err) {
  *out = NULL;
  parser_t p;
  parser_init(&p, name, opts, err);
  int r = 0;
  size_t line = 1;
  for (size_t i = 0; i < len && r == 0; line++) {
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t end = nl != NULL ? (size_t)(nl - buf) : len;
    r = parse_line(&p, buf + i, end - i, line, i);
    i = end + 1;
  }
  return parser_end(&p, r, out);
}

/* ---- Lines of a file, each held whole only up to a bound ---------------------- */

enum { LINE_END = 0, LINE_OK = 1, LINE_LONG = 2 };

typedef struct {
  FILE *fp;
  char *buf;
  size_t cap, start, end; /* buf[start, end) is read and not yet returned */
  size_t max;             /* 0: no limit */
  int eof;
  uint64_t pos; /* the file offset of buf[0] */
} lines_t;

/* Reads more of the file into r->buf. A partial line longer than r->max is
 * dropped (*skipping set). Returns 0 or a negative errno. */
static int lines_fill(lines_t *r, int *skipping) {
  if (*skipping || (r->max > 0 && r->end - r->start > r->max)) {
    *skipping = 1;
    r->pos += r->end;
    r->start = r->end = 0;
  } else {
    r->pos += r->start;
    if (r->end > r->start)
      memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->end == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 65536;
    r->buf = fl_realloc(r->buf, r->cap);
  }
  size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->fp);
  r->end += got;
  if (got == 0) {
    if (ferror(r->fp))
      return errno ? -errno : -EIO;
    r->eof = 1;
  }
  return 0;
}

/* The next line without its newline in *s (borrowed until the next call)
 * and *n. Returns LINE_OK, LINE_LONG for a line longer than r->max (read to
 * its end, not returned), LINE_END, or a negative errno. */
static int lines_next(lines_t *r, const char **s, size_t *n) {
  int skipping = 0;
  for (;;) {
    char *nl =
        r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
    if (nl != NULL || (r->eof && r->end > r->start)) {
      size_t at = r->start, stop = nl != NULL ? (size_t)(nl - r->buf) : r->end;
      r->start = nl != NULL ? stop + 1 : r->end;
      *s = r->buf + at;
      *n = stop - at;
      return skipping || (r->max > 0 && *n > r->max) ? LINE_LONG : LINE_OK;
    }
    if (r->eof)
      return skipping ? LINE_LONG : LINE_END;
    int e = lines_fill(r, &skipping);
    if (e < 0)
      return e;
  }
}

int fl_history_read_opts(fl_ops_t **out, const char *path,
                         const fl_history_read_opts_t *opts, fl_err_t *err) {
  *out = NULL;
  lines_t lr = {fopen(path, "r"), NULL, 0, 0, 0, opts != NULL ? opts->max_line : 0, 0, 0};
  if (lr.fp == NULL) {
    int e = -errno;
    return fl_err_set(err, e, "%s: %s", path, strerror(-e));
  }
  parser_t p;
  parser_init(&p, path, opts, err);
  const char *s;
  size_t n, line = 1;
  int r = 0, k;
  while (r == 0 && !p.stop && (k = lines_next(&lr, &s, &n)) != LINE_END) {
    if (k < 0)
      r = fl_err_set(err, k, "%s: %s", path, strerror(-k));
    else if (k == LINE_LONG && p.o.tolerant)
      p.ops->skipped++;
    else if (k == LINE_LONG)
      r = PERR(&p, line, "a line longer than %zu bytes", p.o.max_line);
    else
      r = parse_line(&p, s, n, line, lr.pos + (uint64_t)(s - lr.buf));
    line++;
  }
  fl_free(lr.buf);
  fclose(lr.fp);
  return parser_end(&p, r, out);
}

int fl_history_read(fl_ops_t **out, const char *path, fl_err_t *err) {
  return fl_history_read_opts(out, path, NULL, err);
}

void fl_ops_free(fl_ops_t *ops) {
  if (ops == NULL)
    return;
  for (size_t i = 0; i < ops->len; i++) {
    json_decref(ops->v[i].value);
    json_decref(ops->v[i].result);
  }
  fl_free(ops->v);
  pool_t *pool = ops->priv;
  if (pool != NULL) {
    fl_intern_free(&pool->keys);
    fl_intern_free(&pool->strs);
    fl_free(pool);
  }
  fl_free(ops->name);
  fl_free(ops);
}

static const char *outcome_name(fl_outcome_t t) {
  return t == FL_OP_OK ? "ok" : t == FL_OP_FAIL ? "fail" : "info";
}

json_t *fl_op_to_json(const fl_op_t *op) {
  json_t *o = json_object();
  json_object_set_new(o, "index", json_integer(op->index));
  json_object_set_new(o, "process", json_integer(op->process));
  json_object_set_new(o, "type", json_string(outcome_name(op->type)));
  json_object_set_new(o, "f", json_string(op->f));
  if (op->key != NULL)
    json_object_set_new(o, "key", json_string(op->key));
  json_object_set(o, "value", op->fk == FL_F_READ ? op->result : op->value);
  json_object_set_new(o, "invoke_ns", json_integer((json_int_t)op->invoke_ns));
  json_object_set_new(o, "complete_ns",
                      op->complete_line != 0 ? json_integer((json_int_t)op->complete_ns)
                                             : json_null());
  json_object_set_new(o, "invoke_line", json_integer(op->invoke_line));
  json_object_set_new(o, "complete_line",
                      op->complete_line != 0 ? json_integer(op->complete_line)
                                             : json_null());
  if (op->error != NULL)
    json_object_set_new(o, "error", json_string(op->error));
  return o;
}

char *fl_json_text(const json_t *v, char *buf, size_t size) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s == NULL) {
    snprintf(buf, size, "?");
    return buf;
  }
  size_t n = strlen(s);
  if (n < size) {
    memcpy(buf, s, n + 1);
  } else if (size > 4) {
    memcpy(buf, s, size - 4);
    memcpy(buf + size - 4, "...", 4);
  } else if (size > 0) {
    buf[0] = '\0';
  }
  free(s);
  return buf;
}

char *fl_op_describe(const fl_op_t *op, char *buf, size_t size) {
  char val[96];
  char lines[48];
  const json_t *shown = op->fk == FL_F_READ ? op->result : op->value;
  int show = op->fk != FL_F_READ || op->type == FL_OP_OK;
  fl_json_text(shown, val, sizeof(val));
  if (op->complete_line != 0)
    snprintf(lines, sizeof(lines), "lines %" PRIu32 "-%" PRIu32, op->invoke_line,
             op->complete_line);
  else
    snprintf(lines, sizeof(lines), "line %" PRIu32, op->invoke_line);
  char done[64];
  if (op->complete_line != 0)
    snprintf(done, sizeof(done), "%s %.6f s", outcome_name(op->type),
             (double)op->complete_ns / 1e9);
  else
    snprintf(done, sizeof(done), "never completed");
  snprintf(buf, size, "process %d %s%s%s%s%s, invoked %.6f s, %s (%s)%s%s", op->process,
           op->f, op->key != NULL ? " " : "", op->key != NULL ? op->key : "",
           show ? (op->fk == FL_F_READ ? " -> " : " ") : "", show ? val : "",
           (double)op->invoke_ns / 1e9, done, lines, op->error != NULL ? ": " : "",
           op->error != NULL ? op->error : "");
  return buf;
}
