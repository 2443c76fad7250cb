/* The history reader: pairs every invoke with its completion and checks the
 * file as it goes, so that bad input is reported once, with its line. */
#include "harness/check/history.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/alloc.h"
#include "harness/check/intern.h"

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

static int parse_object(parser_t *p, json_t *o, size_t line) {
  fl_ops_t *ops = p->ops;
  pool_t *pool = p->pool;

  json_t *jproc = json_object_get(o, "process");
  if (jproc == NULL)
    return PERR(p, line, "missing field \"process\"");
  /* Jepsen histories interleave the nemesis's operations with the clients';
   * they are not operations on the system under test. */
  if (json_is_string(jproc) && strcmp(json_string_value(jproc), "nemesis") == 0)
    return 0;
  if (!json_is_integer(jproc))
    return PERR(p, line, "\"process\" must be an integer, not %s", type_name(jproc));
  json_int_t proc = json_integer_value(jproc);
  if (proc < INT_MIN || proc > INT_MAX)
    return PERR(p, line, "\"process\" %" JSON_INTEGER_FORMAT " is out of range", proc);

  json_t *jtype = json_object_get(o, "type");
  if (jtype == NULL)
    return PERR(p, line, "missing field \"type\"");
  if (!json_is_string(jtype))
    return PERR(p, line, "\"type\" must be a string, not %s", type_name(jtype));
  const char *type = json_string_value(jtype);
  int invoke = strcmp(type, "invoke") == 0;
  fl_outcome_t outcome = FL_OP_OK;
  if (!invoke) {
    if (strcmp(type, "ok") == 0)
      outcome = FL_OP_OK;
    else if (strcmp(type, "fail") == 0)
      outcome = FL_OP_FAIL;
    else if (strcmp(type, "info") == 0)
      outcome = FL_OP_INFO;
    else
      return PERR(p, line, "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\", not \"%.64s\"",
                  type);
  }

  json_t *jf = json_object_get(o, "f");
  if (jf == NULL)
    return PERR(p, line, "missing field \"f\"");
  if (!json_is_string(jf))
    return PERR(p, line, "\"f\" must be a string, not %s", type_name(jf));
  const char *f = json_string_value(jf);

  json_t *jtime = json_object_get(o, "time");
  if (jtime == NULL)
    return PERR(p, line, "missing field \"time\"");
  if (!json_is_integer(jtime))
    return PERR(p, line, "\"time\" must be an integer (nanoseconds), not %s",
                type_name(jtime));
  if (json_integer_value(jtime) < 0)
    return PERR(p, line, "\"time\" must not be negative");
  uint64_t time_ns = (uint64_t)json_integer_value(jtime);

  json_t *jkey = json_object_get(o, "key");
  char keybuf[32];
  const char *key = NULL;
  size_t keylen = 0;
  if (jkey != NULL && !json_is_null(jkey)) {
    if (json_is_string(jkey)) {
      key = json_string_value(jkey);
      keylen = json_string_length(jkey);
    } else if (json_is_integer(jkey)) {
      int n = snprintf(keybuf, sizeof(keybuf), "%" JSON_INTEGER_FORMAT,
                       json_integer_value(jkey));
      key = keybuf;
      keylen = (size_t)n;
    } else {
      return PERR(p, line, "\"key\" must be a string or an integer, not %s",
                  type_name(jkey));
    }
  }

  json_t *value = json_object_get(o, "value");
  json_t *jerror = json_object_get(o, "error");
  if (ops->events == UINT32_MAX - 1)
    return PERR(p, line, "too many operations");

  pslot_t *slot = proc_slot(p, (int)proc);
  if (invoke) {
    if (slot->op != UINT32_MAX) {
      const fl_op_t *prev = &ops->v[slot->op];
      return PERR(p, line,
                  "process %d invoked \"%.64s\" while its \"%s\" invoked on line %" PRIu32
                  " has not completed (a process has one operation at a time)",
                  (int)proc, f, prev->f, prev->invoke_line);
    }
    if (ops->len == p->cap) {
      p->cap = p->cap ? p->cap * 2 : 256;
      ops->v = fl_realloc(ops->v, p->cap * sizeof(*ops->v));
    }
    fl_op_t *op = &ops->v[ops->len];
    memset(op, 0, sizeof(*op));
    op->index = (uint32_t)ops->len;
    op->process = (int)proc;
    op->type = FL_OP_INFO;
    op->fk = fkind(f);
    op->f = fl_intern_str(&pool->strs, fl_intern(&pool->strs, f, strlen(f)));
    if (key != NULL) {
      op->key_id = fl_intern(&pool->keys, key, keylen);
      op->key = fl_intern_str(&pool->keys, op->key_id);
    } else {
      op->key_id = FL_NO_KEY;
    }
    op->value = value != NULL ? json_incref(value) : json_null();
    op->result = json_null();
    op->invoke_ns = time_ns;
    op->complete_ns = UINT64_MAX;
    op->invoke_pos = ops->events++;
    op->complete_pos = FL_NO_POS;
    op->invoke_line = (uint32_t)line;
    slot->op = op->index;
    ops->len++;
    return 0;
  }

  if (slot->op == UINT32_MAX)
    return PERR(p, line, "\"%s\" completion of \"%.64s\" for process %d, which has no "
                         "operation outstanding (completion without invoke)",
                type, f, (int)proc);
  fl_op_t *op = &ops->v[slot->op];
  if (strcmp(op->f, f) != 0)
    return PERR(p, line, "completion's f \"%.64s\" differs from its invoke's \"%s\" (line %" PRIu32 ")",
                f, op->f, op->invoke_line);
  if (key != NULL && (op->key == NULL || strlen(op->key) != keylen ||
                      memcmp(op->key, key, keylen) != 0))
    return PERR(p, line, "completion's key differs from its invoke's (line %" PRIu32 ")",
                op->invoke_line);
  if (time_ns < op->invoke_ns)
    return PERR(p, line,
                "completion time %" PRIu64 " is before its invoke's %" PRIu64
                " (line %" PRIu32 ")",
                time_ns, op->invoke_ns, op->invoke_line);
  op->type = outcome;
  if (value != NULL) {
    json_decref(op->result);
    op->result = json_incref(value);
    /* Some clients only know the value written once it is acknowledged. */
    if (op->fk != FL_F_READ && json_is_null(op->value)) {
      json_decref(op->value);
      op->value = json_incref(value);
    }
  }
  if (jerror != NULL && !json_is_null(jerror)) {
    if (json_is_string(jerror)) {
      op->error = fl_intern_str(&pool->strs, fl_intern(&pool->strs, json_string_value(jerror),
                                                       json_string_length(jerror)));
    } else {
      char *s = json_dumps(jerror, JSON_COMPACT | JSON_ENCODE_ANY);
      op->error = fl_intern_str(&pool->strs, fl_intern(&pool->strs, s ? s : "?",
                                                       s ? strlen(s) : 1));
      free(s);
    }
  }
  op->complete_ns = time_ns;
  op->complete_pos = ops->events++;
  op->complete_line = (uint32_t)line;
  slot->op = UINT32_MAX;
  return 0;
}

static int parse_line(parser_t *p, const char *s, size_t len, size_t line) {
  size_t i = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
    i++;
  if (i == len)
    return 0;
  json_error_t je;
  json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
  if (o == NULL)
    return PERR(p, line, "bad JSON: %s (column %d)", je.text, je.column);
  int r;
  if (!json_is_object(o))
    r = PERR(p, line, "not a JSON object but %s", type_name(o));
  else
    r = parse_object(p, o, line);
  json_decref(o);
  return r;
}

static void parser_init(parser_t *p, const char *name, fl_err_t *err) {
  memset(p, 0, sizeof(*p));
  p->ops = fl_calloc(1, sizeof(*p->ops));
  p->pool = fl_calloc(1, sizeof(*p->pool));
  fl_intern_init(&p->pool->keys);
  fl_intern_init(&p->pool->strs);
  p->ops->priv = p->pool;
  p->ops->name = fl_strdup(name != NULL ? name : "<memory>");
  p->name = p->ops->name;
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
  *out = NULL;
  parser_t p;
  parser_init(&p, name, err);
  int r = 0;
  size_t line = 1;
  for (size_t i = 0; i < len && r == 0; line++) {
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t end = nl != NULL ? (size_t)(nl - buf) : len;
    r = parse_line(&p, buf + i, end - i, line);
    i = end + 1;
  }
  return parser_end(&p, r, out);
}

int fl_history_read(fl_ops_t **out, const char *path, fl_err_t *err) {
  *out = NULL;
  FILE *fp = fopen(path, "r");
  if (fp == NULL) {
    int e = -errno;
    return fl_err_set(err, e, "%s: %s", path, strerror(-e));
  }
  parser_t p;
  parser_init(&p, path, err);
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  size_t line = 1;
  int r = 0;
  while (r == 0 && (n = getline(&buf, &cap, fp)) >= 0) {
    size_t len = (size_t)n;
    if (len > 0 && buf[len - 1] == '\n')
      len--;
    r = parse_line(&p, buf, len, line++);
  }
  if (r == 0 && ferror(fp)) {
    int e = errno ? -errno : -EIO;
    r = fl_err_set(err, e, "%s: %s", path, strerror(-e));
  }
  free(buf);
  fclose(fp);
  return parser_end(&p, r, out);
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
  json_object_set_new(o, "complete_ns", op->complete_line != 0
                                            ? json_integer((json_int_t)op->complete_ns)
                                            : json_null());
  json_object_set_new(o, "invoke_line", json_integer(op->invoke_line));
  json_object_set_new(o, "complete_line",
                      op->complete_line != 0 ? json_integer(op->complete_line) : json_null());
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
