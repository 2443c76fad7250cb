/* Linearizability search (see linear.h for the contract).
 *
 * For each key, the operations become an entry list of call and return events
 * in history order. The search walks it: at a call it tries to linearize that
 * operation (apply it to the model state); if the model accepts and the
 * resulting (linearized set, state) was never seen, the call and its return
 * are lifted out of the list and the walk restarts from the head. Reaching a
 * return means that operation had to have taken effect already and could
 * not: undo the last linearization (pop the stack, put the entries back) and
 * try the next call. The history is linearizable when every return is gone.
 *
 * Info operations have no return entry (their return is at +infinity), so
 * the walk may linearize them anywhere after their call, and when the last
 * return is lifted the ones still in the list are dropped: "took effect" and
 * "never happened" are both explored.
 *
 * The memo table holds each configuration once. The linearized set is a
 * bitset kept in two regions, acknowledged ops first and info ops after, and
 * stored as windows: in the first region every word below the lowest
 * unlinearized op is all ones and every word past the highest linearized one
 * is zero, so only the words in between (about one word per 64 processes)
 * are stored; the info region is stored from its first to its last nonzero
 * word. The hash is Zobrist's (a XOR of one random word per linearized op),
 * updated in O(1) per step. A configuration costs one slot (24 bytes, the
 * table kept at most half full) plus 8 bytes * (2 + window words) of arena. */
#include "harness/check/linear.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/alloc.h"
#include "harness/check/intern.h"
#include "harness/check/partition.h"
#include "harness/check/stale.h"

enum { K_READ = 0, K_WRITE, K_CAS };
enum { R_VALID = 0, R_INVALID, R_TIME, R_MEM, R_CANCEL, R_LIMIT };

#define MAX_STATES 8
#define MAX_CONCURRENT 32
#define MAX_BEFORE 3
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)
#define NONE UINT32_MAX

typedef struct {
  uint32_t kind;
  uint32_t blind; /* an acknowledged write of a value nobody observes */
  uint32_t a, b;  /* read: value read; write: value; cas: old, new */
  uint32_t need;  /* the value it needs the register to hold, or NONE */
  uint32_t prod;  /* the value it leaves in the register, or NONE */
  uint32_t op;   /* index in ops->v */
  uint32_t word;
  uint64_t mask;
  uint64_t z; /* Zobrist word */
} lop_t;

typedef struct {
  uint64_t h;
  uint64_t off; /* arena offset + 1; 0: empty */
  uint32_t state;
} slot_t;

typedef struct {
  lop_t *lops;
  uint32_t m, k; /* operations, of which acknowledged (with a return) */
  /* The entry list: node 0 is the head, 1..n the entries, n + 1 the tail. */
  uint32_t *next, *prev, *elop, *ematch, *epos;
  uint8_t *ecall;
  /* The linearized set. */
  uint64_t *w;
  uint32_t wa, wb, loA, hiA, loB, hiB;
  /* The memo table. */
  slot_t *slots;
  size_t nslots, nused;
  uint64_t *arena;
  size_t alen, acap;
  /* Per value id: operations not linearized yet that need it (acknowledged
   * reads and cas), and that can produce it (writes and cas). */
  uint32_t *need, *prod;
  /* The undo stack: entry, state before, first return then, flags. */
  uint32_t *sent, *sstate, *sfirst;
  uint8_t *sflags;
  /* Budget. */
  uint64_t deadline_ns;
  const atomic_int *cancel;
  size_t max_memory;
  uint64_t max_configs; /* 0: none */
  /* What the search found. */
  uint64_t configs;
  uint32_t init;
  uint32_t best_pos, best_lop, best_lin;
  uint32_t states[MAX_STATES];
  uint32_t nstates;
  int more_states;
} search_t;

#define now_ns fl_check_now_ns

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* ---- The linearized set ------------------------------------------------- */

static inline void bit_set(search_t *s, uint32_t word, uint64_t mask) {
  uint64_t *w = s->w;
  w[word] |= mask;
  if (word < s->wa) {
    if (word >= s->hiA)
      s->hiA = word + 1;
    if (word == s->loA)
      while (s->loA < s->wa && w[s->loA] == ~0ULL)
        s->loA++;
  } else {
    uint32_t bw = word - s->wa;
    if (s->loB == s->hiB) {
      s->loB = bw;
      s->hiB = bw + 1;
    } else {
      if (bw < s->loB)
        s->loB = bw;
      if (bw >= s->hiB)
        s->hiB = bw + 1;
    }
  }
}

static inline void bit_clear(search_t *s, uint32_t word, uint64_t mask) {
  uint64_t *w = s->w;
  w[word] &= ~mask;
  if (word < s->wa) {
    if (word < s->loA)
      s->loA = word;
    if (w[word] == 0 && word + 1 == s->hiA)
      while (s->hiA > 0 && w[s->hiA - 1] == 0)
        s->hiA--;
  } else if (w[word] == 0) {
    uint32_t bw = word - s->wa;
    const uint64_t *b = w + s->wa;
    if (bw == s->loB)
      while (s->loB < s->hiB && b[s->loB] == 0)
        s->loB++;
    if (s->loB == s->hiB) {
      s->loB = s->hiB = 0;
      return;
    }
    if (bw + 1 == s->hiB)
      while (s->hiB > s->loB && b[s->hiB - 1] == 0)
        s->hiB--;
  }
}

/* ---- The memo table ----------------------------------------------------- */

static void memo_rehash(search_t *s) {
  size_t n = s->nslots * 2;
  slot_t *slots = fl_calloc(n, sizeof(*slots));
  for (size_t i = 0; i < s->nslots; i++) {
    if (s->slots[i].off == 0)
      continue;
    size_t j = s->slots[i].h & (n - 1);
    while (slots[j].off != 0)
      j = (j + 1) & (n - 1);
    slots[j] = s->slots[i];
  }
  fl_free(s->slots);
  s->slots = slots;
  s->nslots = n;
}

/* Adds the configuration (current set, state) whose Zobrist hash is zh.
 * Returns 1 when it is new, 0 when it was seen before, -1 when the memory
 * budget is spent. */
static int memo_insert(search_t *s, uint64_t zh, uint32_t state) {
  uint64_t h = zh ^ mix64((uint64_t)state + 0x632be59bd9b4e019ULL);
  uint64_t hdrA = (uint64_t)s->loA | (uint64_t)s->hiA << 32;
  uint64_t hdrB = (uint64_t)s->loB | (uint64_t)s->hiB << 32;
  size_t na = s->hiA - s->loA, nb = s->hiB - s->loB;
  const uint64_t *wa = s->w + s->loA, *wb = s->w + s->wa + s->loB;
  size_t mask = s->nslots - 1;
  size_t j = h & mask;
  while (s->slots[j].off != 0) {
    const slot_t *sl = &s->slots[j];
    if (sl->h == h && sl->state == state) {
      const uint64_t *e = s->arena + sl->off - 1;
      if (e[0] == hdrA && e[1] == hdrB && memcmp(e + 2, wa, na * 8) == 0 &&
          memcmp(e + 2 + na, wb, nb * 8) == 0)
        return 0;
    }
    j = (j + 1) & mask;
  }
  size_t need = 2 + na + nb;
  if (s->alen + need > s->acap) {
    size_t cap = s->acap * 2;
    while (cap < s->alen + need)
      cap *= 2;
    if (s->nslots * sizeof(slot_t) + cap * 8 > s->max_memory)
      return -1;
    s->arena = fl_realloc(s->arena, cap * sizeof(uint64_t));
    s->acap = cap;
  }
  uint64_t *e = s->arena + s->alen;
  e[0] = hdrA;
  e[1] = hdrB;
  memcpy(e + 2, wa, na * 8);
  memcpy(e + 2 + na, wb, nb * 8);
  s->slots[j].h = h;
  s->slots[j].off = s->alen + 1;
  s->slots[j].state = state;
  s->alen += need;
  s->configs++;
  if (++s->nused * 2 > s->nslots) {
    if (s->nslots * 2 * sizeof(slot_t) + s->acap * 8 > s->max_memory)
      return -1;
    memo_rehash(s);
  }
  return 1;
}

/* ---- The search ---------------------------------------------------------- */

static inline int step(const lop_t *op, uint32_t state, uint32_t *out) {
  switch (op->kind) {
  case K_READ:
    *out = state;
    return state == op->a;
  case K_WRITE:
    *out = op->a;
    return 1;
  default:
    *out = op->b;
    return state == op->a;
  }
}

static inline void lift(search_t *s, uint32_t c) {
  uint32_t *next = s->next, *prev = s->prev;
  next[prev[c]] = next[c];
  prev[next[c]] = prev[c];
  uint32_t r = s->ematch[c];
  if (r != 0) {
    next[prev[r]] = next[r];
    prev[next[r]] = prev[r];
  }
}

static inline void unlift(search_t *s, uint32_t c) {
  uint32_t *next = s->next, *prev = s->prev;
  uint32_t r = s->ematch[c];
  if (r != 0) {
    next[prev[r]] = r;
    prev[next[r]] = r;
  }
  next[prev[c]] = c;
  prev[next[c]] = c;
}

/* The search got stuck at the return entry e: remember the furthest such
 * point, what the register could hold there, and how much was linearized. */
static void note_stuck(search_t *s, uint32_t e, uint32_t state, uint32_t lin) {
  uint32_t pos = s->epos[e];
  if (s->best_pos == UINT32_MAX || pos > s->best_pos) {
    s->best_pos = pos;
    s->best_lop = s->elop[e];
    s->best_lin = lin;
    s->nstates = 0;
    s->more_states = 0;
  } else if (pos < s->best_pos) {
    return;
  }
  if (lin > s->best_lin)
    s->best_lin = lin;
  for (uint32_t i = 0; i < s->nstates; i++)
    if (s->states[i] == state)
      return;
  if (s->nstates < MAX_STATES)
    s->states[s->nstates++] = state;
  else
    s->more_states = 1;
}

static int budget_spent(const search_t *s) {
  if (s->cancel != NULL && atomic_load(s->cancel) != 0)
    return R_CANCEL;
  if (s->deadline_ns != 0 && now_ns() >= s->deadline_ns)
    return R_TIME;
  if (s->max_configs != 0 && s->configs > s->max_configs)
    return R_LIMIT;
  return 0;
}

/* Frame flags. A glued frame was linearized together with the write above
 * it and is undone with it; a forced frame was the only move worth making
 * from its configuration, so undoing it means that configuration failed. */
#define F_GLUED 1
#define F_FORCED 2

static inline void count_done(search_t *s, const lop_t *op) {
  if (op->need != NONE)
    s->need[op->need]--;
  if (op->prod != NONE)
    s->prod[op->prod]--;
}

static inline void count_undone(search_t *s, const lop_t *op) {
  if (op->need != NONE)
    s->need[op->need]++;
  if (op->prod != NONE)
    s->prod[op->prod]++;
}

static inline void push(search_t *s, uint32_t *sp, uint32_t e, uint32_t state, uint32_t f,
                        uint8_t flags) {
  s->sent[*sp] = e;
  s->sstate[*sp] = state;
  s->sfirst[*sp] = f;
  s->sflags[*sp] = flags;
  (*sp)++;
}

/* Two moves need no branching (see the comment at the top of the file):
 *
 * - A read of the value the register holds now is linearized at once: if the
 *   rest can be linearized at all, it can with that read first, as reads do
 *   not change the state. (The walk never tries it any other way.)
 *
 * - A blind write (acknowledged, and of a value that no read and no cas ever
 *   observes) is always immediately followed by a write in any linearization,
 *   or is last: nothing can observe its value. It can therefore be moved to
 *   just before the first write linearized while it is a candidate. So blind
 *   writes are glued, all at once, in front of each write the search
 *   linearizes, and are tried on their own only when their return is the
 *   first return left (they must take effect before it). */
static int search(search_t *s) {
  const uint32_t head = 0;
  uint32_t state = s->init;
  uint64_t zh = 0;
  uint32_t sp = 0, lin = 0;
  uint32_t ret_left = s->k;
  uint32_t e, f;
  uint64_t iter = 0;
  int r;

fresh:
  if (ret_left == 0)
    return R_VALID;
  if ((++iter & 0x3ff) == 0 && (r = budget_spent(s)) != 0)
    return r;
  for (f = s->next[head]; s->ecall[f]; f = s->next[f]) {
    const lop_t *op = &s->lops[s->elop[f]];
    if (op->kind != K_READ || op->a != state)
      continue;
    bit_set(s, op->word, op->mask);
    r = memo_insert(s, zh ^ op->z, state);
    if (r <= 0) {
      bit_clear(s, op->word, op->mask);
      if (r < 0)
        return R_MEM;
      goto backtrack; /* seen, so it failed: this configuration fails */
    }
    push(s, &sp, f, state, 0, F_FORCED);
    count_done(s, op);
    zh ^= op->z;
    lift(s, f);
    if (s->ematch[f] != 0)
      ret_left--;
    lin++;
    goto fresh;
  }
  /* f is the first return left; the calls before it are the candidates. */
  e = s->next[head];

walk:
  for (; s->ecall[e]; e = s->next[e]) {
    const lop_t *op = &s->lops[s->elop[e]];
    uint32_t ns;
    if ((op->blind && s->ematch[e] != f) || !step(op, state, &ns))
      continue;
    /* Leaving a value that an operation still needs, when nothing left can
     * produce it again, dooms that operation: don't. */
    if (ns != state && s->prod[state] == 0 &&
        s->need[state] > (uint32_t)(op->need == state))
      continue;
    uint64_t z = op->z;
    bit_set(s, op->word, op->mask);
    uint32_t glued = sp; /* glued frames go on the stack, undone on a miss */
    if (op->kind == K_WRITE) {
      for (uint32_t g = s->next[head]; g != f; g = s->next[g]) {
        const lop_t *b = &s->lops[s->elop[g]];
        if (g == e || !b->blind)
          continue;
        bit_set(s, b->word, b->mask);
        z ^= b->z;
        push(s, &sp, g, state, f, F_GLUED);
      }
    }
    r = memo_insert(s, zh ^ z, ns);
    if (r > 0) {
      for (uint32_t i = glued; i < sp; i++) {
        lift(s, s->sent[i]);
        count_done(s, &s->lops[s->elop[s->sent[i]]]);
        ret_left--; /* blind writes are acknowledged: they have a return */
        lin++;
      }
      push(s, &sp, e, state, f, 0);
      count_done(s, op);
      zh ^= z;
      state = ns;
      lift(s, e);
      if (s->ematch[e] != 0)
        ret_left--;
      lin++;
      goto fresh;
    }
    while (sp > glued) {
      const lop_t *b = &s->lops[s->elop[s->sent[--sp]]];
      bit_clear(s, b->word, b->mask);
    }
    bit_clear(s, op->word, op->mask);
    if (r < 0)
      return R_MEM;
  }
  /* The walk met the first return: that operation cannot take effect from
   * here whatever else is linearized first. */
  note_stuck(s, e, state, lin);

backtrack:
  for (;;) {
    if (sp == 0)
      return R_INVALID;
    uint32_t c = s->sent[--sp], main = c;
    uint8_t flags = s->sflags[sp];
    state = s->sstate[sp];
    f = s->sfirst[sp];
    for (;;) {
      const lop_t *op = &s->lops[s->elop[c]];
      bit_clear(s, op->word, op->mask);
      count_undone(s, op);
      zh ^= op->z;
      unlift(s, c);
      if (s->ematch[c] != 0)
        ret_left++;
      lin--;
      if (sp == 0 || !(s->sflags[sp - 1] & F_GLUED))
        break;
      c = s->sent[--sp];
    }
    if (flags & F_FORCED)
      continue;
    e = s->next[main];
    break;
  }
  goto walk;
}

/* ---- Per key ------------------------------------------------------------- */

typedef struct {
  uint32_t pos;
  uint32_t lop;
  uint32_t call;
} ev_t;

static int ev_cmp(const void *a, const void *b) {
  uint32_t x = ((const ev_t *)a)->pos, y = ((const ev_t *)b)->pos;
  return x < y ? -1 : x > y;
}

typedef struct {
  const fl_ops_t *ops;
  fl_linear_model_t model;
  fl_intern_t values;
  const json_t **vjson; /* value id -> a JSON value with that text (borrowed) */
  size_t nvjson, capv;
  uint32_t *va, *vb;    /* per op: value ids (see lop_t) */
  uint32_t *stamp;      /* per value id: partition + 1 when observed */
  uint32_t *need, *prod; /* per value id, zero between keys (see search_t) */
  uint32_t run;          /* stamp of the current run */
  uint64_t max_configs;  /* for the next runs, 0: no limit */
  uint32_t null_id;
  uint64_t deadline_ns;
  const atomic_int *cancel;
  size_t max_memory;
  /* Totals. */
  uint64_t configs;
  size_t checked, dropped;
} ctx_t;

typedef struct {
  int status;
  int exact;         /* stuck_pos ends the shortest non-linearizable prefix */
  int has_stale;     /* stale explains stuck_op */
  uint32_t end_op;   /* the op whose completion ends the prefix */
  fl_stale_t stale;
  uint32_t stuck_op; /* index in ops->v */
  uint32_t stuck_pos;
  uint32_t lin;
  uint32_t states[MAX_STATES];
  uint32_t nstates;
  int more_states;
} keyres_t;

static uint32_t value_id(ctx_t *c, const json_t *v) {
  uint32_t id = fl_intern_json(&c->values, v);
  if (id == c->nvjson) {
    if (c->nvjson == c->capv) {
      c->capv = c->capv ? c->capv * 2 : 64;
      c->vjson = fl_realloc(c->vjson, c->capv * sizeof(*c->vjson));
    }
    c->vjson[c->nvjson++] = v;
  }
  return id;
}

/* What op is in the history cut before position cut: excluded (invoked at
 * or after the cut), pending (completed at or after it: it may take effect,
 * like info, and a pending read tells nothing), or as recorded. */
static inline int eff_type(const fl_op_t *op, uint32_t cut) {
  if (op->invoke_pos >= cut)
    return -1;
  if (op->complete_pos == FL_NO_POS || op->complete_pos >= cut)
    return FL_OP_INFO;
  return (int)op->type;
}

/* Runs the search on one key's ops (idx[0..n)), keeping only the history
 * before position cut (UINT32_MAX: all of it). free_op (an index in ops->v,
 * or NONE) does not count among the ops that need a value: see
 * check_key. */
static void run_key(ctx_t *c, const uint32_t *idx, size_t n, uint32_t cut,
                    uint32_t free_op, int count, keyres_t *kr) {
  const fl_op_t *v = c->ops->v;
  memset(kr, 0, sizeof(*kr));
  uint32_t mark = ++c->run;

  /* Which values does anyone observe? An info write of a value nobody
   * observes can be dropped without changing the verdict, and an
   * acknowledged one is blind (see search). */
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &v[idx[i]];
    int t = eff_type(op, cut);
    if ((op->fk == FL_F_READ && t == FL_OP_OK) ||
        (op->fk == FL_F_CAS && (t == FL_OP_OK || t == FL_OP_INFO)))
      c->stamp[c->va[op->index]] = mark;
  }

  size_t k = 0, m = 0;
  for (size_t i = 0; i < n; i++)
    k += eff_type(&v[idx[i]], cut) == FL_OP_OK;
  lop_t *lops = fl_malloc((n ? n : 1) * sizeof(*lops));
  uint32_t ka = 0, kb = (uint32_t)k;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &v[idx[i]];
    int t = eff_type(op, cut);
    if (t < 0 || t == FL_OP_FAIL)
      continue;
    uint32_t kind = op->fk == FL_F_READ ? K_READ : op->fk == FL_F_WRITE ? K_WRITE : K_CAS;
    uint32_t slot;
    if (t == FL_OP_OK) {
      slot = ka++;
    } else {
      uint32_t written = kind == K_WRITE ? c->va[op->index] : c->vb[op->index];
      if (kind == K_READ || c->stamp[written] != mark) {
        if (count)
          c->dropped++;
        continue;
      }
      slot = kb++;
    }
    lop_t *l = &lops[slot];
    l->kind = kind;
    l->blind = t == FL_OP_OK && kind == K_WRITE && c->stamp[c->va[op->index]] != mark;
    l->a = c->va[op->index];
    l->b = c->vb[op->index];
    l->op = op->index;
    l->need = t == FL_OP_OK && kind != K_WRITE && op->index != free_op ? l->a : NONE;
    l->prod = kind == K_WRITE ? l->a : kind == K_CAS ? l->b : NONE;
  }
  m = kb;
  if (count)
    c->checked += m;

  search_t s;
  memset(&s, 0, sizeof(s));
  s.lops = lops;
  s.m = (uint32_t)m;
  s.k = (uint32_t)k;
  s.wa = (uint32_t)((k + 63) / 64);
  s.wb = (uint32_t)((m - k + 63) / 64);
  for (uint32_t i = 0; i < m; i++) {
    if (i < k) {
      lops[i].word = i / 64;
      lops[i].mask = 1ULL << (i % 64);
    } else {
      lops[i].word = s.wa + (i - (uint32_t)k) / 64;
      lops[i].mask = 1ULL << ((i - k) % 64);
    }
    lops[i].z = mix64(((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL);
  }

  /* The entry list, in history order. */
  size_t ne = m + k;
  ev_t *evs = fl_malloc((ne ? ne : 1) * sizeof(*evs));
  size_t j = 0;
  for (uint32_t i = 0; i < m; i++) {
    const fl_op_t *op = &v[lops[i].op];
    evs[j++] = (ev_t){op->invoke_pos, i, 1};
    if (i < k)
      evs[j++] = (ev_t){op->complete_pos, i, 0};
  }
  qsort(evs, ne, sizeof(*evs), ev_cmp);
  size_t nn = ne + 2;
  s.next = fl_malloc(nn * sizeof(uint32_t));
  s.prev = fl_malloc(nn * sizeof(uint32_t));
  s.elop = fl_calloc(nn, sizeof(uint32_t));
  s.ematch = fl_calloc(nn, sizeof(uint32_t));
  s.epos = fl_calloc(nn, sizeof(uint32_t));
  s.ecall = fl_calloc(nn, 1);
  uint32_t *callnode = fl_malloc((m ? m : 1) * sizeof(uint32_t));
  for (size_t i = 0; i < nn; i++) {
    s.next[i] = (uint32_t)(i + 1 < nn ? i + 1 : i);
    s.prev[i] = (uint32_t)(i > 0 ? i - 1 : 0);
  }
  for (size_t i = 0; i < ne; i++) {
    uint32_t node = (uint32_t)i + 1;
    s.elop[node] = evs[i].lop;
    s.epos[node] = evs[i].pos;
    s.ecall[node] = (uint8_t)evs[i].call;
    if (evs[i].call)
      callnode[evs[i].lop] = node;
    else
      s.ematch[callnode[evs[i].lop]] = node;
  }
  s.epos[nn - 1] = UINT32_MAX;
  fl_free(callnode);
  fl_free(evs);

  s.w = fl_calloc((size_t)s.wa + s.wb + 1, sizeof(uint64_t));
  s.nslots = 64;
  while (s.nslots < 4 * (m + 1))
    s.nslots *= 2;
  s.slots = fl_calloc(s.nslots, sizeof(slot_t));
  s.acap = 1024;
  s.arena = fl_malloc(s.acap * sizeof(uint64_t));
  s.sent = fl_malloc((m + 1) * sizeof(uint32_t));
  s.sstate = fl_malloc((m + 1) * sizeof(uint32_t));
  s.sfirst = fl_malloc((m + 1) * sizeof(uint32_t));
  s.sflags = fl_malloc(m + 1);
  s.deadline_ns = c->deadline_ns;
  s.cancel = c->cancel;
  s.max_memory = c->max_memory;
  s.max_configs = c->max_configs;
  s.init = c->null_id;
  s.best_pos = UINT32_MAX;
  s.need = c->need;
  s.prod = c->prod;
  for (uint32_t i = 0; i < m; i++)
    count_undone(&s, &lops[i]);

  kr->status = search(&s);
  c->configs += s.configs;
#ifdef FL_LINEAR_DEBUG
  fprintf(stderr, "run cut=%u free=%u m=%u k=%u status=%d configs=%llu best_pos=%u\n", cut,
          free_op, s.m, s.k, kr->status, (unsigned long long)s.configs, s.best_pos);
#endif
  if (kr->status == R_LIMIT && s.best_pos != UINT32_MAX) {
    /* Cut short on purpose: what it found so far is still true. */
    kr->stuck_op = lops[s.best_lop].op;
    kr->stuck_pos = s.best_pos;
    kr->lin = s.best_lin;
    memcpy(kr->states, s.states, sizeof(s.states));
    kr->nstates = s.nstates;
    kr->more_states = 1;
  }
  for (uint32_t i = 0; i < m; i++) {
    c->need[lops[i].need != NONE ? lops[i].need : 0] = 0;
    c->prod[lops[i].prod != NONE ? lops[i].prod : 0] = 0;
  }
  if (kr->status == R_INVALID) {
    kr->stuck_op = lops[s.best_lop].op;
    kr->stuck_pos = s.best_pos;
    kr->lin = s.best_lin;
    memcpy(kr->states, s.states, sizeof(s.states));
    kr->nstates = s.nstates;
    kr->more_states = s.more_states;
  }

  fl_free(s.next);
  fl_free(s.prev);
  fl_free(s.elop);
  fl_free(s.ematch);
  fl_free(s.epos);
  fl_free(s.ecall);
  fl_free(s.w);
  fl_free(s.slots);
  fl_free(s.arena);
  fl_free(s.sent);
  fl_free(s.sstate);
  fl_free(s.sfirst);
  fl_free(s.sflags);
  fl_free(lops);
}

typedef struct {
  uint32_t pos;
  uint32_t op;
} cpos_t;

static int cpos_cmp(const void *a, const void *b) {
  uint32_t x = ((const cpos_t *)a)->pos, y = ((const cpos_t *)b)->pos;
  return x < y ? -1 : x > y;
}

/* Can the op's completion at pos end the shortest non-linearizable prefix?
 * Only a completion that takes an option away: an ok one (the op must now
 * have taken effect, and a read's value is known), or a write's or cas's
 * fail (while pending it might have taken effect). */
static int can_end_prefix(const fl_op_t *op) {
  return op->type == FL_OP_OK || (op->type == FL_OP_FAIL && op->fk != FL_F_READ);
}

/* Finds the shortest non-linearizable prefix of a key's history: the
 * history cut before lo is known to be linearizable and the one cut before
 * bound is known not to be. The search's own furthest point can fall short
 * of that prefix, since it also prunes moves that doom an operation further
 * on (a stale read stops it at the write that overwrote the value read).
 * So: cut after each completion that can end the prefix from lo on
 * (galloping, then halving) and check; the first cut that fails ends the
 * prefix. Returns 1 and the cut's last position in *end, or 0 when the
 * budget ran out. */
static int find_prefix(ctx_t *c, const uint32_t *idx, size_t n, uint32_t lo_pos,
                       uint32_t bound, uint32_t *end) {
  const fl_op_t *v = c->ops->v;
  keyres_t tmp;
  cpos_t *cps = fl_malloc((n + 1) * sizeof(*cps));
  size_t nc = 0;
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &v[idx[i]];
    if (op->complete_pos >= lo_pos && op->complete_pos < bound && can_end_prefix(op))
      cps[nc++] = (cpos_t){op->complete_pos, op->index};
  }
  if (nc == 0)
    goto out;
  qsort(cps, nc, sizeof(*cps), cpos_cmp);
  size_t lo = 0, hi = nc - 1, step = 1; /* invalid(hi); valid below lo */
  int r;
  while (lo < hi) {
    size_t probe = lo + step - 1 < hi ? lo + step - 1 : hi;
    if (probe == hi)
      break;
    run_key(c, idx, n, cps[probe].pos + 1, NONE, 0, &tmp);
    if ((r = tmp.status) == R_INVALID) {
      hi = probe;
      break;
    }
    if (r != R_VALID)
      goto out;
    lo = probe + 1;
    step *= 2;
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    run_key(c, idx, n, cps[mid].pos + 1, NONE, 0, &tmp);
    if ((r = tmp.status) == R_INVALID)
      hi = mid;
    else if (r == R_VALID)
      lo = mid + 1;
    else
      goto out;
  }
  *end = cps[hi].pos;
  found = 1;

out:
  fl_free(cps);
  return found;
}

/* The op whose completion is at pos. */
static uint32_t op_completed_at(const ctx_t *c, const uint32_t *idx, size_t n, uint32_t pos) {
  for (size_t i = 0; i < n; i++)
    if (c->ops->v[idx[i]].complete_pos == pos)
      return idx[i];
  return NONE;
}

/* Fills kr for the shortest non-linearizable prefix, which ends at position
 * end. When an ok completion ends it, its op is to blame, and a run where
 * that op's need prunes nothing gets stuck at its return and notes what the
 * register could hold there (proving it stuck from every configuration can
 * take far longer than everything else, so the run stops after a sample and
 * says so). When a failed write ends it, the op to blame is where a run on
 * that prefix gets stuck. */
static void blame(ctx_t *c, const uint32_t *idx, size_t n, uint32_t end, uint64_t budget,
                  keyres_t *kr) {
  keyres_t tmp;
  uint32_t eop = op_completed_at(c, idx, n, end);
  memset(kr, 0, sizeof(*kr));
  kr->status = R_INVALID;
  kr->exact = 1;
  kr->end_op = eop;
  kr->stuck_op = eop;
  kr->stuck_pos = end;
  c->max_configs = budget;
  if (c->ops->v[eop].type == FL_OP_OK) {
    run_key(c, idx, n, end + 1, eop, 0, &tmp);
    if ((tmp.status == R_INVALID || tmp.status == R_LIMIT) && tmp.stuck_op == eop &&
        tmp.stuck_pos == end) {
      memcpy(kr->states, tmp.states, sizeof(tmp.states));
      kr->nstates = tmp.nstates;
      kr->more_states = tmp.more_states;
      kr->lin = tmp.lin;
    }
  } else {
    run_key(c, idx, n, end + 1, NONE, 0, &tmp);
    if (tmp.status == R_INVALID || tmp.status == R_LIMIT) {
      kr->stuck_op = tmp.stuck_op;
      kr->stuck_pos = tmp.stuck_pos;
      memcpy(kr->states, tmp.states, sizeof(tmp.states));
      kr->nstates = tmp.nstates;
      kr->more_states = tmp.more_states;
      kr->lin = tmp.lin;
    }
  }
  c->max_configs = 0;
}

/* Decides one key, and when it is not linearizable finds what to blame.
 * Stale reads are common and, under heavy concurrency, expensive to prove by
 * search (every ordering of the ops around them must fail), so they are
 * looked for first (stale.c). A stale read proves the verdict; a run on the
 * history before its completion tells whether something earlier fails too.
 * If the budget runs out while looking for the shortest prefix, the verdict
 * stands and the report says the prefix is approximate. */
static void check_key(ctx_t *c, const uint32_t *idx, size_t n, keyres_t *kr) {
  const fl_op_t *v = c->ops->v;
  keyres_t first;
  fl_stale_t st;
  uint64_t before = c->configs;
  uint32_t end;
  if (fl_stale_find(c->ops, idx, n, c->va, c->vb, c->null_id, &st)) {
    const fl_op_t *x = &v[st.needer];
    /* The finding holds once every write of the value that began before
     * the read completed has completed (ok, or failed). */
    uint32_t bound = x->complete_pos;
    for (size_t i = 0; i < n; i++) {
      const fl_op_t *op = &v[idx[i]];
      if (op->type == FL_OP_FAIL && op->fk != FL_F_READ && op->invoke_pos < x->complete_pos &&
          (op->fk == FL_F_WRITE ? c->va : c->vb)[op->index] == c->va[x->index] &&
          op->complete_pos > bound)
        bound = op->complete_pos;
    }
    run_key(c, idx, n, x->complete_pos, NONE, 1, &first);
    if (first.status == R_VALID) {
      int exact = 1;
      if (bound == x->complete_pos)
        end = bound;
      else if (!find_prefix(c, idx, n, x->complete_pos, bound + 1, &end))
        end = bound, exact = 0;
      blame(c, idx, n, end, c->configs - before + 50000, kr);
      kr->exact = exact;
    } else if (first.status == R_INVALID &&
               find_prefix(c, idx, n, first.stuck_pos, x->complete_pos, &end)) {
      blame(c, idx, n, end, 4 * (c->configs - before) + 100000, kr);
    } else {
      /* Out of budget: the stale read is certain, an earlier anomaly is not
       * ruled out. */
      memset(kr, 0, sizeof(*kr));
      kr->status = R_INVALID;
      kr->stuck_op = kr->end_op = x->index;
      kr->stuck_pos = x->complete_pos;
    }
    if (kr->stuck_op == st.needer) {
      kr->has_stale = 1;
      kr->stale = st;
    }
    return;
  }
  run_key(c, idx, n, UINT32_MAX, NONE, 1, &first);
  *kr = first;
  if (first.status != R_INVALID)
    return;
  kr->end_op = first.stuck_op;
  if (find_prefix(c, idx, n, first.stuck_pos, UINT32_MAX, &end))
    blame(c, idx, n, end, 4 * (c->configs - before) + 100000, kr);
}

/* ---- Input and results ---------------------------------------------------- */

int fl_linear_model_parse(const char *name, fl_linear_model_t *out) {
  if (strcmp(name, "register") == 0)
    *out = FL_MODEL_REGISTER;
  else if (strcmp(name, "cas-register") == 0)
    *out = FL_MODEL_CAS_REGISTER;
  else if (strcmp(name, "kv") == 0)
    *out = FL_MODEL_KV;
  else
    return FL_EUSAGE;
  return 0;
}

const char *fl_linear_model_name(fl_linear_model_t model) {
  switch (model) {
  case FL_MODEL_REGISTER:
    return "register";
  case FL_MODEL_CAS_REGISTER:
    return "cas-register";
  default:
    return "kv";
  }
}

/* Interns the values of every op, checking that each fits the model. */
static int load_values(ctx_t *c, fl_err_t *err) {
  const fl_ops_t *ops = c->ops;
  int cas_ok = c->model != FL_MODEL_REGISTER;
  for (size_t i = 0; i < ops->len; i++) {
    const fl_op_t *op = &ops->v[i];
    switch (op->fk) {
    case FL_F_READ:
      c->va[i] = value_id(c, op->result);
      break;
    case FL_F_WRITE:
      c->va[i] = value_id(c, op->value);
      break;
    case FL_F_CAS:
      if (!cas_ok)
        return fl_err_set(err, FL_EPARSE,
                          "%s:%" PRIu32 ": f \"cas\" is not an operation of the register "
                          "model (read, write); use cas-register or kv",
                          ops->name, op->invoke_line);
      if (!json_is_array(op->value) || json_array_size(op->value) != 2)
        return fl_err_set(err, FL_EPARSE,
                          "%s:%" PRIu32 ": a cas's value must be [old, new]", ops->name,
                          op->invoke_line);
      c->va[i] = value_id(c, json_array_get(op->value, 0));
      c->vb[i] = value_id(c, json_array_get(op->value, 1));
      break;
    default:
      return fl_err_set(err, FL_EPARSE,
                        "%s:%" PRIu32 ": f \"%s\" is not an operation of the %s model "
                        "(read, write%s)",
                        ops->name, op->invoke_line, op->f, fl_linear_model_name(c->model),
                        cas_ok ? ", cas" : "");
    }
  }
  return 0;
}

static json_t *ops_json(const fl_ops_t *ops, const uint32_t *list, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, fl_op_to_json(&ops->v[list[i]]));
  return a;
}

/* "2", "2 or 3", "2, 3 or 4" (and ", or others" when the list is cut). */
static void values_text(const ctx_t *c, const keyres_t *kr, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < kr->nstates && used + 1 < size; i++) {
    char val[64];
    fl_json_text(c->vjson[kr->states[i]], val, sizeof(val));
    const char *sep = i == 0 ? "" : (i + 1 == kr->nstates && !kr->more_states) ? " or " : ", ";
    int w = snprintf(buf + used, size - used, "%s%s", sep, val);
    if (w < 0)
      break;
    used += (size_t)w;
  }
  if (kr->more_states && used + 1 < size)
    snprintf(buf + used, size - used, " or others");
}

static json_t *anomaly_json(const ctx_t *c, const uint32_t *idx, size_t n,
                            const keyres_t *kr) {
  const fl_ops_t *ops = c->ops;
  const fl_op_t *x = &ops->v[kr->stuck_op];
  json_t *a = json_object();
  json_object_set_new(a, "key", x->key != NULL ? json_string(x->key) : json_null());
  json_object_set_new(a, "op", fl_op_to_json(x));

  char vals[512], val[128], keypart[160], what[512], msg[2048];
  values_text(c, kr, vals, sizeof(vals));
  if (x->key != NULL)
    snprintf(keypart, sizeof(keypart), " of key %s", x->key);
  else
    keypart[0] = '\0';
  if (x->fk == FL_F_READ)
    snprintf(what, sizeof(what), "read%s by process %d returned %s", keypart, x->process,
             fl_json_text(x->result, val, sizeof(val)));
  else if (x->fk == FL_F_CAS)
    snprintf(what, sizeof(what), "cas %s%s by process %d succeeded",
             fl_json_text(x->value, val, sizeof(val)), keypart, x->process);
  else
    snprintf(what, sizeof(what), "write %s%s by process %d",
             fl_json_text(x->value, val, sizeof(val)), keypart, x->process);
  if (kr->has_stale) {
    const fl_stale_t *st = &kr->stale;
    const fl_op_t *p = st->producer != FL_STALE_NONE ? &ops->v[st->producer] : NULL;
    const fl_op_t *t = st->overwriter != FL_STALE_NONE ? &ops->v[st->overwriter] : NULL;
    char pv[128], tv[128];
    if (t != NULL)
      fl_json_text(t->fk == FL_F_CAS ? json_array_get(t->value, 1) : t->value, tv, sizeof(tv));
    if (p != NULL && t != NULL) {
      fl_json_text(p->fk == FL_F_CAS ? json_array_get(p->value, 1) : p->value, pv, sizeof(pv));
      snprintf(msg, sizeof(msg),
               "%s, a stale value: process %d's %s %s %s (completed at %.6f s) was "
               "overwritten by process %d's %s %s %s, which began after it and completed "
               "(at %.6f s) before the %s began (at %.6f s)",
               what, p->process, p->f, p->fk == FL_F_CAS ? "to" : "of", pv,
               (double)p->complete_ns / 1e9, t->process, t->f, t->fk == FL_F_CAS ? "to" : "of", tv,
               (double)t->complete_ns / 1e9, x->f, (double)x->invoke_ns / 1e9);
    } else if (t != NULL) {
      snprintf(msg, sizeof(msg),
               "%s, but no write of that value %s, and process %d's %s %s %s completed (at "
               "%.6f s) before the %s began",
               what, x->fk == FL_F_READ && json_is_null(x->result)
                         ? "happened (null is the initial value)"
                         : "began before it completed",
               t->process, t->f, t->fk == FL_F_CAS ? "to" : "of", tv,
               (double)t->complete_ns / 1e9, x->f);
    } else {
      snprintf(msg, sizeof(msg), "%s, a value that no write began to write before it completed",
               what);
    }
  } else if (kr->nstates > 0) {
    snprintf(msg, sizeof(msg), "%s, but the register could only hold %s at that point", what,
             vals);
  } else {
    snprintf(msg, sizeof(msg), "%s, which no linearization of the operations before it allows",
             what);
  }
  const fl_op_t *end_op = &ops->v[kr->end_op];
  if (end_op != x && end_op->type == FL_OP_FAIL) {
    size_t used = strlen(msg);
    snprintf(msg + used, sizeof(msg) - used,
             " (once process %d's %s %s failed, on line %" PRIu32 ")", end_op->process,
             end_op->f, fl_json_text(end_op->value, val, sizeof(val)), end_op->complete_line);
  }
  json_object_set_new(a, "message", json_string(msg));

  json_t *pv = json_array();
  for (uint32_t i = 0; i < kr->nstates; i++)
    json_array_append(pv, (json_t *)c->vjson[kr->states[i]]);
  json_object_set_new(a, "possible_values", pv);
  json_object_set_new(a, "possible_values_complete", json_boolean(!kr->more_states));
  if (kr->has_stale && kr->stale.producer != FL_STALE_NONE)
    json_object_set_new(a, "written_by", fl_op_to_json(&ops->v[kr->stale.producer]));
  if (kr->has_stale && kr->stale.overwriter != FL_STALE_NONE)
    json_object_set_new(a, "overwritten_by", fl_op_to_json(&ops->v[kr->stale.overwriter]));

  /* The operations whose interval overlaps x's (an info op's interval ends,
   * for this list, at its info line), at most MAX_CONCURRENT of them, those
   * invoked nearest to x. */
  uint32_t *conc = fl_malloc((n + 1) * sizeof(*conc)), before[MAX_BEFORE];
  size_t nc = 0, nb = 0, mid = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op == x || op->type == FL_OP_FAIL || (op->fk == FL_F_READ && op->type != FL_OP_OK))
      continue;
    uint32_t end = op->complete_pos; /* FL_NO_POS (the largest) when none */
    if (op->invoke_pos < x->complete_pos && end > x->invoke_pos) {
      if (op->invoke_pos < x->invoke_pos)
        mid = nc + 1;
      conc[nc++] = op->index;
    } else if (op->type == FL_OP_OK && op->fk != FL_F_READ && end < x->invoke_pos) {
      if (nb == MAX_BEFORE) {
        memmove(before, before + 1, (MAX_BEFORE - 1) * sizeof(*before));
        nb--;
      }
      before[nb++] = op->index;
    }
  }
  size_t from = mid > MAX_CONCURRENT / 2 ? mid - MAX_CONCURRENT / 2 : 0;
  if (from + MAX_CONCURRENT > nc)
    from = nc > MAX_CONCURRENT ? nc - MAX_CONCURRENT : 0;
  size_t shown = nc - from < MAX_CONCURRENT ? nc - from : MAX_CONCURRENT;
  json_object_set_new(a, "concurrent", ops_json(ops, conc + from, shown));
  if (nc > shown)
    json_object_set_new(a, "concurrent_omitted", json_integer((json_int_t)(nc - shown)));
  fl_free(conc);
  json_object_set_new(a, "before", ops_json(ops, before, nb));
  json_object_set_new(a, "linearized_prefix", json_integer(kr->lin));
  const fl_op_t *eop = &ops->v[kr->end_op];
  json_object_set_new(a, "prefix_end_line", json_integer(eop->complete_line));
  if (eop != x)
    json_object_set_new(a, "ended_by", fl_op_to_json(eop));
  json_object_set_new(a, "prefix_exact", json_boolean(kr->exact));
  return a;
}

int fl_check_linear(const fl_ops_t *ops, fl_linear_model_t model,
                    const fl_check_opts_t *opts, json_t **out, fl_err_t *err) {
  *out = NULL;
  uint64_t t0 = now_ns();
  ctx_t c;
  memset(&c, 0, sizeof(c));
  c.ops = ops;
  c.model = model;
  fl_intern_init(&c.values);
  json_t *jnull = json_null();
  c.null_id = value_id(&c, jnull);
  c.va = fl_calloc(ops->len + 1, sizeof(uint32_t));
  c.vb = fl_calloc(ops->len + 1, sizeof(uint32_t));
  if (opts != NULL && opts->timeout_s > 0)
    c.deadline_ns = t0 + (uint64_t)(opts->timeout_s * 1e9);
  c.cancel = opts != NULL ? opts->cancel : NULL;
  c.max_memory = opts != NULL && opts->max_memory > 0 ? opts->max_memory : DEFAULT_MAX_MEMORY;

  int r = load_values(&c, err);
  if (r != 0)
    goto out;
  c.stamp = fl_calloc(c.nvjson + 1, sizeof(uint32_t));
  c.need = fl_calloc(c.nvjson + 1, sizeof(uint32_t));
  c.prod = fl_calloc(c.nvjson + 1, sizeof(uint32_t));

  fl_partition_t part;
  fl_partition_by_key(ops, &part);
  const size_t np = part.np;
  const size_t *start = part.start;
  const uint32_t *idx = part.idx;

  json_t *invalid = json_array(), *unknown = json_array();
  json_t *anomaly = NULL;
  uint32_t anomaly_pos = UINT32_MAX;
  const char *reason = NULL;
  size_t nkeys = 0;
  for (size_t p = 0; p < np; p++) {
    size_t n = start[p + 1] - start[p];
    if (n == 0)
      continue;
    nkeys++;
    json_t *jkey = fl_partition_key_json(ops, p);
    if (reason != NULL) {
      json_array_append_new(unknown, jkey); /* the budget is already spent */
      continue;
    }
    keyres_t kr;
    check_key(&c, idx + start[p], n, &kr);
    if (kr.status == R_INVALID) {
      json_array_append_new(invalid, jkey);
      if (kr.stuck_pos < anomaly_pos) {
        json_decref(anomaly);
        anomaly = anomaly_json(&c, idx + start[p], n, &kr);
        anomaly_pos = kr.stuck_pos;
      }
    } else if (kr.status != R_VALID) {
      json_array_append_new(unknown, jkey);
      reason = kr.status == R_TIME  ? "time budget spent"
               : kr.status == R_MEM ? "memory budget spent"
                                    : "canceled";
    } else {
      json_decref(jkey);
    }
  }

  json_t *o = json_object();
  if (json_array_size(invalid) > 0)
    json_object_set_new(o, "valid", json_false());
  else if (reason != NULL)
    json_object_set_new(o, "valid", json_string("unknown"));
  else
    json_object_set_new(o, "valid", json_true());
  json_object_set_new(o, "model", json_string(fl_linear_model_name(model)));
  json_object_set_new(o, "ops", json_integer((json_int_t)ops->len));
  json_object_set_new(o, "keys", json_integer((json_int_t)nkeys));
  json_object_set_new(o, "checked_ops", json_integer((json_int_t)c.checked));
  json_object_set_new(o, "dropped_info", json_integer((json_int_t)c.dropped));
  json_object_set_new(o, "configurations", json_integer((json_int_t)c.configs));
  if (json_array_size(invalid) > 0) {
    json_object_set_new(o, "invalid_keys", invalid);
    json_object_set_new(o, "anomaly", anomaly);
    anomaly = NULL;
  } else {
    json_decref(invalid);
  }
  if (reason != NULL) {
    char why[160];
    if (opts != NULL && opts->timeout_s > 0 && strcmp(reason, "time budget spent") == 0)
      snprintf(why, sizeof(why), "time budget of %g s spent before %zu key(s) were decided",
               opts->timeout_s, json_array_size(unknown));
    else
      snprintf(why, sizeof(why), "%s before %zu key(s) were decided", reason,
               json_array_size(unknown));
    json_object_set_new(o, "reason", json_string(why));
    json_object_set_new(o, "unknown_keys", unknown);
  } else {
    json_decref(unknown);
  }
  json_decref(anomaly);
  json_object_set_new(o, "elapsed_s", json_real((double)(now_ns() - t0) / 1e9));
  *out = o;
  fl_partition_free(&part);

out:
  fl_free(c.stamp);
  fl_free(c.need);
  fl_free(c.prod);
  fl_free(c.va);
  fl_free(c.vb);
  fl_free(c.vjson);
  fl_intern_free(&c.values);
  json_decref(jnull);
  return r;
}
