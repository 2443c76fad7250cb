/* history.jsonl for the charts, read through check/'s one reader in its
 * tolerant mode (a run killed mid-way leaves a ragged file): each operation
 * kept as four numbers (the charts need times and outcomes, not values),
 * with a bound on how many are read and on the length of a line. */
#include "reports/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/history.h"

/* One process: its slot (order of first appearance) and its latest
 * operation, which a later invoke ends when it never completed. */
typedef struct {
  long long process;
  int used;
  int slot;
  size_t last; /* index into h->ops, or SIZE_MAX */
} proc_t;

typedef struct {
  proc_t *tab;
  size_t cap; /* power of two */
  size_t n;
} procs_t;

static size_t hash_ll(long long v) {
  uint64_t x = (uint64_t)v;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

static proc_t *procs_get(procs_t *ps, long long process) {
  if ((ps->n + 1) * 2 > ps->cap) {
    procs_t grown = {fl_calloc(ps->cap ? ps->cap * 2 : 64, sizeof(proc_t)),
                     ps->cap ? ps->cap * 2 : 64, 0};
    for (size_t i = 0; i < ps->cap; i++) {
      if (!ps->tab[i].used)
        continue;
      size_t j = hash_ll(ps->tab[i].process) & (grown.cap - 1);
      while (grown.tab[j].used)
        j = (j + 1) & (grown.cap - 1);
      grown.tab[j] = ps->tab[i];
      grown.n++;
    }
    fl_free(ps->tab);
    *ps = grown;
  }
  size_t j = hash_ll(process) & (ps->cap - 1);
  while (ps->tab[j].used && ps->tab[j].process != process)
    j = (j + 1) & (ps->cap - 1);
  if (!ps->tab[j].used) {
    ps->tab[j].used = 1;
    ps->tab[j].process = process;
    ps->tab[j].slot = (int)ps->n;
    ps->tab[j].last = SIZE_MAX;
    ps->n++;
  }
  return &ps->tab[j];
}

/* Ends an operation that never completed at t (the next invoke of its
 * process, or the end of the run). */
static void end_open(fl__op_t *op, double t) {
  op->comp = t < op->inv ? op->inv : t;
}

/* Fills h from the paired operations: one fl__op_t each, in order of
 * invocation, with its process's slot. Returns the number of slots. */
static int take_ops(fl__hist_t *h, const fl_ops_t *ops, double end_s) {
  procs_t ps = {NULL, 0, 0};
  h->n = h->alloc = ops->len;
  h->ops = fl_malloc((ops->len + 1) * sizeof(fl__op_t));
  for (size_t i = 0; i < ops->len; i++) {
    const fl_op_t *op = &ops->v[i];
    fl__op_t *o = &h->ops[i];
    proc_t *p = procs_get(&ps, op->process);
    int open = op->complete_line == 0;
    o->inv = (double)op->invoke_ns / 1e9;
    o->comp = open ? o->inv : fmax((double)op->complete_ns / 1e9, o->inv);
    o->slot = p->slot;
    o->type = (short)(open                     ? FL__OP_INFO
                      : op->type == FL_OP_OK   ? FL__OP_OK
                      : op->type == FL_OP_FAIL ? FL__OP_FAIL
                                               : FL__OP_INFO);
    o->open = (short)open;
    if (p->last != SIZE_MAX && h->ops[p->last].open)
      end_open(&h->ops[p->last], o->inv);
    p->last = open ? i : SIZE_MAX;
  }
  for (size_t i = 0; i < ps.cap; i++)
    if (ps.tab[i].used && ps.tab[i].last != SIZE_MAX)
      end_open(&h->ops[ps.tab[i].last], end_s);
  fl_free(ps.tab);
  return (int)ps.n;
}

typedef struct {
  double first, last;
  int slot;
} span_t;

static int by_first(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Replaces each operation's slot (its process's order of appearance) with a
 * row: processes sorted by their first invoke take the lowest row that is
 * free by then (interval colouring). Returns the number of rows. */
static int assign_rows(fl__hist_t *h, int nslots) {
  if (nslots == 0)
    return 0;
  span_t *sp = fl_malloc((size_t)nslots * sizeof(span_t));
  for (int s = 0; s < nslots; s++)
    sp[s] = (span_t){INFINITY, -INFINITY, s};
  for (size_t i = 0; i < h->n; i++) {
    span_t *x = &sp[h->ops[i].slot];
    x->first = fmin(x->first, h->ops[i].inv);
    x->last = fmax(x->last, h->ops[i].comp);
  }
  qsort(sp, (size_t)nslots, sizeof(span_t), by_first);
  int *row = fl_malloc((size_t)nslots * sizeof(int));
  double *row_end = fl_malloc((size_t)nslots * sizeof(double));
  int nrows = 0;
  for (int k = 0; k < nslots; k++) {
    int r = 0;
    while (r < nrows && row_end[r] >= sp[k].first)
      r++;
    if (r == nrows)
      nrows++;
    row_end[r] = sp[k].last;
    row[sp[k].slot] = r;
  }
  for (size_t i = 0; i < h->n; i++)
    h->ops[i].slot = row[h->ops[i].slot];
  fl_free(sp);
  fl_free(row);
  fl_free(row_end);
  return nrows;
}

int fl__hist_load(fl__hist_t *h, const char *run_dir, double end_s) {
  memset(h, 0, sizeof(*h));
  if (run_dir == NULL)
    return 0;
  char *path = fl__path_join(run_dir, "history.jsonl");
  fl_history_read_opts_t o = {.tolerant = 1,
                              .skip_values = 1,
                              .max_ops = FL__HIST_MAX_OPS,
                              .max_line = FL__HIST_MAX_LINE};
  fl_ops_t *ops = NULL;
  int r = fl_history_read_opts(&ops, path, &o, NULL);
  fl_free(path);
  if (r != 0) /* no file (or one that cannot be read): no charts */
    return 0;
  h->found = 1;
  h->bad = ops->skipped;
  h->truncated = ops->truncated;
  h->nslots = assign_rows(h, take_ops(h, ops, end_s));
  fl_ops_free(ops);
  return 0;
}

void fl__hist_free(fl__hist_t *h) {
  fl_free(h->ops);
  memset(h, 0, sizeof(*h));
}
