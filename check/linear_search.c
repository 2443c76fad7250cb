/* The linearizability search on one key (linear_int.h): Wing & Gong's
 * algorithm with Lowe's just-in-time linearization and a memo of
 * (linearized set, state), as Porcupine does it, plus three reductions.
 *
 * The operations become an entry list of call and return events in history
 * order. The search walks it: at a call it tries to linearize that
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
 * The reductions, each keeping the search exact (search() says why):
 * - a read of the value the register holds now is linearized at once;
 * - a blind write (acknowledged, of a value nobody observes) is glued in
 *   front of the next write linearized, or taken alone at its return;
 * - the register never leaves a value that an operation still needs when
 *   nothing left can write that value again.
 * Without them a register with 50 concurrent clients took millions of
 * configurations per thousand operations; with them it takes about one.
 *
 * The memo holds each configuration once. The linearized set is a bitset in
 * two regions, acknowledged ops first and info ops after, stored as windows:
 * in the first region every word below the lowest unlinearized op is all
 * ones and every word past the highest linearized one is zero, so only the
 * words in between (about one per 64 ops in flight) are stored; the info
 * region is stored from its first to its last nonzero word. The hash is
 * Zobrist's (a XOR of one random word per linearized op), updated in O(1)
 * per step. Memory per key: the table, 24 bytes * max(4 (m + 1), 2 x
 * configurations) rounded up to a power of two, and the arena, 8 bytes *
 * (2 + window words) per configuration; plus about 40 bytes per op for the
 * entry list and the stack. No allocation per step: the table and the arena
 * grow by doubling. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/linear_int.h"
#include "check/partition.h"

enum { K_READ = 0, K_WRITE, K_CAS };

typedef struct {
  uint32_t kind;
  uint32_t blind; /* an acknowledged write of a value nobody observes */
  uint32_t a, b;  /* read: value read; write: value; cas: old, new */
  uint32_t need;  /* the value it needs the register to hold, or NONE */
  uint32_t prod;  /* the value it leaves in the register, or NONE */
  uint32_t op;    /* index in ops->v */
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

/* Where the search stands: the register's value, the Zobrist hash of the
 * linearized set, the undo stack's depth, how many ops are linearized and
 * how many returns are left in the entry list. */
typedef struct {
  uint32_t state;
  uint64_t zh;
  uint32_t sp, lin, ret_left;
} at_t;

/* Lifts the stacked entry c out of the list: it is linearized. */
static inline void take(search_t *s, at_t *at, uint32_t c) {
  count_done(s, &s->lops[s->elop[c]]);
  lift(s, c);
  if (s->ematch[c] != 0)
    at->ret_left--;
  at->lin++;
}

/* Linearizes at once a candidate read of the value the register holds.
 * Returns 1 when one was taken, 0 when there is none (*first: the first
 * return left), -1 when its configuration was seen (so this one fails),
 * -2 when the memory budget is spent. */
static inline int take_current_read(search_t *s, at_t *at, uint32_t *first) {
  uint32_t f;
  for (f = s->next[0]; s->ecall[f]; f = s->next[f]) {
    const lop_t *op = &s->lops[s->elop[f]];
    if (op->kind != K_READ || op->a != at->state)
      continue;
    bit_set(s, op->word, op->mask);
    int r = memo_insert(s, at->zh ^ op->z, at->state);
    if (r <= 0) {
      bit_clear(s, op->word, op->mask);
      return r < 0 ? -2 : -1;
    }
    push(s, &at->sp, f, at->state, 0, F_FORCED);
    at->zh ^= op->z;
    take(s, at, f);
    return 1;
  }
  *first = f;
  return 0;
}

/* Sets the bits of, and stacks as glued, every blind write among the
 * candidates before the first return f but e; returns their Zobrist XOR. */
static inline uint64_t glue_blind(search_t *s, at_t *at, uint32_t e, uint32_t f) {
  uint64_t z = 0;
  for (uint32_t g = s->next[0]; g != f; g = s->next[g]) {
    const lop_t *b = &s->lops[s->elop[g]];
    if (g == e || !b->blind)
      continue;
    bit_set(s, b->word, b->mask);
    z ^= b->z;
    push(s, &at->sp, g, at->state, f, F_GLUED);
  }
  return z;
}

/* Tries to linearize the candidate call e (f: the first return left), with
 * the blind writes glued in front when e is a write. Returns 1 when it was
 * linearized, 0 when it cannot be or was seen, -1 when the memory budget
 * is spent. */
static inline int try_candidate(search_t *s, at_t *at, uint32_t e, uint32_t f) {
  const lop_t *op = &s->lops[s->elop[e]];
  uint32_t ns;
  if ((op->blind && s->ematch[e] != f) || !step(op, at->state, &ns))
    return 0;
  /* Leaving a value that an operation still needs, when nothing left can
   * produce it again, dooms that operation: don't. */
  if (ns != at->state && s->prod[at->state] == 0 &&
      s->need[at->state] > (uint32_t)(op->need == at->state))
    return 0;
  uint64_t z = op->z;
  bit_set(s, op->word, op->mask);
  uint32_t glued = at->sp; /* glued frames go on the stack, undone on a miss */
  if (op->kind == K_WRITE)
    z ^= glue_blind(s, at, e, f);
  int r = memo_insert(s, at->zh ^ z, ns);
  if (r > 0) {
    for (uint32_t i = glued; i < at->sp; i++)
      take(s, at, s->sent[i]); /* blind writes are acknowledged: a return */
    push(s, &at->sp, e, at->state, f, 0);
    at->zh ^= z;
    at->state = ns;
    take(s, at, e);
    return 1;
  }
  while (at->sp > glued) {
    const lop_t *b = &s->lops[s->elop[s->sent[--at->sp]]];
    bit_clear(s, b->word, b->mask);
  }
  bit_clear(s, op->word, op->mask);
  return r < 0 ? -1 : 0;
}

/* Undoes the top frame and the glued frames under it. Returns its flags and
 * sets *main to the entry it had linearized, *first to the return that was
 * first then. */
static inline uint8_t undo_frame(search_t *s, at_t *at, uint32_t *main, uint32_t *first) {
  uint32_t c = s->sent[--at->sp];
  uint8_t flags = s->sflags[at->sp];
  *main = c;
  at->state = s->sstate[at->sp];
  *first = s->sfirst[at->sp];
  for (;;) {
    const lop_t *op = &s->lops[s->elop[c]];
    bit_clear(s, op->word, op->mask);
    count_undone(s, op);
    at->zh ^= op->z;
    unlift(s, c);
    if (s->ematch[c] != 0)
      at->ret_left++;
    at->lin--;
    if (at->sp == 0 || !(s->sflags[at->sp - 1] & F_GLUED))
      break;
    c = s->sent[--at->sp];
  }
  return flags;
}

/* Backtracks to the last frame that was a choice. Returns 0 with *e the
 * candidate after it (*first: the first return then), or R_INVALID when
 * the stack is empty. */
static inline int backtrack(search_t *s, at_t *at, uint32_t *e, uint32_t *first) {
  for (;;) {
    if (at->sp == 0)
      return R_INVALID;
    uint32_t main;
    if (!(undo_frame(s, at, &main, first) & F_FORCED)) {
      *e = s->next[main];
      return 0;
    }
  }
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
  at_t at = {.state = s->init, .ret_left = s->k};
  uint32_t e, f;
  uint64_t iter = 0;
  int r;

fresh:
  if (at.ret_left == 0)
    return R_VALID;
  if ((++iter & 0x3ff) == 0 && (r = budget_spent(s)) != 0)
    return r;
  r = take_current_read(s, &at, &f);
  if (r > 0)
    goto fresh;
  if (r == -2)
    return R_MEM;
  if (r < 0)
    goto backtrack; /* seen, so it failed: this configuration fails */
  /* f is the first return left; the calls before it are the candidates. */
  e = s->next[0];

walk:
  for (; s->ecall[e]; e = s->next[e]) {
    r = try_candidate(s, &at, e, f);
    if (r > 0)
      goto fresh;
    if (r < 0)
      return R_MEM;
  }
  /* The walk met the first return: that operation cannot take effect from
   * here whatever else is linearized first. */
  note_stuck(s, e, at.state, at.lin);

backtrack:
  if ((r = backtrack(s, &at, &e, &f)) != 0)
    return r;
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

/* Stamps with mark every value some op observes: an ok read, an ok or info
 * cas. An info write of a value nobody observes can be dropped without
 * changing the verdict, and an acknowledged one is blind (see search). */
static void mark_observed(ctx_t *c, const uint32_t *idx, size_t n, uint32_t cut,
                          uint32_t mark) {
  const fl_op_t *v = c->ops->v;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &v[idx[i]];
    int t = eff_type(op, cut);
    if ((op->fk == FL_F_READ && t == FL_OP_OK) ||
        (op->fk == FL_F_CAS && (t == FL_OP_OK || t == FL_OP_INFO)))
      c->stamp[c->va[op->index]] = mark;
  }
}

/* Builds the search's ops: the acknowledged ones first (*k of them), then
 * the info ones that matter; fails and dropped ones are left out. Returns
 * the array, *m the count. */
static lop_t *build_lops(ctx_t *c, const uint32_t *idx, size_t n, uint32_t cut,
                         uint32_t free_op, int count, uint32_t mark, size_t *m,
                         size_t *k) {
  const fl_op_t *v = c->ops->v;
  *k = 0;
  for (size_t i = 0; i < n; i++)
    *k += eff_type(&v[idx[i]], cut) == FL_OP_OK;
  lop_t *lops = fl_malloc((n ? n : 1) * sizeof(*lops));
  uint32_t ka = 0, kb = (uint32_t)*k;
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
  *m = kb;
  return lops;
}

/* Gives each op its bit in the linearized set and its Zobrist word. */
static void assign_bits(search_t *s) {
  s->wa = (s->k + 63) / 64;
  s->wb = (s->m - s->k + 63) / 64;
  for (uint32_t i = 0; i < s->m; i++) {
    lop_t *l = &s->lops[i];
    if (i < s->k) {
      l->word = i / 64;
      l->mask = 1ULL << (i % 64);
    } else {
      l->word = s->wa + (i - s->k) / 64;
      l->mask = 1ULL << ((i - s->k) % 64);
    }
    l->z = mix64(((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL);
  }
}

/* Builds the entry list: a call per op and a return per acknowledged one,
 * in history order, between the head (0) and the tail (n + 1). */
static void build_entries(search_t *s, const fl_op_t *v) {
  uint32_t m = s->m, k = s->k;
  size_t ne = (size_t)m + k;
  ev_t *evs = fl_malloc((ne ? ne : 1) * sizeof(*evs));
  size_t j = 0;
  for (uint32_t i = 0; i < m; i++) {
    const fl_op_t *op = &v[s->lops[i].op];
    evs[j++] = (ev_t){op->invoke_pos, i, 1};
    if (i < k)
      evs[j++] = (ev_t){op->complete_pos, i, 0};
  }
  qsort(evs, ne, sizeof(*evs), ev_cmp);
  size_t nn = ne + 2;
  s->next = fl_malloc(nn * sizeof(uint32_t));
  s->prev = fl_malloc(nn * sizeof(uint32_t));
  s->elop = fl_calloc(nn, sizeof(uint32_t));
  s->ematch = fl_calloc(nn, sizeof(uint32_t));
  s->epos = fl_calloc(nn, sizeof(uint32_t));
  s->ecall = fl_calloc(nn, 1);
  uint32_t *callnode = fl_malloc((m ? m : 1) * sizeof(uint32_t));
  for (size_t i = 0; i < nn; i++) {
    s->next[i] = (uint32_t)(i + 1 < nn ? i + 1 : i);
    s->prev[i] = (uint32_t)(i > 0 ? i - 1 : 0);
  }
  for (size_t i = 0; i < ne; i++) {
    uint32_t node = (uint32_t)i + 1;
    s->elop[node] = evs[i].lop;
    s->epos[node] = evs[i].pos;
    s->ecall[node] = (uint8_t)evs[i].call;
    if (evs[i].call)
      callnode[evs[i].lop] = node;
    else
      s->ematch[callnode[evs[i].lop]] = node;
  }
  s->epos[nn - 1] = UINT32_MAX;
  fl_free(callnode);
  fl_free(evs);
}

/* Allocates the linearized set, the memo, the arena and the undo stack,
 * takes the budget from c and counts each op's needed and produced value. */
static void search_prepare(search_t *s, ctx_t *c) {
  uint32_t m = s->m;
  s->w = fl_calloc((size_t)s->wa + s->wb + 1, sizeof(uint64_t));
  s->nslots = 64;
  while (s->nslots < 4 * ((size_t)m + 1))
    s->nslots *= 2;
  s->slots = fl_calloc(s->nslots, sizeof(slot_t));
  s->acap = 1024;
  s->arena = fl_malloc(s->acap * sizeof(uint64_t));
  s->sent = fl_malloc((m + 1) * sizeof(uint32_t));
  s->sstate = fl_malloc((m + 1) * sizeof(uint32_t));
  s->sfirst = fl_malloc((m + 1) * sizeof(uint32_t));
  s->sflags = fl_malloc(m + 1);
  s->deadline_ns = c->deadline_ns;
  s->cancel = c->cancel;
  s->max_memory = c->max_memory;
  s->max_configs = c->max_configs;
  s->init = c->null_id;
  s->best_pos = UINT32_MAX;
  s->need = c->need;
  s->prod = c->prod;
  for (uint32_t i = 0; i < m; i++)
    count_undone(s, &s->lops[i]);
}

/* Copies where the search got stuck into kr. */
static void report_stuck(const search_t *s, keyres_t *kr, int more_states) {
  kr->stuck_op = s->lops[s->best_lop].op;
  kr->stuck_pos = s->best_pos;
  kr->lin = s->best_lin;
  memcpy(kr->states, s->states, sizeof(s->states));
  kr->nstates = s->nstates;
  kr->more_states = more_states;
}

/* Frees what search_prepare and build_entries allocated, and the ops. */
static void search_free(search_t *s) {
  fl_free(s->next);
  fl_free(s->prev);
  fl_free(s->elop);
  fl_free(s->ematch);
  fl_free(s->epos);
  fl_free(s->ecall);
  fl_free(s->w);
  fl_free(s->slots);
  fl_free(s->arena);
  fl_free(s->sent);
  fl_free(s->sstate);
  fl_free(s->sfirst);
  fl_free(s->sflags);
  fl_free(s->lops);
}

/* Runs the search on one key's ops (idx[0..n)), keeping only the history
 * before position cut (UINT32_MAX: all of it). free_op (an index in ops->v,
 * or NONE) does not count among the ops that need a value: see
 * check_key. */
void fl_linear_run(ctx_t *c, const uint32_t *idx, size_t n, uint32_t cut,
                   uint32_t free_op, int count, keyres_t *kr) {
  memset(kr, 0, sizeof(*kr));
  uint32_t mark = ++c->run;
  mark_observed(c, idx, n, cut, mark);
  size_t m, k;
  lop_t *lops = build_lops(c, idx, n, cut, free_op, count, mark, &m, &k);
  if (count)
    c->checked += m;

  search_t s;
  memset(&s, 0, sizeof(s));
  s.lops = lops;
  s.m = (uint32_t)m;
  s.k = (uint32_t)k;
  assign_bits(&s);
  build_entries(&s, c->ops->v);
  search_prepare(&s, c);

  kr->status = search(&s);
  c->configs += s.configs;
  if (kr->status == R_LIMIT && s.best_pos != UINT32_MAX)
    report_stuck(&s, kr, 1); /* cut short on purpose: what it found is still true */
  for (uint32_t i = 0; i < m; i++) {
    c->need[lops[i].need != NONE ? lops[i].need : 0] = 0;
    c->prod[lops[i].prod != NONE ? lops[i].prod : 0] = 0;
  }
  if (kr->status == R_INVALID)
    report_stuck(&s, kr, s.more_states);
  search_free(&s);
}
