/* The transactional checker (txn.h): parse micro-operations, infer version
 * orders, build the dependency graph, find cycles and name them.
 *
 * Layout: every transaction is a node (its index among the history's ops);
 * micro-operations live in one flat array, read lists in another, keys and
 * values are interned to dense ids, and (key, value) pairs are looked up in
 * one open-addressing table. Edges are collected in one array, then sorted
 * into adjacency lists (CSR). No allocation per edge or per micro-op. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "check/check.h"
#include "check/intern.h"
#include "check/partition.h"
#include "check/txn_int.h"

/* ---- (key, value) -> uint32 ------------------------------------------------ */

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

void fl_kv_init(fl_kvmap_t *m) {
  memset(m, 0, sizeof(*m));
}

void fl_kv_free(fl_kvmap_t *m) {
  fl_free(m->keys);
  fl_free(m->vals);
  memset(m, 0, sizeof(*m));
}

static void kv_rehash(fl_kvmap_t *m, size_t cap) {
  uint64_t *keys = fl_calloc(cap, sizeof(*keys));
  uint32_t *vals = fl_malloc(cap * sizeof(*vals));
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == 0)
      continue;
    size_t j = mix(m->keys[i]) & (cap - 1);
    while (keys[j] != 0)
      j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  fl_free(m->keys);
  fl_free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
}

static void kv_grow(fl_kvmap_t *m) {
  kv_rehash(m, m->cap ? m->cap * 2 : 1024);
}

void fl_kv_reserve(fl_kvmap_t *m, size_t n) {
  size_t cap = m->cap ? m->cap : 1024;
  while ((n + 1) * 2 > cap)
    cap *= 2;
  if (cap > m->cap)
    kv_rehash(m, cap);
}

/* Keys are stored + 1 so that 0 marks an empty slot. Returns a pointer to the
 * value slot; *fresh is 1 when the key was added (its value is then
 * UINT32_MAX). */
uint32_t *fl_kv_put(fl_kvmap_t *m, uint32_t k, uint32_t v, int *fresh) {
  if ((m->len + 1) * 2 > m->cap)
    kv_grow(m);
  uint64_t key = (((uint64_t)k << 32) | v) + 1;
  size_t j = mix(key) & (m->cap - 1);
  while (m->keys[j] != 0 && m->keys[j] != key)
    j = (j + 1) & (m->cap - 1);
  *fresh = m->keys[j] == 0;
  if (*fresh) {
    m->keys[j] = key;
    m->vals[j] = UINT32_MAX;
    m->len++;
  }
  return &m->vals[j];
}

uint32_t fl_kv_get(const fl_kvmap_t *m, uint32_t k, uint32_t v) {
  if (m->cap == 0)
    return UINT32_MAX;
  uint64_t key = (((uint64_t)k << 32) | v) + 1;
  size_t j = mix(key) & (m->cap - 1);
  while (m->keys[j] != 0) {
    if (m->keys[j] == key)
      return m->vals[j];
    j = (j + 1) & (m->cap - 1);
  }
  return UINT32_MAX;
}

/* ---- Consistency models ----------------------------------------------------- */

static const char *const cm_names[FL_CM_COUNT] = {
    "read-uncommitted", "read-committed", "snapshot-isolation",
    "repeatable-read",  "serializable",   "strict-serializable"};

fl_txn_cm_t fl_txn_cm_parse(const char *name) {
  for (int i = 0; name != NULL && i < FL_CM_COUNT; i++)
    if (strcmp(cm_names[i], name) == 0)
      return (fl_txn_cm_t)i;
  return FL_CM_NONE;
}

const char *fl_txn_cm_name(fl_txn_cm_t cm) {
  return cm >= 0 && cm < FL_CM_COUNT ? cm_names[cm] : "?";
}

/* Which models forbid which anomaly (Adya's phenomena as Elle maps them):
 * G0 by all; G1a, G1b, G1c from read-committed up; G-single by snapshot
 * isolation and above it, and by repeatable read; G2-item by repeatable read
 * and serializable; the -realtime and -process variants only by strict
 * serializability. One bit per model, read-uncommitted first. */
#define RU (1u << FL_CM_READ_UNCOMMITTED)
#define RC (1u << FL_CM_READ_COMMITTED)
#define SI (1u << FL_CM_SNAPSHOT_ISOLATION)
#define RR (1u << FL_CM_REPEATABLE_READ)
#define SER (1u << FL_CM_SERIALIZABLE)
#define SSER (1u << FL_CM_STRICT_SERIALIZABLE)
#define ALL (RU | RC | SI | RR | SER | SSER)
static const struct {
  const char *type;
  unsigned forbidden_by;
} rules[] = {
    {"G0", ALL},
    {"G1a", RC | SI | RR | SER | SSER},
    {"G1b", RC | SI | RR | SER | SSER},
    {"G1c", RC | SI | RR | SER | SSER},
    {"G-single", SI | RR | SER | SSER},
    {"G2-item", RR | SER | SSER},
};

int fl_txn_cm_forbids(fl_txn_cm_t cm, const char *anomaly) {
  if (cm < 0 || cm >= FL_CM_COUNT)
    cm = FL_CM_SERIALIZABLE;
  const char *dash = strstr(anomaly, "-realtime");
  if (dash == NULL)
    dash = strstr(anomaly, "-process");
  if (dash != NULL)
    return cm == FL_CM_STRICT_SERIALIZABLE;
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    if (strcmp(rules[i].type, anomaly) == 0)
      return (rules[i].forbidden_by >> cm) & 1u;
  return 1; /* data errors: internal, garbage-read, duplicates, orders */
}

/* ---- Parsing ------------------------------------------------------------------- */

/* A value's id: a small non-negative integer (what generators write) is
 * its own id with SMALL_INT set, without going through the intern table;
 * anything else is interned. */
static uint32_t value_id(fl_txn_t *t, const json_t *v) {
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i >= 0 && i < (json_int_t)(SMALL_INT - 1))
      return (uint32_t)i | SMALL_INT;
  }
  return fl_intern_json(&t->vals, v);
}

/* A key's dense id (keys index the version orders): integers through a map
 * of their own, the rest interned. */
static uint32_t key_id(fl_txn_t *t, const json_t *k) {
  if (json_is_integer(k)) {
    json_int_t i = json_integer_value(k);
    if (i >= 0 && i < (json_int_t)UINT32_MAX) {
      int fresh;
      uint32_t *id = fl_kv_put(&t->int_keys, UINT32_MAX, (uint32_t)i, &fresh);
      if (fresh)
        *id = fl_intern_json(&t->keys, k);
      return *id;
    }
  }
  return fl_intern_json(&t->keys, k);
}

/* One micro-op [f, k, v] of op into t->mops (txn_int.h). */
int fl_txn_parse_mop(fl_txn_t *t, const fl_op_t *op, const json_t *m, int is_ok,
                     fl_err_t *err) {
  const char *f = json_is_array(m) && json_array_size(m) == 3
                      ? json_string_value(json_array_get(m, 0))
                      : NULL;
  int kind = f == NULL                                                    ? -1
             : strcmp(f, "r") == 0                                        ? MOP_READ
             : strcmp(f, "append") == 0 && t->model == FL_TXN_LIST_APPEND ? MOP_APPEND
             : strcmp(f, "w") == 0 && t->model == FL_TXN_RW_REGISTER      ? MOP_WRITE
                                                                          : -1;
  if (kind < 0)
    return fl_err_set(err, FL_EPARSE,
                      "%s:%u: a %s micro-operation is [\"%s\", key, value] or "
                      "[\"r\", key, value]",
                      t->name, op->complete_line ? op->complete_line : op->invoke_line,
                      t->model == FL_TXN_LIST_APPEND ? "list-append" : "rw-register",
                      t->model == FL_TXN_LIST_APPEND ? "append" : "w");
  fl_mop_t mop = {.f = (uint8_t)kind, .key = key_id(t, json_array_get(m, 1))};
  const json_t *v = json_array_get(m, 2);
  if (kind != MOP_READ) {
    mop.val = value_id(t, v);
  } else if (!is_ok || json_is_null(v)) {
    mop.has_read = !json_is_null(v) || is_ok;
    mop.val = NO_VAL; /* an ok read of null: nothing yet (a register's nil) */
  } else if (t->model == FL_TXN_LIST_APPEND && json_is_object(v) &&
             json_object_size(v) == 0) {
    mop.has_read = 1; /* {}: an empty list as Lua's JSON encoder writes one */
    mop.list = (uint32_t)t->nlist;
  } else if (t->model == FL_TXN_LIST_APPEND) {
    if (!json_is_array(v))
      return fl_err_set(err, FL_EPARSE, "%s:%u: a list-append read is a list, not %s",
                        t->name, op->complete_line ? op->complete_line : op->invoke_line,
                        json_is_object(v) ? "an object" : "a single value");
    mop.has_read = 1;
    mop.list = (uint32_t)t->nlist;
    mop.nlist = (uint32_t)json_array_size(v);
    for (size_t i = 0; i < json_array_size(v); i++) {
      FL_GROW(t->list, t->nlist + 1, t->caplist);
      t->list[t->nlist++] = value_id(t, json_array_get(v, i));
    }
  } else {
    mop.has_read = 1;
    mop.val = value_id(t, v);
  }
  FL_GROW(t->mops, t->nmops + 1, t->capmops);
  t->mops[t->nmops++] = mop;
  return 0;
}

int fl_txn_parse(fl_txn_t *t, const fl_ops_t *ops, fl_err_t *err) {
  t->name = ops->name ? ops->name : "<history>";
  t->n = ops->len;
  t->ops = ops->v;
  t->first = fl_calloc(ops->len + 1, sizeof(uint32_t));
  t->end = fl_calloc(ops->len + 1, sizeof(uint32_t));
  for (size_t i = 0; i < ops->len; i++) {
    const fl_op_t *op = &ops->v[i];
    t->first[i] = (uint32_t)t->nmops;
    if (op->f == NULL || strcmp(op->f, "txn") != 0)
      return fl_err_set(err, FL_EPARSE,
                        "%s:%u: f is \"%s\": a transactional history holds "
                        "only \"txn\" operations",
                        t->name, op->invoke_line, op->f ? op->f : "");
    int is_ok = op->type == FL_OP_OK;
    json_t *v = is_ok && json_is_array(op->result) ? op->result : op->value;
    if (!json_is_array(v))
      return fl_err_set(err, FL_EPARSE,
                        "%s:%u: a transaction's value is a list of "
                        "micro-operations",
                        t->name, op->invoke_line);
    for (size_t j = 0; j < json_array_size(v); j++) {
      int r = fl_txn_parse_mop(t, op, json_array_get(v, j), is_ok, err);
      if (r != 0)
        return r;
    }
    if (is_ok)
      t->nok++;
    t->end[i] = (uint32_t)t->nmops;
  }
  t->first[ops->len] = t->end[ops->len] = (uint32_t)t->nmops;
  return 0;
}

void fl_txn_free(fl_txn_t *t) {
  if (t->reader != NULL)
    fl_txn_reader_free(t->reader);
  /* orders first: they are counted by keys.n, which fl_intern_free zeroes */
  for (size_t k = 0; t->order != NULL && k < t->keys.n; k++) {
    fl_free(t->order[k].v);
    fl_free(t->order[k].w);
  }
  fl_intern_free(&t->keys);
  fl_intern_free(&t->vals);
  fl_free(t->mops);
  fl_free(t->list);
  fl_free(t->first);
  fl_free(t->end);
  fl_free(t->failed);
  fl_kv_free(&t->writer);
  fl_kv_free(&t->int_keys);
  for (size_t k = 0; k < t->ncanon; k++)
    fl_free(t->canon[k].v);
  fl_free(t->canon);
  fl_free(t->order);
  fl_free(t->edges);
  fl_free(t->adj_off);
  fl_free(t->adj);
  json_decref(t->found);
}

/* ---- Anomalies ------------------------------------------------------------------ */

/* "T12 (process 3, line 40)" */
void fl_txn_label(const fl_txn_t *t, uint32_t i, char *buf, size_t size) {
  const fl_op_t *op = &t->ops[i];
  snprintf(buf, size, "T%u (process %d, line %u)", op->index, op->process,
           op->complete_line ? op->complete_line : op->invoke_line);
}

/* Interned text, as people read it: a string without the quote that marks
 * it (intern.c), anything else as JSON. */
static const char *readable(const char *s) {
  return s[0] == '"' ? s + 1 : s;
}

const char *fl_txn_key(const fl_txn_t *t, uint32_t k) {
  return readable(fl_intern_str(&t->keys, k));
}

const char *fl_txn_val(const fl_txn_t *t, uint32_t v) {
  if (v == NO_VAL)
    return "nil";
  if (v & SMALL_INT) { /* eight at a time in one message is plenty */
    static _Thread_local char ring[8][16];
    static _Thread_local unsigned next;
    char *b = ring[next++ % 8];
    snprintf(b, sizeof(ring[0]), "%u", v & ~SMALL_INT);
    return b;
  }
  return readable(fl_intern_str(&t->vals, v));
}

/* An op for the report: its value is what the transaction did and read (the
 * ok completion's), not the invoke's. */
json_t *fl_txn_op_json(const fl_txn_t *t, uint32_t i) {
  fl_op_t op = t->ops[i];
  /* The streaming reader kept no values: read its lines again. */
  if (t->reader != NULL)
    fl_txn_reader_values(t->reader, i, &op);
  json_t *j = fl_op_to_json(&op);
  if (op.type == FL_OP_OK && json_is_array(op.result))
    json_object_set(j, "value", op.result);
  if (t->reader != NULL) {
    json_decref(op.value);
    json_decref(op.result);
  }
  return j;
}

/* Whether an anomaly of type would be kept as a witness (else only
 * counted): no words are built for those that would not. */
static int wanted(fl_txn_t *t, const char *type) {
  return json_array_size(json_object_get(t->found, type)) < t->max_witnesses;
}

/* Counts an anomaly of type without a witness. */
static void count_found(fl_txn_t *t, const char *type) {
  char key[64];
  snprintf(key, sizeof(key), "#%s", type);
  json_t *c = json_object_get(t->found, key);
  json_object_set_new(t->found, key, json_integer(c ? json_integer_value(c) + 1 : 1));
}

/* Records one anomaly of a type; at most max_witnesses kept, all counted. */
void fl_txn_found(fl_txn_t *t, const char *type, json_t *a) {
  if (t->found == NULL)
    t->found = json_object();
  json_t *list = json_object_get(t->found, type);
  if (list == NULL) {
    list = json_array();
    json_object_set_new(t->found, type, list);
  }
  json_object_set_new(a, "type", json_string(type));
  if (json_array_size(list) < t->max_witnesses)
    json_array_append_new(list, a);
  else
    json_decref(a);
  count_found(t, type);
}

/* An anomaly about one transaction (not a cycle): its op and why. */
void fl_txn_found_op(fl_txn_t *t, const char *type, uint32_t i, const char *fmt, ...) {
  if (t->found != NULL && !wanted(t, type)) {
    count_found(t, type);
    return;
  }
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  json_t *a = json_object();
  json_t *ops = json_array();
  json_array_append_new(ops, fl_txn_op_json(t, i));
  json_object_set_new(a, "ops", ops);
  json_object_set_new(a, "explanation", json_string(text));
  fl_txn_found(t, type, a);
}

/* ---- The result ------------------------------------------------------------------ */

/* Types found, split into those the model forbids and those it allows, and
 * the models the history violates or still satisfies. */
static void verdicts(const fl_txn_t *t, fl_txn_cm_t cm, json_t *out) {
  json_t *types = json_array(), *forbidden = json_array(), *allowed = json_array();
  json_t *counts = json_object(), *anomalies = json_object(), *not = json_array();
  json_t *sat = json_array();
  const char *name;
  json_t *v;
  json_object_foreach(t->found, name, v) {
    if (name[0] == '#') {
      json_object_set(counts, name + 1, v);
      continue;
    }
    json_array_append_new(types, json_string(name));
    json_array_append_new(fl_txn_cm_forbids(cm, name) ? forbidden : allowed,
                          json_string(name));
    json_object_set(anomalies, name, v);
  }
  for (int m = 0; m < FL_CM_COUNT; m++) {
    int violated = 0;
    for (size_t i = 0; i < json_array_size(types); i++)
      violated |=
          fl_txn_cm_forbids((fl_txn_cm_t)m, json_string_value(json_array_get(types, i)));
    json_array_append_new(violated ? not : sat, json_string(cm_names[m]));
  }
  json_object_set_new(out, "valid", json_boolean(json_array_size(forbidden) == 0));
  json_object_set_new(out, "anomaly_types", types);
  json_object_set_new(out, "forbidden", forbidden);
  json_object_set_new(out, "allowed", allowed);
  json_object_set_new(out, "counts", counts);
  json_object_set_new(out, "anomalies", anomalies);
  json_object_set_new(out, "not", not );
  json_object_set_new(out, "satisfies", sat);
}

static char *message(const fl_txn_t *t, fl_txn_cm_t cm, const json_t *out) {
  const json_t *forbidden = json_object_get(out, "forbidden");
  const json_t *allowed = json_object_get(out, "allowed");
  fl_buf_t b;
  fl_buf_init(&b, SIZE_MAX);
  if (json_array_size(forbidden) == 0)
    fl_buf_printf(&b, "%zu transactions on %zu key(s) are %s", t->nok, t->keys.n,
                  fl_txn_cm_name(cm));
  else
    fl_buf_printf(&b, "not %s:", fl_txn_cm_name(cm));
  for (size_t i = 0; i < json_array_size(forbidden); i++) {
    const char *ty = json_string_value(json_array_get(forbidden, i));
    fl_buf_printf(&b, "%s %s (%lld)", i ? "," : "", ty,
                  (long long)json_integer_value(
                      json_object_get(json_object_get(out, "counts"), ty)));
  }
  if (json_array_size(allowed) > 0) {
    fl_buf_printf(&b, "; found, allowed at %s:", fl_txn_cm_name(cm));
    for (size_t i = 0; i < json_array_size(allowed); i++)
      fl_buf_printf(&b, "%s %s", i ? "," : "",
                    json_string_value(json_array_get(allowed, i)));
  }
  char *s = fl_strdup(fl_buf_str(&b));
  fl_buf_free(&b);
  return s;
}

void fl_txn_init(fl_txn_t *t, const fl_txn_opts_t *opts) {
  memset(t, 0, sizeof(*t));
  t->model = opts->model;
  t->max_witnesses = opts->max_witnesses ? opts->max_witnesses : 8;
  fl_intern_init(&t->keys);
  fl_intern_init(&t->vals);
  fl_kv_init(&t->writer);
  fl_kv_init(&t->int_keys);
  t->found = json_object();
}

json_t *fl_txn_result(fl_txn_t *t, const fl_txn_opts_t *opts, uint64_t t0) {
  fl_txn_cm_t cm =
      opts->consistency == FL_CM_NONE ? FL_CM_SERIALIZABLE : opts->consistency;
  int realtime = opts->realtime || cm == FL_CM_STRICT_SERIALIZABLE;
  fl_txn_infer(t, realtime, opts->process);
  fl_txn_cycles(t, realtime || opts->process);
  json_t *o = json_object();
  json_object_set_new(
      o, "model",
      json_string(t->model == FL_TXN_LIST_APPEND ? "list-append" : "rw-register"));
  json_object_set_new(o, "consistency", json_string(fl_txn_cm_name(cm)));
  json_object_set_new(o, "ops", json_integer((json_int_t)t->n));
  json_object_set_new(o, "txns", json_integer((json_int_t)t->nok));
  json_object_set_new(o, "keys", json_integer((json_int_t)t->keys.n));
  json_t *edges = json_object();
  static const char *const kinds[EDGE_KINDS] = {"ww", "wr", "rw", "realtime", "process"};
  for (int k = 0; k < EDGE_KINDS; k++)
    json_object_set_new(edges, kinds[k], json_integer((json_int_t)t->nedge_kind[k]));
  json_object_set_new(o, "edges", edges);
  verdicts(t, cm, o);
  char *msg = message(t, cm, o);
  json_object_set_new(o, "message", json_string(msg));
  fl_free(msg);
  json_object_set_new(o, "elapsed_s", json_real((double)(fl_check_now_ns() - t0) / 1e9));
  return o;
}

int fl_txn_check(const fl_ops_t *ops, const fl_txn_opts_t *opts, json_t **out,
                 fl_err_t *err) {
  uint64_t t0 = fl_check_now_ns();
  fl_txn_t t;
  fl_txn_init(&t, opts);
  *out = NULL;
  int r = fl_txn_parse(&t, ops, err);
  if (r == 0)
    *out = fl_txn_result(&t, opts, t0);
  fl_txn_free(&t);
  return r;
}

/* The row function of check/models.c: "list-append" and "rw-register". */
fl_checker_fn fl_checker_txn;

int fl_txn_opts_from(const char *model, const fl_check_opts_t *opts, fl_txn_opts_t *out,
                     fl_err_t *err) {
  fl_txn_opts_t o = {.model = strcmp(model, "rw-register") == 0 ? FL_TXN_RW_REGISTER
                                                                : FL_TXN_LIST_APPEND,
                     .consistency = FL_CM_NONE};
  if (opts != NULL && opts->consistency != NULL) {
    o.consistency = fl_txn_cm_parse(opts->consistency);
    if (o.consistency == FL_CM_NONE)
      return fl_err_set(
          err, FL_EUSAGE,
          "unknown consistency model \"%s\" (read-uncommitted, read-committed, "
          "snapshot-isolation, repeatable-read, serializable, "
          "strict-serializable)",
          opts->consistency);
  }
  if (opts != NULL) {
    o.realtime = opts->realtime;
    o.process = opts->process;
  }
  *out = o;
  return 0;
}

int fl_checker_txn(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                   json_t **out, fl_err_t *err) {
  fl_txn_opts_t o;
  *out = NULL;
  int r = fl_txn_opts_from(model, opts, &o, err);
  return r != 0 ? r : fl_txn_check(ops, &o, out, err);
}
