/* The transactional checker's streaming reader: history.jsonl (or Jepsen's
 * EDN, converted) read by the one history reader, which pairs and checks
 * every line, with each line's value handed here as JSON text
 * (fl_history_read_opts_t.on_value) instead of kept as a jansson tree. The
 * micro-operations go straight into the checker's flat arrays; ops keep
 * only times, outcomes and lines (their values are json null).
 *
 * Which value a transaction's micro-ops come from is fl_txn_parse's rule:
 * an ok completion's, when it is a list; else the invoke's (or, when the
 * invoke had none, the completion's). An invoke's text waits in a buffer of
 * its process until the completion decides (a process has one operation
 * outstanding), so nothing is allocated per operation. Micro-ops arrive in
 * completion order and are put in invoke order once the file is read.
 *
 * The fast path parses the common shapes ([["append", k, v], ["r", k,
 * [v...]]] with integer or plain string keys and values); anything else (an
 * escaped string, a real, {} for an empty list, a wrong shape) is parsed by
 * jansson and fl_txn_parse_mop, which words the errors: both give the same
 * ids for the same values. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "check/edn.h"
#include "check/partition.h"
#include "check/scan.h"
#include "check/txn_int.h"

#define NO_OFF UINT64_MAX
#define NO_OP UINT32_MAX

/* A process's outstanding invoke: its value's text. */
typedef struct {
  int proc;
  int used;
  uint32_t op; /* NO_OP: none outstanding */
  int has;     /* the invoke had a non-null value */
  char *text;  /* owned, reused */
  size_t len, cap;
} pend_t;

struct fl_txn_reader_s {
  fl_txn_t *t;
  const char *path; /* borrowed: the file read again for reports */
  const char *buf;  /* or the history in memory (EDN converted), borrowed */
  size_t buflen;
  uint64_t *inv_off, *cmp_off; /* per op: its lines' byte offsets */
  uint32_t *mop_at, *mop_n;    /* per op: its micro-ops as they arrived */
  size_t cap;
  pend_t *pend; /* open addressing by process */
  size_t npend, pendslots;
};

/* ---- Outstanding invokes, by process ---------------------------------------- */

static size_t proc_hash(int proc, size_t slots) {
  return ((uint32_t)proc * 2654435761u) & (slots - 1);
}

static pend_t *pend_slot(fl_txn_reader_t *r, int proc) {
  if ((r->npend + 1) * 2 > r->pendslots) {
    size_t n = r->pendslots ? r->pendslots * 2 : 64;
    pend_t *slots = fl_calloc(n, sizeof(*slots));
    for (size_t i = 0; i < r->pendslots; i++) {
      if (!r->pend[i].used)
        continue;
      size_t j = proc_hash(r->pend[i].proc, n);
      while (slots[j].used)
        j = (j + 1) & (n - 1);
      slots[j] = r->pend[i];
    }
    fl_free(r->pend);
    r->pend = slots;
    r->pendslots = n;
  }
  size_t j = proc_hash(proc, r->pendslots);
  while (r->pend[j].used && r->pend[j].proc != proc)
    j = (j + 1) & (r->pendslots - 1);
  if (!r->pend[j].used) {
    r->pend[j].used = 1;
    r->pend[j].proc = proc;
    r->pend[j].op = NO_OP;
    r->npend++;
  }
  return &r->pend[j];
}

/* Keeps an invoke's value text (raw, or value dumped) in pe. */
static void pend_keep(pend_t *pe, uint32_t op, const char *raw, size_t len,
                      const json_t *value) {
  char *dumped = NULL;
  pe->op = op;
  pe->len = 0;
  pe->has = (raw != NULL && !(len == 4 && memcmp(raw, "null", 4) == 0)) ||
            (raw == NULL && value != NULL && !json_is_null(value));
  if (!pe->has)
    return;
  if (raw == NULL) {
    raw = dumped = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    len = dumped != NULL ? strlen(dumped) : 0;
  }
  if (len > pe->cap) {
    pe->cap = len + 64;
    fl_free(pe->text);
    pe->text = fl_malloc(pe->cap);
  }
  memcpy(pe->text, raw, len);
  pe->len = len;
  free(dumped);
}

/* ---- The fast path over a value's text ---------------------------------------- */

static int lit(fl_scan_t *c, char ch) {
  fl_scan_ws(c);
  if (c->s >= c->end || *c->s != ch)
    return -1;
  c->s++;
  fl_scan_ws(c);
  return 0;
}

/* A string without escapes (the reader's fast path lets through no
 * other; a value jansson dumped may hold some: given up): its bytes. */
static long str(fl_scan_t *c, const char **out) {
  if (c->s >= c->end || *c->s != '"')
    return -1;
  const char *start = c->s + 1, *q = start;
  while (q < c->end && *q != '"' && *q != '\\')
    q++;
  if (q >= c->end || *q != '"')
    return -1;
  c->s = q + 1;
  *out = start;
  return (long)(q - start);
}

/* The id fl_intern_json gives a string: its bytes after a quote. */
static uint32_t intern_str(fl_intern_t *in, const char *s, size_t n) {
  char small[128];
  char *p = n + 1 <= sizeof(small) ? small : fl_malloc(n + 1);
  p[0] = '"';
  memcpy(p + 1, s, n);
  uint32_t id = fl_intern(in, p, n + 1);
  if (p != small)
    fl_free(p);
  return id;
}

static uint32_t intern_int(fl_intern_t *in, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%lld", v);
  return fl_intern(in, buf, (size_t)n);
}

/* A value's id as txn.c's value_id gives it; UINT32_MAX to give up. */
static uint32_t fast_val(fl_txn_t *t, fl_scan_t *c) {
  json_int_t i;
  const char *s;
  long n;
  if (c->s < c->end && *c->s == '"')
    return (n = str(c, &s)) < 0 ? UINT32_MAX : intern_str(&t->vals, s, (size_t)n);
  if (fl_scan_int(c, &i) != 0)
    return UINT32_MAX;
  if (i >= 0 && i < (long long)(SMALL_INT - 1))
    return (uint32_t)i | SMALL_INT;
  return intern_int(&t->vals, i);
}

/* A key's id as txn.c's key_id gives it; UINT32_MAX to give up. */
static uint32_t fast_key(fl_txn_t *t, fl_scan_t *c) {
  json_int_t i;
  const char *s;
  long n;
  if (c->s < c->end && *c->s == '"')
    return (n = str(c, &s)) < 0 ? UINT32_MAX : intern_str(&t->keys, s, (size_t)n);
  if (fl_scan_int(c, &i) != 0)
    return UINT32_MAX;
  if (i < 0 || i >= (long long)UINT32_MAX)
    return intern_int(&t->keys, i);
  int fresh;
  uint32_t *id = fl_kv_put(&t->int_keys, UINT32_MAX, (uint32_t)i, &fresh);
  if (fresh)
    *id = intern_int(&t->keys, i);
  return *id;
}

static fl_canon_t *canon_of(fl_txn_t *t, uint32_t key) {
  if (key >= t->ncanon) {
    size_t n = t->ncanon ? t->ncanon : 64;
    while (n <= key)
      n *= 2;
    t->canon = fl_realloc(t->canon, n * sizeof(*t->canon));
    memset(t->canon + t->ncanon, 0, (n - t->ncanon) * sizeof(*t->canon));
    t->ncanon = n;
  }
  return &t->canon[key];
}

static void add_list(fl_txn_t *t, uint32_t v) {
  FL_GROW(t->list, t->nlist + 1, t->caplist);
  t->list[t->nlist++] = v;
}

/* One element v of a list read, at position mop->nlist: while the read
 * agrees with its key's canon it stays a reference (and extends the canon
 * past its end); at the first disagreement it becomes a copy in list[]. */
static void read_element(fl_txn_t *t, fl_mop_t *mop, fl_canon_t *cn, uint32_t v) {
  uint32_t x = mop->nlist++;
  if (!mop->canon) {
    add_list(t, v);
  } else if (x == cn->len) {
    FL_GROW(cn->v, (size_t)cn->len + 1, cn->cap);
    cn->v[cn->len++] = v;
  } else if (cn->v[x] != v) {
    mop->canon = 0;
    mop->list = (uint32_t)t->nlist;
    for (uint32_t y = 0; y < x; y++)
      add_list(t, cn->v[y]);
    add_list(t, v);
  }
}

/* A read's result: a list (list-append) or one value (rw-register). */
static int fast_read(fl_txn_t *t, fl_scan_t *c, fl_mop_t *mop) {
  mop->has_read = 1;
  if (t->model == FL_TXN_RW_REGISTER)
    return (mop->val = fast_val(t, c)) == UINT32_MAX ? -1 : 0;
  if (lit(c, '[') != 0)
    return -1;
  fl_canon_t *cn = canon_of(t, mop->key);
  mop->canon = 1;
  if (c->s < c->end && *c->s == ']') {
    c->s++;
    return 0;
  }
  for (;;) {
    uint32_t v = fast_val(t, c);
    if (v == UINT32_MAX)
      return -1;
    read_element(t, mop, cn, v);
    fl_scan_ws(c);
    if (c->s < c->end && *c->s == ',') {
      c->s++;
      fl_scan_ws(c);
      continue;
    }
    return lit(c, ']');
  }
}

/* One micro-op ["f", k, v]: 0, or -1 to give up. */
static int fast_mop(fl_txn_t *t, fl_scan_t *c, int is_ok) {
  const char *f;
  long fn;
  if (lit(c, '[') != 0 || (fn = str(c, &f)) < 0 || lit(c, ',') != 0)
    return -1;
  fl_mop_t mop = {0};
  if (fn == 1 && f[0] == 'r')
    mop.f = MOP_READ;
  else if (fn == 6 && memcmp(f, "append", 6) == 0 && t->model == FL_TXN_LIST_APPEND)
    mop.f = MOP_APPEND;
  else if (fn == 1 && f[0] == 'w' && t->model == FL_TXN_RW_REGISTER)
    mop.f = MOP_WRITE;
  else
    return -1;
  if ((mop.key = fast_key(t, c)) == UINT32_MAX || lit(c, ',') != 0)
    return -1;
  if (mop.f != MOP_READ) {
    if ((mop.val = fast_val(t, c)) == UINT32_MAX)
      return -1;
  } else if (c->end - c->s >= 4 && memcmp(c->s, "null", 4) == 0) {
    c->s += 4;
    mop.has_read = (uint8_t)is_ok; /* an ok read of null: nothing yet */
    mop.val = NO_VAL;
  } else if (!is_ok) {
    return -1; /* a read result in an invoke or a failure: rare, jansson's */
  } else {
    mop.val = NO_VAL;
    if (fast_read(t, c, &mop) != 0)
      return -1;
  }
  if (lit(c, ']') != 0)
    return -1;
  FL_GROW(t->mops, t->nmops + 1, t->capmops);
  t->mops[t->nmops++] = mop;
  return 0;
}

/* A transaction's value in the fast path: 0, or -1 to give up. */
static int fast_txn(fl_txn_t *t, const char *raw, size_t len, int is_ok) {
  fl_scan_t c = {raw, raw + len};
  if (lit(&c, '[') != 0)
    return -1;
  if (c.s < c.end && *c.s == ']')
    return c.s + 1 == c.end ? 0 : -1;
  for (;;) {
    if (fast_mop(t, &c, is_ok) != 0)
      return -1;
    if (c.s < c.end && *c.s == ',') {
      c.s++;
      continue;
    }
    return lit(&c, ']') == 0 && c.s == c.end ? 0 : -1;
  }
}

/* ---- One transaction's micro-ops ------------------------------------------------ */

static int not_a_list(const fl_txn_t *t, const fl_op_t *op, fl_err_t *err) {
  return fl_err_set(err, FL_EPARSE,
                    "%s:%u: a transaction's value is a list of micro-operations", t->name,
                    op->invoke_line);
}

/* The micro-ops of op from its chosen value: raw text, or a jansson value. */
static int add_mops(fl_txn_reader_t *r, const fl_op_t *op, const char *raw, size_t len,
                    const json_t *value, fl_err_t *err) {
  fl_txn_t *t = r->t;
  int is_ok = op->type == FL_OP_OK;
  size_t m0 = t->nmops, l0 = t->nlist;
  json_t *parsed = NULL;
  int rc = 0;
  if (raw != NULL && fast_txn(t, raw, len, is_ok) == 0)
    goto done;
  t->nmops = m0; /* undo what the fast path did, then the general path */
  t->nlist = l0;
  if (raw != NULL) {
    json_error_t je;
    value = parsed = json_loadb(raw, len, JSON_DECODE_ANY, &je);
  }
  if (!json_is_array(value)) {
    rc = not_a_list(t, op, err);
    goto done;
  }
  for (size_t j = 0; j < json_array_size(value) && rc == 0; j++)
    rc = fl_txn_parse_mop(t, op, json_array_get(value, j), is_ok, err);
done:
  json_decref(parsed);
  r->mop_at[op->index] = (uint32_t)m0;
  r->mop_n[op->index] = (uint32_t)(t->nmops - m0);
  if (rc == 0 && is_ok)
    t->nok++;
  return rc;
}

static int is_list(const char *raw, const json_t *value) {
  return raw != NULL ? raw[0] == '[' : json_is_array(value);
}

static void grow_ops(fl_txn_reader_t *r, size_t n) {
  if (n <= r->cap)
    return;
  size_t cap = r->cap ? r->cap * 2 : 4096;
  while (cap < n)
    cap *= 2;
  r->inv_off = fl_realloc(r->inv_off, cap * sizeof(uint64_t));
  r->cmp_off = fl_realloc(r->cmp_off, cap * sizeof(uint64_t));
  r->mop_at = fl_realloc(r->mop_at, cap * sizeof(uint32_t));
  r->mop_n = fl_realloc(r->mop_n, cap * sizeof(uint32_t));
  r->cap = cap;
}

/* fl_history_value_fn: each line's value as it streams past. */
static int on_value(void *data, const fl_op_t *op, int completion, const char *raw,
                    size_t len, const json_t *value, uint64_t offset, fl_err_t *err) {
  fl_txn_reader_t *r = data;
  uint32_t i = op->index;
  if (!completion) {
    if (strcmp(op->f, "txn") != 0)
      return fl_err_set(err, FL_EPARSE,
                        "%s:%u: f is \"%s\": a transactional history holds "
                        "only \"txn\" operations",
                        r->t->name, op->invoke_line, op->f);
    grow_ops(r, (size_t)i + 1);
    r->inv_off[i] = offset;
    r->cmp_off[i] = NO_OFF;
    r->mop_at[i] = r->mop_n[i] = 0;
    pend_keep(pend_slot(r, op->process), i, raw, len, value);
    return 0;
  }
  r->cmp_off[i] = offset;
  pend_t *pe = pend_slot(r, op->process);
  int inv = pe->op == i && pe->has;
  pe->op = NO_OP;
  if (op->type == FL_OP_OK && is_list(raw, value))
    return add_mops(r, op, raw, len, value, err);
  if (inv)
    return add_mops(r, op, pe->text, pe->len, NULL, err);
  if (raw == NULL && value == NULL)
    return not_a_list(r->t, op, err);
  return add_mops(r, op, raw, len, value, err);
}

/* After the last line: the invokes never completed, then every op's
 * micro-ops (first[], end[]: they lie in completion order). */
static int reader_end(fl_txn_reader_t *r, const fl_ops_t *ops, fl_err_t *err) {
  fl_txn_t *t = r->t;
  for (size_t j = 0; j < r->pendslots; j++) {
    pend_t *pe = &r->pend[j];
    if (!pe->used || pe->op == NO_OP)
      continue;
    const fl_op_t *op = &ops->v[pe->op];
    int rc =
        pe->has ? add_mops(r, op, pe->text, pe->len, NULL, err) : not_a_list(t, op, err);
    pe->op = NO_OP;
    if (rc != 0)
      return rc;
  }
  t->ops = ops->v;
  t->n = ops->len;
  grow_ops(r, ops->len + 1);
  for (size_t i = 0; i < ops->len; i++)
    r->mop_n[i] += r->mop_at[i]; /* now where op i's micro-ops end */
  t->first = r->mop_at;
  t->end = r->mop_n;
  r->mop_at = r->mop_n = NULL; /* the checker's now */
  return 0;
}

void fl_txn_reader_free(fl_txn_reader_t *r) {
  if (r == NULL)
    return;
  for (size_t j = 0; j < r->pendslots; j++)
    fl_free(r->pend[j].text);
  fl_free(r->pend);
  fl_free(r->inv_off);
  fl_free(r->cmp_off);
  fl_free(r->mop_at);
  fl_free(r->mop_n);
  fl_free(r);
}

/* ---- Values again, for the report --------------------------------------------- */

/* The "value" of the line at offset (new; NULL when it has none). */
static json_t *line_value(const fl_txn_reader_t *r, uint64_t offset) {
  fl_buf_t line;
  fl_buf_init(&line, SIZE_MAX);
  if (r->buf != NULL && offset < r->buflen) {
    const char *s = r->buf + offset, *nl = memchr(s, '\n', r->buflen - offset);
    fl_buf_add(&line, s, nl != NULL ? (size_t)(nl - s) : r->buflen - offset);
  } else if (r->buf == NULL) {
    FILE *f = fopen(r->path, "rb");
    char chunk[4096];
    size_t n;
    if (f != NULL && fseeko(f, (off_t)offset, SEEK_SET) == 0) {
      while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        char *nl = memchr(chunk, '\n', n);
        fl_buf_add(&line, chunk, nl != NULL ? (size_t)(nl - chunk) : n);
        if (nl != NULL)
          break;
      }
    }
    if (f != NULL)
      fclose(f);
  }
  json_error_t je;
  json_t *o = json_loadb(line.data ? line.data : "", line.len, 0, &je);
  fl_buf_free(&line);
  json_t *v = json_incref(json_object_get(o, "value"));
  json_decref(o);
  return v;
}

/* As the reader fills value and result (history_read.c): the invoke's
 * value, or the completion's when the invoke had none; the completion's. */
void fl_txn_reader_values(const fl_txn_reader_t *r, uint32_t i, fl_op_t *op) {
  json_t *inv = line_value(r, r->inv_off[i]);
  json_t *cmp = r->cmp_off[i] != NO_OFF ? line_value(r, r->cmp_off[i]) : NULL;
  op->result = cmp != NULL ? json_incref(cmp) : json_null();
  if (inv == NULL || json_is_null(inv)) {
    json_decref(inv);
    inv = cmp != NULL ? json_incref(cmp) : json_null();
  }
  op->value = inv;
  json_decref(cmp);
}

/* ---- The entry point -------------------------------------------------------- */

/* Reads the file (EDN converted first) with on_value into r's checker. */
static int read_history(fl_txn_reader_t *r, const char *path, int edn, fl_ops_t **ops,
                        fl_buf_t *json, fl_err_t *err) {
  fl_history_read_opts_t ro = {.on_value = on_value, .on_value_data = r};
  if (!edn)
    return fl_history_read_opts(ops, path, &ro, err);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fl_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
  /* Read whole in one allocation of the file's size (not grown by copies). */
  struct stat st;
  size_t cap =
      fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
  char *text = fl_malloc(cap);
  size_t len = 0, n;
  while ((n = fread(text + len, 1, cap - len, f)) > 0)
    if ((len += n) == cap)
      text = fl_realloc(text, cap *= 2);
  int rerr = ferror(f);
  fclose(f);
  int rc = rerr ? fl_err_set(err, -EIO, "cannot read %s", path)
                : fl_edn_to_jsonl(text, len, path, json, err);
  fl_free(text);
  if (rc != 0)
    return rc;
  r->buf = json->data ? json->data : "";
  r->buflen = json->len;
  return fl_history_parse_opts(ops, r->buf, r->buflen, path, &ro, err);
}

int fl_txn_check_file(const char *path, const char *model, const fl_check_opts_t *opts,
                      json_t **out, fl_err_t *err) {
  *out = NULL;
  fl_txn_opts_t o;
  int rc = fl_txn_opts_from(model, opts, &o, err);
  if (rc != 0)
    return rc;
  uint64_t t0 = fl_check_now_ns();
  fl_txn_t t;
  fl_txn_init(&t, &o);
  t.name = path;
  fl_txn_reader_t *r = fl_calloc(1, sizeof(*r));
  r->t = &t;
  r->path = path;
  t.reader = r;
  fl_buf_t json;
  fl_buf_init(&json, (size_t)4 << 30);
  fl_ops_t *ops = NULL;
  rc = read_history(r, path, opts != NULL && opts->edn, &ops, &json, err);
  if (rc == 0)
    rc = reader_end(r, ops, err);
  if (rc == 0) {
    uint64_t t1 = fl_check_now_ns();
    *out = fl_txn_result(&t, &o, t1);
    json_object_set_new(*out, "file", json_string(path));
    json_object_set_new(*out, "parse_s", json_real((double)(t1 - t0) / 1e9));
  }
  fl_txn_free(&t); /* and the reader */
  fl_ops_free(ops);
  fl_buf_free(&json);
  return rc;
}
