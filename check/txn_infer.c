/* What the observations imply: who wrote each value, the data anomalies
 * (garbage, aborted and intermediate reads, internal inconsistency,
 * duplicates, incompatible orders), each key's version order, and the
 * dependency edges between transactions. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/txn_int.h"

static int op_ok(const fl_txn_t *t, uint32_t i) {
  return t->ops[i].type == FL_OP_OK;
}

void fl_txn_edge(fl_txn_t *t, uint32_t from, uint32_t to, int kind, uint32_t key,
                 uint32_t val) {
  if (from == to || from == UINT32_MAX || to == UINT32_MAX)
    return;
  if (t->failed[from] || t->failed[to])
    return;
  FL_GROW(t->edges, t->nedges + 1, t->capedges);
  t->edges[t->nedges++] = (fl_edge_t){from, to, (uint8_t)kind, key, val};
}

/* Every append (write): (k, v) -> its op; a value written twice is a
 * duplicate (Elle needs unique values to tell versions apart). */
static void index_writers(fl_txn_t *t) {
  size_t writes = 0;
  for (size_t m = 0; m < t->nmops; m++)
    writes += t->mops[m].f != MOP_READ;
  fl_kv_reserve(&t->writer, writes);
  /* Edges: at most a wr and an rw per read and a ww per write, before real
   * time and process order; reserved once rather than grown by copies. */
  FL_GROW(t->edges, 2 * t->nmops + 16, t->capedges);
  for (uint32_t i = 0; i < t->n; i++) {
    for (uint32_t m = t->first[i]; m < t->end[i]; m++) {
      const fl_mop_t *mop = &t->mops[m];
      if (mop->f == MOP_READ)
        continue;
      int fresh;
      uint32_t *w = fl_kv_put(&t->writer, mop->key, mop->val, &fresh);
      if (fresh) {
        *w = i;
        continue;
      }
      char a[96], b[96];
      fl_txn_label(t, *w, a, sizeof(a));
      fl_txn_label(t, i, b, sizeof(b));
      fl_txn_found_op(
          t, t->model == FL_TXN_LIST_APPEND ? "duplicate-appends" : "duplicate-writes", i,
          "%s and %s both wrote %s to %s: values must be unique", a, b,
          fl_txn_val(t, mop->val), fl_txn_key(t, mop->key));
    }
  }
}

/* Whether writer w wrote key k again after it wrote v (so v was never its
 * final version of k). */
static int overwritten_in_txn(const fl_txn_t *t, uint32_t w, uint32_t k, uint32_t v) {
  int seen = 0;
  for (uint32_t m = t->first[w]; m < t->end[w]; m++) {
    const fl_mop_t *mop = &t->mops[m];
    if (mop->f == MOP_READ || mop->key != k)
      continue;
    if (seen)
      return 1;
    seen = mop->val == v;
  }
  return 0;
}

/* What reader i saw of value v of key k, written by w (UINT32_MAX: no
 * one): garbage, aborted or intermediate. */
static void check_seen_by(fl_txn_t *t, uint32_t i, uint32_t k, uint32_t v, int last,
                          uint32_t w) {
  int aborted = w != UINT32_MAX && t->ops[w].type == FL_OP_FAIL;
  int intermediate =
      w != UINT32_MAX && !aborted && last && w != i && overwritten_in_txn(t, w, k, v);
  if (w != UINT32_MAX && !aborted && !intermediate)
    return; /* the common case: no words needed */
  char who[96], by[96];
  fl_txn_label(t, i, who, sizeof(who));
  if (w == UINT32_MAX) {
    fl_txn_found_op(t, "garbage-read", i, "%s read %s in %s, which no transaction wrote",
                    who, fl_txn_val(t, v), fl_txn_key(t, k));
    return;
  }
  fl_txn_label(t, w, by, sizeof(by));
  if (aborted)
    fl_txn_found_op(t, "G1a", i,
                    "%s read %s in %s, written by %s, which failed (aborted read)", who,
                    fl_txn_val(t, v), fl_txn_key(t, k), by);
  else
    fl_txn_found_op(
        t, "G1b", i,
        "%s read %s of %s, an intermediate version: %s wrote %s again later in "
        "the same transaction (intermediate read)",
        who, fl_txn_val(t, v), fl_txn_key(t, k), by, fl_txn_key(t, k));
}

static void check_seen(fl_txn_t *t, uint32_t i, uint32_t k, uint32_t v, int last) {
  check_seen_by(t, i, k, v, last, fl_kv_get(&t->writer, k, v));
}

/* Internal consistency of a list read at mops[m] of op i: after an earlier
 * read of the key and the txn's own appends since, it must be that read
 * plus those appends; after appends alone, it must end with them. */
static void check_internal_list(fl_txn_t *t, uint32_t i, uint32_t m) {
  const fl_mop_t *r = &t->mops[m];
  const fl_mop_t *prev = NULL;
  uint32_t appends[64], na = 0;
  for (uint32_t j = t->first[i]; j < m; j++) {
    const fl_mop_t *x = &t->mops[j];
    if (x->key != r->key)
      continue;
    if (x->f == MOP_READ && x->has_read) {
      prev = x;
      na = 0;
    } else if (x->f == MOP_APPEND && na < 64) {
      appends[na++] = x->val;
    }
  }
  if (prev == NULL && na == 0)
    return;
  int bad = 0;
  const uint32_t *rl = fl_txn_list(t, r);
  if (prev != NULL) {
    const uint32_t *pl = fl_txn_list(t, prev);
    bad = r->nlist != prev->nlist + na;
    for (uint32_t x = 0; !bad && x < prev->nlist; x++)
      bad = rl[x] != pl[x];
  } else {
    bad = r->nlist < na;
  }
  for (uint32_t x = 0; !bad && x < na; x++)
    bad = rl[r->nlist - na + x] != appends[x];
  if (bad) {
    char who[96];
    fl_txn_label(t, i, who, sizeof(who));
    fl_txn_found_op(
        t, "internal", i,
        "%s read %s in a state its own earlier reads and appends of %s rule out", who,
        fl_txn_key(t, r->key), fl_txn_key(t, r->key));
  }
}

static int u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Whether a value occurs twice in v (values usually increase: no sort). */
static int has_duplicates(const uint32_t *v, uint32_t len) {
  uint32_t x = 1;
  while (x < len && v[x] > v[x - 1])
    x++;
  if (x >= len)
    return 0;
  uint32_t *s = fl_malloc(len * sizeof(*s));
  memcpy(s, v, len * sizeof(*s));
  qsort(s, len, sizeof(*s), u32_cmp);
  int dup = 0;
  for (x = 1; x < len && !dup; x++)
    dup = s[x] == s[x - 1];
  fl_free(s);
  return dup;
}

/* Each repeated element of key k's order, in order. */
static void report_duplicates(fl_txn_t *t, uint32_t k, const fl_order_t *o) {
  fl_kvmap_t seen;
  fl_kv_init(&seen);
  for (uint32_t x = 0; x < o->len; x++) {
    int fresh;
    fl_kv_put(&seen, 0, o->v[x], &fresh);
    if (fresh)
      continue;
    char who[96];
    fl_txn_label(t, o->from, who, sizeof(who));
    fl_txn_found_op(t, "duplicate-elements", o->from, "%s read %s with %s in it twice",
                    who, fl_txn_key(t, k), fl_txn_val(t, o->v[x]));
  }
  fl_kv_free(&seen);
}

/* The version order of every key: its longest read; every other read must
 * be a prefix of it. */
static void build_orders(fl_txn_t *t) {
  t->order = fl_calloc(t->keys.n ? t->keys.n : 1, sizeof(*t->order));
  for (size_t k = 0; k < t->keys.n; k++)
    t->order[k].from = UINT32_MAX;
  for (uint32_t i = 0; i < t->n; i++) {
    if (!op_ok(t, i))
      continue;
    for (uint32_t m = t->first[i]; m < t->end[i]; m++) {
      const fl_mop_t *r = &t->mops[m];
      fl_order_t *o = &t->order[r->key];
      if (r->f == MOP_READ && r->has_read &&
          (o->from == UINT32_MAX || r->nlist > o->len)) {
        o->w = (uint32_t *)(uintptr_t)m; /* the read, until copied below */
        o->len = r->nlist;
        o->from = i;
      }
    }
  }
  for (uint32_t k = 0; k < t->keys.n; k++) {
    fl_order_t *o = &t->order[k];
    const fl_mop_t *r = o->from != UINT32_MAX ? &t->mops[(uintptr_t)o->w] : NULL;
    o->v = fl_malloc((o->len ? o->len : 1) * sizeof(uint32_t));
    o->w = fl_malloc((o->len ? o->len : 1) * sizeof(uint32_t));
    if (o->len)
      memcpy(o->v, fl_txn_list(t, r), o->len * sizeof(uint32_t));
    /* Who wrote each version, once per key rather than once per read. */
    o->clean = o->len;
    for (uint32_t x = 0; x < o->len; x++) {
      o->w[x] = fl_kv_get(&t->writer, k, o->v[x]);
      if (x < o->clean && (o->w[x] == UINT32_MAX || t->ops[o->w[x]].type == FL_OP_FAIL))
        o->clean = x;
    }
    if (has_duplicates(o->v, o->len))
      report_duplicates(t, k, o);
  }
}

/* A read of k whose list is not a prefix of k's order. */
static int compatible(fl_txn_t *t, uint32_t i, const fl_mop_t *r) {
  const fl_order_t *o = &t->order[r->key];
  const uint32_t *l = fl_txn_list(t, r);
  for (uint32_t x = 0; x < r->nlist; x++) {
    if (x < o->len && l[x] == o->v[x])
      continue;
    char a[96], b[96];
    fl_txn_label(t, i, a, sizeof(a));
    fl_txn_label(t, o->from, b, sizeof(b));
    fl_txn_found_op(t, "incompatible-order", i,
                    "%s and %s read %s in orders that are not prefixes of one another "
                    "(element %u: %s against %s)",
                    a, b, fl_txn_key(t, r->key), x, fl_txn_val(t, l[x]),
                    x < o->len ? fl_txn_val(t, o->v[x]) : "nothing");
    return 0;
  }
  return 1;
}

/* ww between successive appends of each key's order. */
static void ww_list(fl_txn_t *t) {
  for (uint32_t k = 0; k < t->keys.n; k++) {
    const fl_order_t *o = &t->order[k];
    for (uint32_t x = 1; x < o->len; x++)
      fl_txn_edge(t, o->w[x - 1], o->w[x], EDGE_WW, k, o->v[x]);
  }
}

/* Reads of a list-append history: data anomalies, then wr and rw edges from
 * what the read saw of others (its own trailing appends set aside). */
static void reads_list(fl_txn_t *t) {
  for (uint32_t i = 0; i < t->n; i++) {
    if (!op_ok(t, i))
      continue;
    for (uint32_t m = t->first[i]; m < t->end[i]; m++) {
      const fl_mop_t *r = &t->mops[m];
      if (r->f != MOP_READ || !r->has_read)
        continue;
      check_internal_list(t, i, m);
      const fl_order_t *o = &t->order[r->key];
      const uint32_t *l = fl_txn_list(t, r);
      if (r->nlist <= o->clean && memcmp(l, o->v, r->nlist * sizeof(uint32_t)) == 0) {
        /* A prefix of the order whose writers all exist and committed:
         * only an intermediate read of its last version is possible. */
        if (r->nlist > 0)
          check_seen_by(t, i, r->key, l[r->nlist - 1], 1, o->w[r->nlist - 1]);
      } else {
        for (uint32_t x = 0; x < r->nlist; x++)
          check_seen(t, i, r->key, l[x], x + 1 == r->nlist);
        if (!compatible(t, i, r))
          continue;
      }
      uint32_t seen = r->nlist; /* a prefix of the order from here on */
      while (seen > 0 && o->w[seen - 1] == i)
        seen--;
      if (seen > 0)
        fl_txn_edge(t, o->w[seen - 1], i, EDGE_WR, r->key, o->v[seen - 1]);
      if (seen < o->len)
        fl_txn_edge(t, i, o->w[seen], EDGE_RW, r->key, o->v[seen]);
    }
  }
}

/* ---- rw-register -------------------------------------------------------------- */

typedef struct {
  uint32_t key, val, op;
} triple_t;

static int triple_cmp(const void *a, const void *b) {
  const triple_t *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  if (x->val != y->val)
    return x->val < y->val ? -1 : 1;
  return x->op < y->op ? -1 : x->op > y->op;
}

/* The external read of key k in op i before mops[m] (its first read before
 * any write of k), or NULL; *internal set when mops[m] disagrees with what
 * the txn itself wrote or read of k earlier. */
static const fl_mop_t *reg_external(const fl_txn_t *t, uint32_t i, uint32_t m,
                                    int *internal) {
  const fl_mop_t *r = &t->mops[m], *last = NULL;
  int wrote = 0;
  for (uint32_t j = t->first[i]; j < m; j++) {
    const fl_mop_t *x = &t->mops[j];
    if (x->key != r->key || (x->f == MOP_READ && !x->has_read))
      continue;
    last = x;
    wrote |= x->f == MOP_WRITE;
  }
  *internal = r->f == MOP_READ && r->has_read && last != NULL && last->val != r->val;
  return last == NULL ? r : wrote ? NULL : last;
}

/* Reads of an rw-register history: data anomalies, wr edges, and the
 * readers of each (key, value), sorted, for the rw edges. */
static triple_t *reads_reg(fl_txn_t *t, size_t *nreaders) {
  triple_t *rd = NULL;
  size_t n = 0, cap = 0;
  for (uint32_t i = 0; i < t->n; i++) {
    if (!op_ok(t, i))
      continue;
    for (uint32_t m = t->first[i]; m < t->end[i]; m++) {
      const fl_mop_t *r = &t->mops[m];
      if (r->f != MOP_READ || !r->has_read)
        continue;
      int internal;
      const fl_mop_t *ext = reg_external(t, i, m, &internal);
      if (internal) {
        char who[96];
        fl_txn_label(t, i, who, sizeof(who));
        fl_txn_found_op(t, "internal", i, "%s read %s = %s after its own %s of %s", who,
                        fl_txn_key(t, r->key), fl_txn_val(t, r->val), "reads and writes",
                        fl_txn_key(t, r->key));
      }
      if (ext != r)
        continue;
      if (r->val != NO_VAL) {
        check_seen(t, i, r->key, r->val, 1);
        fl_txn_edge(t, fl_kv_get(&t->writer, r->key, r->val), i, EDGE_WR, r->key, r->val);
      }
      FL_GROW(rd, n + 1, cap);
      rd[n++] = (triple_t){r->key, r->val, i};
    }
  }
  if (n > 0)
    qsort(rd, n, sizeof(*rd), triple_cmp);
  *nreaders = n;
  return rd;
}

/* Versions: nil precedes every write of a key; a transaction that read v1
 * and then wrote v2 puts v1 before v2. So: ww from v1's writer to it, and
 * rw from every other reader of v1 to it. */
static void orders_reg(fl_txn_t *t, const triple_t *rd, size_t nrd) {
  for (uint32_t i = 0; i < t->n; i++) {
    if (t->ops[i].type == FL_OP_FAIL)
      continue;
    for (uint32_t m = t->first[i]; m < t->end[i]; m++) {
      const fl_mop_t *w = &t->mops[m];
      if (w->f != MOP_WRITE)
        continue;
      int internal;
      const fl_mop_t *ext = reg_external(t, i, m, &internal);
      if (ext == NULL || ext == w || !ext->has_read)
        continue;
      if (ext->val != NO_VAL)
        fl_txn_edge(t, fl_kv_get(&t->writer, w->key, ext->val), i, EDGE_WW, w->key,
                    w->val);
      triple_t probe = {w->key, ext->val, 0};
      size_t lo = 0, hi = nrd;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (triple_cmp(&rd[mid], &probe) < 0)
          lo = mid + 1;
        else
          hi = mid;
      }
      for (; lo < nrd && rd[lo].key == w->key && rd[lo].val == ext->val; lo++)
        fl_txn_edge(t, rd[lo].op, i, EDGE_RW, w->key, w->val);
    }
  }
}

/* ---- Real time and process order ------------------------------------------------ */

typedef struct {
  uint64_t t;
  uint32_t op;
  int complete;
} event_t;

static int event_cmp(const void *a, const void *b) {
  const event_t *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->complete - y->complete; /* invokes first: equal times overlap */
}

/* T1 -> T2 when T1 completed before T2 began, transitively reduced with a
 * frontier: the completed transactions no later completion follows yet. A
 * transaction's predecessors are the frontier when it begins; when it
 * completes, it replaces them there. */
static void realtime_edges(fl_txn_t *t) {
  event_t *ev = fl_malloc((2 * t->n + 1) * sizeof(*ev));
  size_t n = 0;
  for (uint32_t i = 0; i < t->n; i++) {
    if (!op_ok(t, i))
      continue;
    ev[n++] = (event_t){t->ops[i].invoke_ns, i, 0};
    ev[n++] = (event_t){t->ops[i].complete_ns, i, 1};
  }
  qsort(ev, n, sizeof(*ev), event_cmp);
  uint32_t *frontier = NULL, *pool = NULL;
  uint32_t *off = fl_calloc(t->n + 1, sizeof(uint32_t)),
           *len = fl_calloc(t->n + 1, sizeof(uint32_t));
  uint32_t *stamp = fl_calloc(t->n + 1, sizeof(uint32_t));
  size_t nf = 0, capf = 0, np = 0, capp = 0;
  for (size_t e = 0; e < n; e++) {
    uint32_t op = ev[e].op;
    if (!ev[e].complete) {
      FL_GROW(pool, np + nf + 1, capp);
      off[op] = (uint32_t)np;
      len[op] = (uint32_t)nf;
      for (size_t f = 0; f < nf; f++) {
        fl_txn_edge(t, frontier[f], op, EDGE_RT, UINT32_MAX, UINT32_MAX);
        pool[np++] = frontier[f];
      }
      continue;
    }
    for (uint32_t x = 0; x < len[op]; x++)
      stamp[pool[off[op] + x]] = op + 1;
    size_t keep = 0;
    for (size_t f = 0; f < nf; f++)
      if (stamp[frontier[f]] != op + 1)
        frontier[keep++] = frontier[f];
    nf = keep;
    FL_GROW(frontier, nf + 1, capf);
    frontier[nf++] = op;
  }
  fl_free(frontier);
  fl_free(pool);
  fl_free(off);
  fl_free(len);
  fl_free(stamp);
  fl_free(ev);
}

static void process_edges(fl_txn_t *t) {
  /* ops are in invoke order: the previous ok op of each process */
  int maxp = 0;
  for (uint32_t i = 0; i < t->n; i++)
    if (t->ops[i].process > maxp)
      maxp = t->ops[i].process;
  uint32_t *last = fl_malloc(((size_t)maxp + 1) * sizeof(uint32_t));
  for (int p = 0; p <= maxp; p++)
    last[p] = UINT32_MAX;
  for (uint32_t i = 0; i < t->n; i++) {
    int p = t->ops[i].process;
    if (p < 0 || !op_ok(t, i))
      continue;
    if (last[p] != UINT32_MAX)
      fl_txn_edge(t, last[p], i, EDGE_PROC, UINT32_MAX, UINT32_MAX);
    last[p] = i;
  }
  fl_free(last);
}

void fl_txn_infer(fl_txn_t *t, int realtime, int process) {
  /* One byte per op, not a look at its (large) op for every edge. */
  t->failed = fl_malloc(t->n + 1);
  for (size_t i = 0; i < t->n; i++)
    t->failed[i] = t->ops[i].type == FL_OP_FAIL;
  index_writers(t);
  if (t->model == FL_TXN_LIST_APPEND) {
    build_orders(t);
    ww_list(t);
    reads_list(t);
  } else {
    size_t nrd;
    triple_t *rd = reads_reg(t, &nrd);
    orders_reg(t, rd, nrd);
    fl_free(rd);
  }
  if (realtime)
    realtime_edges(t);
  if (process)
    process_edges(t);
}
