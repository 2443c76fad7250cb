/* The dependency graph: adjacency lists, strongly connected components
 * (Tarjan's algorithm, iterative), a shortest witness cycle per anomaly type
 * and component (breadth-first search restricted to the edge kinds the type
 * allows), each explained in words; and the checker's result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "check/partition.h"
#include "check/txn_int.h"

static const char *const edge_names[EDGE_KINDS] = {"ww", "wr", "rw", "realtime",
                                                   "process"};

static int edge_cmp(const void *a, const void *b) {
  const fl_edge_t *x = a, *y = b;
  if (x->from != y->from)
    return x->from < y->from ? -1 : 1;
  if (x->to != y->to)
    return x->to < y->to ? -1 : 1;
  return (int)x->kind - (int)y->kind;
}

/* Sorted (stably: the first of equal edges is the one kept, as a stable
 * sort of the whole array would keep it), one edge per (from, to, kind),
 * then CSR adjacency. A counting sort by from, then each node's few edges
 * by insertion: linear, where a comparison sort of millions of edges was a
 * tenth of the check. */
static void build_adjacency(fl_txn_t *t) {
  uint32_t *at = fl_calloc(t->n + 2, sizeof(uint32_t));
  for (size_t e = 0; e < t->nedges; e++)
    at[t->edges[e].from + 2]++;
  for (size_t i = 0; i < t->n; i++)
    at[i + 2] += at[i + 1];
  fl_edge_t *sorted = fl_malloc((t->nedges ? t->nedges : 1) * sizeof(*sorted));
  for (size_t e = 0; e < t->nedges; e++)
    sorted[at[t->edges[e].from + 1]++] = t->edges[e];
  /* at[i] is now where node i's edges begin */
  size_t keep = 0;
  t->adj_off = fl_calloc(t->n + 1, sizeof(uint32_t));
  for (size_t i = 0; i < t->n; i++) {
    fl_edge_t *b = sorted + at[i];
    size_t len = at[i + 1] - at[i];
    for (size_t x = 1; x < len; x++) {
      fl_edge_t e = b[x];
      size_t y = x;
      for (; y > 0 && edge_cmp(&b[y - 1], &e) > 0; y--)
        b[y] = b[y - 1];
      b[y] = e;
    }
    size_t first = keep;
    for (size_t x = 0; x < len; x++) {
      if (keep > first && edge_cmp(&t->edges[keep - 1], &b[x]) == 0)
        continue;
      t->edges[keep++] = b[x];
      t->nedge_kind[b[x].kind]++;
    }
    t->adj_off[i + 1] = (uint32_t)keep;
  }
  t->nedges = keep;
  fl_free(sorted);
  fl_free(at);
}

/* Tarjan's SCC without recursion: comp[i] = its component, or UINT32_MAX
 * for a node alone on no cycle. Returns the number of components of 2+. */
static uint32_t components(const fl_txn_t *t, uint32_t *comp) {
  size_t n = t->n;
  uint32_t *index = fl_malloc((n + 1) * sizeof(uint32_t)),
           *low = fl_malloc((n + 1) * sizeof(uint32_t));
  uint32_t *stack = fl_malloc((n + 1) * sizeof(uint32_t)),
           *call = fl_malloc((n + 1) * sizeof(uint32_t));
  uint32_t *next = fl_malloc((n + 1) * sizeof(uint32_t));
  uint8_t *on = fl_calloc(n + 1, 1);
  uint32_t counter = 0, sp = 0, ncomp = 0;
  for (size_t i = 0; i < n; i++) {
    index[i] = UINT32_MAX;
    comp[i] = UINT32_MAX;
  }
  for (uint32_t root = 0; root < n; root++) {
    if (index[root] != UINT32_MAX)
      continue;
    uint32_t depth = 0;
    call[depth++] = root;
    index[root] = low[root] = counter++;
    next[root] = t->adj_off[root];
    stack[sp++] = root;
    on[root] = 1;
    while (depth > 0) {
      uint32_t v = call[depth - 1];
      if (next[v] < t->adj_off[v + 1]) {
        uint32_t w = t->edges[next[v]++].to;
        if (index[w] == UINT32_MAX) {
          index[w] = low[w] = counter++;
          next[w] = t->adj_off[w];
          stack[sp++] = w;
          on[w] = 1;
          call[depth++] = w;
        } else if (on[w] && index[w] < low[v]) {
          low[v] = index[w];
        }
        continue;
      }
      depth--;
      if (depth > 0 && low[v] < low[call[depth - 1]])
        low[call[depth - 1]] = low[v];
      if (low[v] != index[v])
        continue;
      uint32_t size = 0, w;
      do {
        w = stack[--sp];
        on[w] = 0;
        comp[w] = ncomp;
        size++;
      } while (w != v);
      if (size == 1)
        comp[v] = UINT32_MAX;
      else
        ncomp++;
    }
  }
  fl_free(index);
  fl_free(low);
  fl_free(stack);
  fl_free(call);
  fl_free(next);
  fl_free(on);
  return ncomp;
}

/* ---- Witnesses ---------------------------------------------------------------- */

typedef struct {
  uint32_t *pe;   /* per state (node + layer * n): the edge that reached it */
  uint32_t *ps;   /* per state: the state it came from */
  uint32_t *seen; /* per state: the search's stamp */
  uint32_t *queue;
  uint32_t stamp;
} bfs_t;

/* A shortest path from `from` to `to` inside component c over edges whose
 * kind is in `allowed` (a bit mask). With `need` (a mask), the path must
 * hold at least one edge of those kinds: states are (node, layer), layer 1
 * once such an edge was taken. Writes the path's edges into path, in order,
 * and returns its length, or 0 when there is none (or it is longer than max). */
static size_t bfs(const fl_txn_t *t, bfs_t *b, const uint32_t *comp, uint32_t c,
                  uint32_t from, uint32_t to, unsigned allowed, unsigned need,
                  uint32_t *path, size_t max) {
  uint32_t n = (uint32_t)t->n;
  size_t qh = 0, qt = 0;
  b->stamp++;
  uint32_t start = from + (need ? 0 : n);
  b->queue[qt++] = start;
  b->seen[start] = b->stamp;
  while (qh < qt) {
    uint32_t s = b->queue[qh++];
    uint32_t v = s % n, layer = s / n;
    if (v == to && layer == 1) {
      size_t len = 0;
      for (uint32_t x = s; x != start; x = b->ps[x])
        len++;
      if (len > max)
        return 0;
      size_t i = len;
      for (uint32_t x = s; x != start; x = b->ps[x])
        path[--i] = b->pe[x];
      return len;
    }
    for (uint32_t e = t->adj_off[v]; e < t->adj_off[v + 1]; e++) {
      const fl_edge_t *ed = &t->edges[e];
      if (!((allowed >> ed->kind) & 1u) || comp[ed->to] != c)
        continue;
      uint32_t ns = ed->to + ((layer || ((need >> ed->kind) & 1u)) ? n : 0);
      if (b->seen[ns] == b->stamp)
        continue;
      b->seen[ns] = b->stamp;
      b->pe[ns] = e;
      b->ps[ns] = s;
      b->queue[qt++] = ns;
    }
  }
  return 0;
}

#define K(x) (1u << (x))
#define DATA (K(EDGE_WW) | K(EDGE_WR) | K(EDGE_RW))
#define TIME (K(EDGE_RT) | K(EDGE_PROC))

/* The searches, one per anomaly shape: a cycle is an edge of kind `first`
 * (a -> b) closed by a path b -> a over `allowed` that holds an edge of a
 * kind in `need` (when not 0). What a found cycle is called is read off its
 * edges (classify): G2-item's search needs a second rw, so its cycles are
 * never G-single. */
static const struct {
  unsigned first, allowed, need;
  int extra; /* only with real-time or process edges */
} searches[] = {
    {K(EDGE_WW), K(EDGE_WW), 0, 0},                        /* G0 */
    {K(EDGE_WR), K(EDGE_WW) | K(EDGE_WR), 0, 0},           /* G1c */
    {K(EDGE_RW), K(EDGE_WW) | K(EDGE_WR), 0, 0},           /* G-single */
    {K(EDGE_RW), DATA, K(EDGE_RW), 0},                     /* G2-item */
    {TIME, K(EDGE_WW) | TIME, 0, 1},                       /* G0-realtime */
    {TIME, K(EDGE_WW) | K(EDGE_WR) | TIME, K(EDGE_WR), 1}, /* G1c-realtime */
    {K(EDGE_RW), K(EDGE_WW) | K(EDGE_WR) | TIME, TIME, 1}, /* G-single-realtime */
    {K(EDGE_RW), DATA | TIME, TIME, 1},                    /* G2-item-realtime */
};

/* The anomaly a cycle shows, from the kinds of its edges. */
static void classify(const fl_txn_t *t, const uint32_t *cyc, size_t len, char *buf,
                     size_t size) {
  size_t nrw = 0;
  int wr = 0, rt = 0, proc = 0;
  for (size_t i = 0; i < len; i++) {
    int k = t->edges[cyc[i]].kind;
    nrw += k == EDGE_RW;
    wr |= k == EDGE_WR;
    rt |= k == EDGE_RT;
    proc |= k == EDGE_PROC;
  }
  const char *base = nrw == 0 ? (wr ? "G1c" : "G0") : nrw == 1 ? "G-single" : "G2-item";
  snprintf(buf, size, "%s%s", base, rt ? "-realtime" : proc ? "-process" : "");
}

/* One step of a cycle in words. */
static void explain_edge(const fl_txn_t *t, const fl_edge_t *e, char *buf, size_t size) {
  char a[96], b[96];
  fl_txn_label(t, e->from, a, sizeof(a));
  fl_txn_label(t, e->to, b, sizeof(b));
  const char *k = e->key != UINT32_MAX ? fl_txn_key(t, e->key) : "";
  const char *v = e->val != UINT32_MAX ? fl_txn_val(t, e->val) : "";
  int list = t->model == FL_TXN_LIST_APPEND;
  switch (e->kind) {
  case EDGE_WW:
    if (list) {
      const fl_order_t *o = &t->order[e->key];
      uint32_t p = 0; /* its first place in the order (few witnesses: a scan) */
      while (p < o->len && o->v[p] != e->val)
        p++;
      p = p < o->len ? p : UINT32_MAX;
      const char *prev =
          p != UINT32_MAX && p > 0 ? fl_txn_val(t, t->order[e->key].v[p - 1]) : "?";
      snprintf(buf, size,
               "%s appended %s to key %s, and %s appended %s right after it (ww)", a,
               prev, k, b, v);
    } else {
      snprintf(
          buf, size,
          "%s wrote a version of key %s that %s read and then overwrote with %s (ww)", a,
          k, b, v);
    }
    break;
  case EDGE_WR:
    snprintf(buf, size,
             list ? "%s appended %s to key %s, and %s read it (wr)"
                  : "%s wrote key %s = %s, and %s read it (wr)",
             a, list ? v : k, list ? k : v, b);
    break;
  case EDGE_RW:
    snprintf(buf, size,
             list ? "%s read key %s without %s, which %s appended next (rw)"
                  : "%s read a version of key %s that %s overwrote with %s (rw)",
             a, k, list ? v : b, list ? b : v);
    break;
  case EDGE_RT:
    snprintf(buf, size, "%s completed before %s began (real time)", a, b);
    break;
  default:
    snprintf(buf, size, "%s came before %s in process %d", a, b, t->ops[e->from].process);
  }
}

static json_t *cycle_json(const fl_txn_t *t, const char *type, const uint32_t *cyc,
                          size_t len) {
  json_t *a = json_object(), *ops = json_array(), *steps = json_array();
  fl_buf_t text;
  fl_buf_init(&text, SIZE_MAX);
  fl_buf_printf(&text, "%s: ", type);
  for (size_t i = 0; i < len; i++) {
    const fl_edge_t *e = &t->edges[cyc[i]];
    char why[512];
    explain_edge(t, e, why, sizeof(why));
    json_array_append_new(ops, fl_txn_op_json(t, e->from));
    json_t *s = json_pack(
        "{s:i, s:i, s:s, s:s}", "from", (json_int_t)t->ops[e->from].index, "to",
        (json_int_t)t->ops[e->to].index, "edge", edge_names[e->kind], "why", why);
    if (e->key != UINT32_MAX)
      json_object_set_new(s, "key", json_string(fl_txn_key(t, e->key)));
    if (e->val != UINT32_MAX)
      json_object_set_new(s, "value", json_string(fl_txn_val(t, e->val)));
    json_array_append_new(steps, s);
    fl_buf_printf(&text, "%s%s", i ? "; " : "", why);
  }
  fl_buf_printf(&text,
                ". Each transaction must come before the next, and the last before "
                "the first: no order of them explains what they saw.");
  json_object_set_new(a, "cycle", ops);
  json_object_set_new(a, "steps", steps);
  json_object_set_new(a, "explanation", json_string(fl_buf_str(&text)));
  fl_buf_free(&text);
  return a;
}

/* Whether no transaction appears twice on the cycle (cycles are short). */
static int simple_cycle(const fl_txn_t *t, const uint32_t *cyc, size_t len) {
  for (size_t i = 0; i < len; i++)
    for (size_t j = i + 1; j < len; j++)
      if (t->edges[cyc[i]].from == t->edges[cyc[j]].from)
        return 0;
  return 1;
}

/* The witnesses of component c: per search, the first start edge whose
 * cycle closes; one witness per anomaly type. */
static void component_witnesses(fl_txn_t *t, bfs_t *b, const uint32_t *comp, uint32_t c,
                                const uint32_t *members, size_t nmem, int extra) {
  enum { MAX_TRIES = 64, MAX_LEN = 64 };
  uint32_t path[MAX_LEN + 1];
  char seen_types[8][40];
  size_t nseen = 0;
  for (size_t s = 0; s < sizeof(searches) / sizeof(searches[0]); s++) {
    if (searches[s].extra && !extra)
      continue;
    size_t tries = 0;
    for (size_t m = 0; m < nmem && tries < MAX_TRIES; m++) {
      uint32_t v = members[m];
      size_t len = 0;
      for (uint32_t e = t->adj_off[v]; e < t->adj_off[v + 1] && tries < MAX_TRIES; e++) {
        const fl_edge_t *ed = &t->edges[e];
        if (!((searches[s].first >> ed->kind) & 1u) || comp[ed->to] != c)
          continue;
        tries++;
        len = bfs(t, b, comp, c, ed->to, v, searches[s].allowed, searches[s].need,
                  path + 1, MAX_LEN);
        if (len > 0) {
          path[0] = e;
          len++;
          if (simple_cycle(t, path, len))
            break;
          len = 0; /* the layers let a walk pass a node twice: not a witness */
        }
      }
      if (len == 0)
        continue;
      char type[40];
      classify(t, path, len, type, sizeof(type));
      int dup = 0;
      for (size_t i = 0; i < nseen; i++)
        dup |= strcmp(seen_types[i], type) == 0;
      if (!dup && nseen < 8) {
        snprintf(seen_types[nseen++], sizeof(seen_types[0]), "%s", type);
        fl_txn_found(t, type, cycle_json(t, type, path, len));
      }
      break;
    }
  }
}

void fl_txn_cycles(fl_txn_t *t, int extra) {
  build_adjacency(t);
  size_t n = t->n;
  if (n == 0)
    return;
  uint32_t *comp = fl_malloc(n * sizeof(uint32_t));
  uint32_t ncomp = components(t, comp);
  if (ncomp > 0) {
    /* members of each component, contiguous */
    uint32_t *off = fl_calloc((size_t)ncomp + 1, sizeof(uint32_t));
    uint32_t *mem = fl_malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
      if (comp[i] != UINT32_MAX)
        off[comp[i] + 1]++;
    for (uint32_t c = 0; c < ncomp; c++)
      off[c + 1] += off[c];
    uint32_t *fill = fl_malloc(((size_t)ncomp + 1) * sizeof(uint32_t));
    memcpy(fill, off, ((size_t)ncomp + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
      if (comp[i] != UINT32_MAX)
        mem[fill[comp[i]]++] = (uint32_t)i;
    bfs_t b = {.pe = fl_malloc(2 * n * sizeof(uint32_t)),
               .ps = fl_malloc(2 * n * sizeof(uint32_t)),
               .seen = fl_calloc(2 * n, sizeof(uint32_t)),
               .queue = fl_malloc(2 * n * sizeof(uint32_t))};
    for (uint32_t c = 0; c < ncomp; c++)
      component_witnesses(t, &b, comp, c, mem + off[c], off[c + 1] - off[c], extra);
    fl_free(b.pe);
    fl_free(b.ps);
    fl_free(b.seen);
    fl_free(b.queue);
    fl_free(fill);
    fl_free(mem);
    fl_free(off);
  }
  fl_free(comp);
}
