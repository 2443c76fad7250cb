/* Reading history.jsonl for the charts: each completion paired with the
 * preceding invoke of the same process, kept as four numbers per operation
 * (the charts need times and outcomes, not values), with a bound on how many
 * are read. */
#include "reports/internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* One process: its slot (order of first appearance) and its open invoke. */
typedef struct {
  long long process;
  int used;
  int slot;
  double pending; /* invoke time of the open operation, or NAN */
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
    ps->tab[j].pending = NAN;
    ps->n++;
  }
  return &ps->tab[j];
}

static void push_op(fl__hist_t *h, double inv, double comp, int slot, int type,
                    int open) {
  if (h->n >= FL__HIST_MAX_OPS) {
    h->truncated = 1;
    return;
  }
  if (h->n == h->alloc) {
    h->alloc = h->alloc ? h->alloc * 2 : 1024;
    h->ops = fl_realloc(h->ops, h->alloc * sizeof(fl__op_t));
  }
  h->ops[h->n++] =
      (fl__op_t){inv, comp < inv ? inv : comp, slot, (short)type, (short)open};
}

static void take_line(fl__hist_t *h, procs_t *ps, const char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len == 0)
    return;
  json_t *o = json_loadb(line, len, 0, NULL);
  json_t *process = json_object_get(o, "process");
  const char *type = fl__jstr(o, "type", NULL);
  if (!json_is_object(o) || type == NULL || !fl__jisnum(o, "time")) {
    h->bad++;
    json_decref(o);
    return;
  }
  /* Operations of a non-client process (Jepsen's :nemesis) are not drawn. */
  if (!json_is_integer(process)) {
    json_decref(o);
    return;
  }
  double t = fl__jnum(o, "time", 0) / 1e9;
  proc_t *p = procs_get(ps, json_integer_value(process));
  if (strcmp(type, "invoke") == 0) {
    if (!isnan(p->pending)) /* an invoke that never completed: unknown */
      push_op(h, p->pending, t, p->slot, FL__OP_INFO, 1);
    p->pending = t;
  } else {
    int kind = strcmp(type, "ok") == 0     ? FL__OP_OK
               : strcmp(type, "fail") == 0 ? FL__OP_FAIL
                                           : FL__OP_INFO;
    push_op(h, isnan(p->pending) ? t : p->pending, t, p->slot, kind, 0);
    p->pending = NAN;
  }
  json_decref(o);
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
  FILE *f = fopen(path, "r");
  fl_free(path);
  if (f == NULL)
    return 0;
  h->found = 1;
  procs_t ps = {NULL, 0, 0};
  fl_buf_t line;
  fl_buf_init(&line, FL__HIST_MAX_LINE);
  char chunk[65536];
  while (!h->truncated && fgets(chunk, sizeof(chunk), f) != NULL) {
    size_t n = strlen(chunk);
    fl_buf_add(&line, chunk, n);
    if (n > 0 && chunk[n - 1] != '\n' && !feof(f))
      continue; /* the line goes on */
    if (line.full)
      h->bad++; /* longer than we parse: skipped whole */
    else
      take_line(h, &ps, fl_buf_str(&line), line.len);
    fl_buf_reset(&line);
  }
  if (line.len > 0 && !line.full)
    take_line(h, &ps, fl_buf_str(&line), line.len);
  fclose(f);
  fl_buf_free(&line);
  for (size_t i = 0; i < ps.cap; i++) {
    if (ps.tab[i].used && !isnan(ps.tab[i].pending))
      push_op(h, ps.tab[i].pending, end_s, ps.tab[i].slot, FL__OP_INFO, 1);
  }
  h->nslots = assign_rows(h, (int)ps.n);
  fl_free(ps.tab);
  return 0;
}

void fl__hist_free(fl__hist_t *h) {
  fl_free(h->ops);
  memset(h, 0, sizeof(*h));
}
