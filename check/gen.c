/* The history generator (gen.h): a discrete-event simulation of processes
 * against registers. Events are processed in (time, sequence) order and
 * lines are written in that same order, which is the order the checker
 * trusts. */
#include "check/gen.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "base/prng.h"

enum { G_READ = 0, G_WRITE, G_CAS };
enum { EV_START = 0, EV_LIN, EV_DONE };
enum { OUT_OK = 0, OUT_FAIL, OUT_INFO };

/* Register values: 0 is null, anything else the integer itself. Written
 * values are unique per key (1, 2, 3 ...), so a corrupted read is easy to
 * make surely wrong. */
typedef struct {
  int process;
  uint32_t key;
  uint32_t slot;
  uint8_t f, outcome, effect, cas_ok;
  int64_t a, b, result;
  uint64_t invoke_ns, complete_ns;
  uint32_t invoke_line, complete_line;
} gop_t;

typedef struct {
  uint64_t time;
  uint64_t seq;
  uint32_t kind;
  uint32_t who; /* slot for EV_START, op for the others */
} ev_t;

typedef struct {
  ev_t *v;
  size_t n, cap;
} heap_t;

static int ev_less(const ev_t *a, const ev_t *b) {
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_push(heap_t *h, ev_t e) {
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 64;
    h->v = fl_realloc(h->v, h->cap * sizeof(*h->v));
  }
  size_t i = h->n++;
  while (i > 0 && ev_less(&e, &h->v[(i - 1) / 2])) {
    h->v[i] = h->v[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->v[i] = e;
}

static ev_t heap_pop(heap_t *h) {
  ev_t top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c]))
      c++;
    if (!ev_less(&h->v[c], &last))
      break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (h->n > 0)
    h->v[i] = last;
  return top;
}

void fl_gen_opts_default(fl_gen_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->seed = 1;
  o->ops = 1000;
  o->keys = 1;
  o->procs = 5;
  o->read_rate = 0.5;
  o->cas_rate = 0.1;
  o->info_rate = 0.02;
}

static void put_value(FILE *fp, int64_t v) {
  if (v == 0)
    fputs("null", fp);
  else
    fprintf(fp, "%" PRId64, v);
}

static void put_line(FILE *fp, const fl_gen_opts_t *o, const gop_t *op, int invoke) {
  static const char *const fnames[] = {"read", "write", "cas"};
  static const char *const outs[] = {"ok", "fail", "info"};
  fprintf(fp, "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\"", op->process,
          invoke ? "invoke" : outs[op->outcome], fnames[op->f]);
  if (o->keys > 0)
    fprintf(fp, ",\"key\":\"k%" PRIu32 "\"", op->key);
  fputs(",\"value\":", fp);
  if (op->f == G_READ) {
    if (invoke || op->outcome != OUT_OK)
      fputs("null", fp);
    else
      put_value(fp, op->result);
  } else if (op->f == G_WRITE) {
    put_value(fp, op->a);
  } else {
    fputc('[', fp);
    put_value(fp, op->a);
    fputc(',', fp);
    put_value(fp, op->b);
    fputc(']', fp);
  }
  fprintf(fp, ",\"time\":%" PRIu64 "}\n", invoke ? op->invoke_ns : op->complete_ns);
}

/* Picks a stale value for the ok read r: the value of an acknowledged write
 * W that completed before another acknowledged write W2 began, W2 having
 * completed before r began. Every linearization orders W < W2 < r, so r
 * cannot return W's (unique) value. Returns 0 when there is none. */
static int64_t stale_value(const gop_t *ops, size_t n, size_t r) {
  const gop_t *rd = &ops[r];
  const gop_t *w2 = NULL;
  for (size_t i = 0; i < n; i++) {
    const gop_t *op = &ops[i];
    if (op->key != rd->key || op->outcome != OUT_OK || op->f == G_READ ||
        op->complete_line >= rd->invoke_line)
      continue;
    if (w2 == NULL || op->invoke_line > w2->invoke_line)
      w2 = op;
  }
  if (w2 == NULL)
    return 0;
  const gop_t *w = NULL;
  for (size_t i = 0; i < n; i++) {
    const gop_t *op = &ops[i];
    if (op->key != rd->key || op->outcome != OUT_OK || op->f == G_READ ||
        op->complete_line >= w2->invoke_line)
      continue;
    if (w == NULL || op->complete_line > w->complete_line)
      w = op;
  }
  if (w == NULL)
    return 0;
  return w->f == G_WRITE ? w->a : w->b;
}

/* The simulation: the options, the random stream, each key's register and
 * next value, each slot's process, the ops and lines so far, the events. */
typedef struct {
  const fl_gen_opts_t *o;
  fl_prng_t rng;
  size_t nkeys;
  int64_t *state, *next_value;
  int *proc;
  gop_t *ops;
  /* Each line is remembered as an (op, invoke?) pair, then written. */
  uint32_t *lines;
  size_t nops, nlines;
  heap_t heap;
  uint64_t seq;
} sim_t;

/* Picks the function and arguments of the new op for the register now. */
static void pick_call(sim_t *m, gop_t *op) {
  const fl_gen_opts_t *o = m->o;
  op->key = (uint32_t)fl_prng_below(&m->rng, m->nkeys);
  double u = fl_prng_double(&m->rng);
  op->f = u < o->read_rate ? G_READ : u < o->read_rate + o->cas_rate ? G_CAS : G_WRITE;
  if (op->f == G_WRITE) {
    op->a = ++m->next_value[op->key];
  } else if (op->f == G_CAS) {
    /* Usually what the register holds now (it may change before the cas
     * takes effect), sometimes an older value. */
    op->a = fl_prng_double(&m->rng) < 0.7
                ? m->state[op->key]
                : (int64_t)fl_prng_below(&m->rng, (uint64_t)m->next_value[op->key] + 1);
    op->b = ++m->next_value[op->key];
  }
}

/* A process slot starts a new op at time: its invoke line, and the events of
 * its taking effect (if it does) and of its completion. */
static void on_start(sim_t *m, uint64_t time, uint32_t slot) {
  if (m->nops == m->o->ops)
    return;
  gop_t *op = &m->ops[m->nops];
  op->process = m->proc[slot];
  pick_call(m, op);
  op->outcome = fl_prng_double(&m->rng) < m->o->info_rate ? OUT_INFO : OUT_OK;
  /* Latency: mostly 50 us .. 1 ms, one in twenty up to 10 ms. */
  uint64_t lat =
      50000 + fl_prng_below(&m->rng, fl_prng_double(&m->rng) < 0.05 ? 10000000 : 950000);
  op->invoke_ns = time;
  op->complete_ns = time + lat;
  op->invoke_line = (uint32_t)m->nlines + 1;
  m->lines[m->nlines++] = (uint32_t)m->nops << 1 | 1;
  if (op->outcome != OUT_INFO) {
    op->effect = 1;
    heap_push(&m->heap, (ev_t){time + fl_prng_below(&m->rng, lat + 1), m->seq++, EV_LIN,
                               (uint32_t)m->nops});
  } else if (fl_prng_double(&m->rng) < 0.5) {
    op->effect = 1;
    heap_push(&m->heap, (ev_t){time + fl_prng_below(&m->rng, 3 * lat + 1), m->seq++,
                               EV_LIN, (uint32_t)m->nops});
  }
  heap_push(&m->heap, (ev_t){op->complete_ns, m->seq++, EV_DONE, (uint32_t)m->nops});
  op->slot = slot;
  m->nops++;
}

/* Op who takes effect on its register. */
static void on_lin(sim_t *m, uint32_t who) {
  gop_t *op = &m->ops[who];
  int64_t *st = &m->state[op->key];
  if (op->f == G_READ) {
    if (op->outcome != OUT_INFO)
      op->result = *st;
  } else if (op->f == G_WRITE) {
    *st = op->a;
  } else if (*st == op->a) {
    *st = op->b;
    op->cas_ok = 1;
  }
}

/* Op who completes: its completion line, and its slot's next start. */
static void on_done(sim_t *m, uint32_t who) {
  gop_t *op = &m->ops[who];
  uint32_t slot = op->slot;
  if (op->f == G_CAS && op->outcome == OUT_OK && !op->cas_ok)
    op->outcome = OUT_FAIL;
  op->complete_line = (uint32_t)m->nlines + 1;
  m->lines[m->nlines++] = who << 1;
  if (op->outcome == OUT_INFO)
    m->proc[slot] += (int)m->o->procs; /* Jepsen: a crashed process is replaced */
  heap_push(&m->heap, (ev_t){op->complete_ns + fl_prng_below(&m->rng, 200000), m->seq++,
                             EV_START, slot});
}

/* Runs the simulation to its end: o->ops ops, every one completed. */
static void simulate(sim_t *m) {
  for (size_t s = 0; s < m->o->procs; s++) {
    m->proc[s] = (int)s;
    heap_push(&m->heap, (ev_t){1000 + fl_prng_below(&m->rng, 100000), m->seq++, EV_START,
                               (uint32_t)s});
  }
  while (m->heap.n > 0) {
    ev_t e = heap_pop(&m->heap);
    if (e.kind == EV_START)
      on_start(m, e.time, e.who);
    else if (e.kind == EV_LIN)
      on_lin(m, e.who);
    else
      on_done(m, e.who);
  }
}

/* Corrupts one ok read: stale when one of a few tried can be, else a value
 * never written. Fails when there is no ok read. */
static int corrupt_read(sim_t *m, fl_gen_info_t *info, fl_err_t *err) {
  gop_t *ops = m->ops;
  size_t nops = m->nops, nreads = 0;
  for (size_t i = 0; i < nops; i++)
    nreads += ops[i].f == G_READ && ops[i].outcome == OUT_OK;
  if (nreads == 0)
    return fl_err_set(err, FL_EUSAGE, "generator: no ok read to corrupt");
  /* Try a few reads for a stale value, from a random start. */
  size_t pick = SIZE_MAX, start = (size_t)fl_prng_below(&m->rng, nops);
  int64_t v = 0;
  for (size_t k = 0, tried = 0; k < nops && tried < 64; k++) {
    size_t i = (start + k) % nops;
    if (ops[i].f != G_READ || ops[i].outcome != OUT_OK)
      continue;
    if (pick == SIZE_MAX)
      pick = i;
    tried++;
    if ((v = stale_value(ops, nops, i)) != 0) {
      pick = i;
      break;
    }
  }
  if (info != NULL) {
    info->corrupted_op = pick;
    info->corrupted_line = ops[pick].complete_line;
    info->stale = v != 0;
  }
  ops[pick].result = v != 0 ? v : -1 - (int64_t)fl_prng_below(&m->rng, 1000);
  return 0;
}

int fl_gen_write(FILE *fp, const fl_gen_opts_t *o, fl_gen_info_t *info, fl_err_t *err) {
  if (o->procs == 0 || o->procs > 100000 || o->ops > 50000000 || o->keys > 1000000 ||
      o->read_rate < 0 || o->cas_rate < 0 || o->info_rate < 0 ||
      o->read_rate + o->cas_rate > 1 || o->info_rate > 1)
    return fl_err_set(err, FL_EUSAGE, "generator: bad options");
  sim_t m = {.o = o};
  fl_prng_seed(&m.rng, o->seed);
  m.nkeys = o->keys > 0 ? o->keys : 1;
  m.state = fl_calloc(m.nkeys, sizeof(int64_t));
  m.next_value = fl_calloc(m.nkeys, sizeof(int64_t));
  m.proc = fl_malloc(o->procs * sizeof(int));
  m.ops = fl_calloc(o->ops + 1, sizeof(gop_t));
  m.lines = fl_malloc((2 * o->ops + 1) * sizeof(uint32_t));
  simulate(&m);

  int r = 0;
  if (info != NULL)
    memset(info, 0, sizeof(*info));
  if (o->corrupt)
    r = corrupt_read(&m, info, err);
  if (r == 0) {
    for (size_t i = 0; i < m.nlines; i++)
      put_line(fp, o, &m.ops[m.lines[i] >> 1], (int)(m.lines[i] & 1));
    if (info != NULL)
      info->lines = m.nlines;
    if (ferror(fp))
      r = -EIO;
  }
  fl_free(m.heap.v);
  fl_free(m.lines);
  fl_free(m.ops);
  fl_free(m.proc);
  fl_free(m.next_value);
  fl_free(m.state);
  return r;
}
