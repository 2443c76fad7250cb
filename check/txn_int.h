/* Internal to the transactional checker: txn.c (parsing, models, anomaly
 * records), txn_infer.c (version orders and edges), txn_graph.c (components,
 * cycles, the result). */
#ifndef FL_TXN_INT_H
#define FL_TXN_INT_H

#include <stdarg.h>
#include <stdint.h>

#include "check/intern.h"
#include "check/txn.h"

#define NO_VAL UINT32_MAX
#define SMALL_INT 0x80000000u /* a value id that is the integer itself */

/* Grows array p (of len used, cap allocated) to hold at least n. */
#define FL_GROW(p, n, cap)                                                               \
  do {                                                                                   \
    if ((n) > (cap)) {                                                                   \
      size_t fl_grow_c = (cap) ? (cap) : 16;                                             \
      while (fl_grow_c < (n))                                                            \
        fl_grow_c *= 2;                                                                  \
      (p) = fl_realloc((p), fl_grow_c * sizeof(*(p)));                                   \
      (cap) = fl_grow_c;                                                                 \
    }                                                                                    \
  } while (0)

/* (key id, value id) -> uint32, open addressing. */
typedef struct fl_kvmap_s {
  uint64_t *keys; /* (k << 32 | v) + 1; 0 = empty */
  uint32_t *vals;
  size_t len, cap;
} fl_kvmap_t;

void fl_kv_init(fl_kvmap_t *m);
void fl_kv_free(fl_kvmap_t *m);
uint32_t *fl_kv_put(fl_kvmap_t *m, uint32_t k, uint32_t v, int *fresh);
uint32_t fl_kv_get(const fl_kvmap_t *m, uint32_t k, uint32_t v);
void fl_kv_reserve(fl_kvmap_t *m, size_t n); /* room for n keys without growing */

enum { MOP_READ = 0, MOP_APPEND, MOP_WRITE };

typedef struct fl_mop_s {
  uint8_t f;
  uint8_t has_read; /* a read whose result is known (ok completion) */
  uint8_t canon;    /* list-append read: its list is a prefix of canon[key] */
  uint32_t key;
  uint32_t val;   /* append/write value; register read value (NO_VAL: nil) */
  uint32_t list;  /* list-append read: offset into list[] (when not canon) */
  uint32_t nlist; /* its length */
} fl_mop_t;

/* A key's longest list read so far that other reads are prefixes of: the
 * streaming reader stores a read that is a prefix of it as a reference, not
 * a copy (reads of a key mostly repeat one another). */
typedef struct fl_canon_s {
  uint32_t *v;
  uint32_t len, cap;
} fl_canon_t;

enum { EDGE_WW = 0, EDGE_WR, EDGE_RW, EDGE_RT, EDGE_PROC, EDGE_KINDS };

typedef struct fl_edge_s {
  uint32_t from, to;
  uint8_t kind;
  uint32_t key, val; /* what orders them: the key and the value */
} fl_edge_t;

typedef struct fl_order_s { /* a key's inferred version order */
  uint32_t *v;
  uint32_t *w; /* the writer of each version (UINT32_MAX: none) */
  uint32_t len;
  uint32_t clean; /* versions 0 .. clean-1 have a writer that did not fail */
  uint32_t from;  /* the op whose read gave it */
} fl_order_t;

typedef struct fl_txn_reader_s fl_txn_reader_t; /* txn_read.c */

typedef struct fl_txn_s {
  fl_txn_model_t model;
  const char *name;
  const fl_op_t *ops;
  size_t n, nok;
  fl_intern_t keys, vals;
  fl_mop_t *mops;
  size_t nmops, capmops;
  uint32_t *list;
  size_t nlist, caplist;
  fl_canon_t *canon; /* per key (the streaming reader), or NULL */
  size_t ncanon;
  uint32_t *first, *end; /* op i's micro-ops: mops[first[i] .. end[i]) */
  fl_kvmap_t writer;     /* (k, v) -> the op that appended/wrote it */
  fl_kvmap_t int_keys;   /* integer key -> its id */
  fl_order_t *order;     /* per key */
  fl_edge_t *edges;
  size_t nedges, capedges;
  uint32_t *adj_off, *adj; /* CSR: edges out of node i: adj[adj_off[i] .. adj_off[i+1]) */
  json_t *found;           /* type -> [anomaly], "#type" -> count */
  size_t max_witnesses;
  size_t nedge_kind[EDGE_KINDS];
  fl_txn_reader_t *reader; /* owned; the streaming reader, when it read ops */
  uint8_t *failed;         /* per op: it failed (edges to it are dropped) */
} fl_txn_t;

/* txn.c: a checker's state from opts (zeroed, tables empty); micro-ops from
 * ops' jansson values; one micro-op (m, borrowed) of op; the result once the
 * micro-ops are in (infer, cycles, verdicts; t0 the start of the check, for
 * elapsed_s), new; the options of fl_check_opts_t. */
void fl_txn_init(fl_txn_t *t, const fl_txn_opts_t *opts);
int fl_txn_parse(fl_txn_t *t, const fl_ops_t *ops, fl_err_t *err);

/* The elements of list-append read m (borrowed: m->nlist of them). */
static inline const uint32_t *fl_txn_list(const fl_txn_t *t, const fl_mop_t *m) {
  return m->canon ? t->canon[m->key].v : t->list + m->list;
}
int fl_txn_parse_mop(fl_txn_t *t, const fl_op_t *op, const json_t *m, int is_ok,
                     fl_err_t *err);
json_t *fl_txn_result(fl_txn_t *t, const fl_txn_opts_t *opts, uint64_t t0);
int fl_txn_opts_from(const char *model, const fl_check_opts_t *opts, fl_txn_opts_t *out,
                     fl_err_t *err);
void fl_txn_free(fl_txn_t *t);

/* txn_read.c: op i's value and result (new references) read again from its
 * lines into op (a copy of ops[i]); freeing the reader. */
void fl_txn_reader_values(const fl_txn_reader_t *r, uint32_t i, fl_op_t *op);
void fl_txn_reader_free(fl_txn_reader_t *r);
void fl_txn_label(const fl_txn_t *t, uint32_t i, char *buf, size_t size);
const char *fl_txn_key(const fl_txn_t *t, uint32_t k);
const char *fl_txn_val(const fl_txn_t *t, uint32_t v);
json_t *fl_txn_op_json(const fl_txn_t *t, uint32_t i);
void fl_txn_found(fl_txn_t *t, const char *type, json_t *a);
void fl_txn_found_op(fl_txn_t *t, const char *type, uint32_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* txn_infer.c: writers, data anomalies, version orders, edges. */
void fl_txn_infer(fl_txn_t *t, int realtime, int process);
void fl_txn_edge(fl_txn_t *t, uint32_t from, uint32_t to, int kind, uint32_t key,
                 uint32_t val);

/* txn_graph.c: components and cycles into t->found. */
void fl_txn_cycles(fl_txn_t *t, int extra_edges);

#endif
