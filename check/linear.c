/* Linearizability of registers per key (linear.h): decides each key with
 * the search in linear_search.c, and when one is not linearizable finds the
 * shortest prefix that is not and what to blame in it, then reports.
 * Stale reads are looked for first (stale.c), as the search can take long to
 * prove them under heavy concurrency. */
#include "check/linear.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/linear_int.h"
#include "check/check.h"
#include "check/partition.h"

#define MAX_CONCURRENT 32
#define MAX_BEFORE 3
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)
#define now_ns fl_check_now_ns

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
    fl_linear_run(c, idx, n, cps[probe].pos + 1, NONE, 0, &tmp);
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
    fl_linear_run(c, idx, n, cps[mid].pos + 1, NONE, 0, &tmp);
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
static uint32_t op_completed_at(const ctx_t *c, const uint32_t *idx, size_t n,
                                uint32_t pos) {
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
    fl_linear_run(c, idx, n, end + 1, eop, 0, &tmp);
    if ((tmp.status == R_INVALID || tmp.status == R_LIMIT) && tmp.stuck_op == eop &&
        tmp.stuck_pos == end) {
      memcpy(kr->states, tmp.states, sizeof(tmp.states));
      kr->nstates = tmp.nstates;
      kr->more_states = tmp.more_states;
      kr->lin = tmp.lin;
    }
  } else {
    fl_linear_run(c, idx, n, end + 1, NONE, 0, &tmp);
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
      if (op->type == FL_OP_FAIL && op->fk != FL_F_READ &&
          op->invoke_pos < x->complete_pos &&
          (op->fk == FL_F_WRITE ? c->va : c->vb)[op->index] == c->va[x->index] &&
          op->complete_pos > bound)
        bound = op->complete_pos;
    }
    fl_linear_run(c, idx, n, x->complete_pos, NONE, 1, &first);
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
  fl_linear_run(c, idx, n, UINT32_MAX, NONE, 1, &first);
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
    const char *sep = i == 0                                       ? ""
                      : (i + 1 == kr->nstates && !kr->more_states) ? " or "
                                                                   : ", ";
    int w = snprintf(buf + used, size - used, "%s%s", sep, val);
    if (w < 0)
      break;
    used += (size_t)w;
  }
  if (kr->more_states && used + 1 < size)
    snprintf(buf + used, size - used, " or others");
}

/* What x did, for a message: "read of key k by process 3 returned 2". */
static void op_what(const fl_op_t *x, char *what, size_t size) {
  char val[128], keypart[160];
  if (x->key != NULL)
    snprintf(keypart, sizeof(keypart), " of key %s", x->key);
  else
    keypart[0] = '\0';
  if (x->fk == FL_F_READ)
    snprintf(what, size, "read%s by process %d returned %s", keypart, x->process,
             fl_json_text(x->result, val, sizeof(val)));
  else if (x->fk == FL_F_CAS)
    snprintf(what, size, "cas %s%s by process %d succeeded",
             fl_json_text(x->value, val, sizeof(val)), keypart, x->process);
  else
    snprintf(what, size, "write %s%s by process %d",
             fl_json_text(x->value, val, sizeof(val)), keypart, x->process);
}

/* The message for x, which read a stale value st (what: op_what's text). */
static void stale_message(const fl_ops_t *ops, const fl_op_t *x, const fl_stale_t *st,
                          const char *what, char *msg, size_t size) {
  const fl_op_t *p = st->producer != FL_STALE_NONE ? &ops->v[st->producer] : NULL;
  const fl_op_t *t = st->overwriter != FL_STALE_NONE ? &ops->v[st->overwriter] : NULL;
  char pv[128], tv[128];
  if (t != NULL)
    fl_json_text(t->fk == FL_F_CAS ? json_array_get(t->value, 1) : t->value, tv,
                 sizeof(tv));
  if (p != NULL && t != NULL) {
    fl_json_text(p->fk == FL_F_CAS ? json_array_get(p->value, 1) : p->value, pv,
                 sizeof(pv));
    snprintf(msg, size,
             "%s, a stale value: process %d's %s %s %s (completed at %.6f s) was "
             "overwritten by process %d's %s %s %s, which began after it and completed "
             "(at %.6f s) before the %s began (at %.6f s)",
             what, p->process, p->f, p->fk == FL_F_CAS ? "to" : "of", pv,
             (double)p->complete_ns / 1e9, t->process, t->f,
             t->fk == FL_F_CAS ? "to" : "of", tv, (double)t->complete_ns / 1e9, x->f,
             (double)x->invoke_ns / 1e9);
  } else if (t != NULL) {
    snprintf(msg, size,
             "%s, but no write of that value %s, and process %d's %s %s %s completed (at "
             "%.6f s) before the %s began",
             what,
             x->fk == FL_F_READ && json_is_null(x->result)
                 ? "happened (null is the initial value)"
                 : "began before it completed",
             t->process, t->f, t->fk == FL_F_CAS ? "to" : "of", tv,
             (double)t->complete_ns / 1e9, x->f);
  } else {
    snprintf(msg, size, "%s, a value that no write began to write before it completed",
             what);
  }
}

/* The anomaly's message: what x did and why no linearization allows it. */
static void anomaly_message(const ctx_t *c, const keyres_t *kr, char *msg, size_t size) {
  const fl_ops_t *ops = c->ops;
  const fl_op_t *x = &ops->v[kr->stuck_op];
  char what[512], vals[512], val[128];
  op_what(x, what, sizeof(what));
  if (kr->has_stale) {
    stale_message(ops, x, &kr->stale, what, msg, size);
  } else if (kr->nstates > 0) {
    values_text(c, kr, vals, sizeof(vals));
    snprintf(msg, size, "%s, but the register could only hold %s at that point", what,
             vals);
  } else {
    snprintf(msg, size, "%s, which no linearization of the operations before it allows",
             what);
  }
  const fl_op_t *end_op = &ops->v[kr->end_op];
  if (end_op != x && end_op->type == FL_OP_FAIL) {
    size_t used = strlen(msg);
    snprintf(msg + used, size - used,
             " (once process %d's %s %s failed, on line %" PRIu32 ")", end_op->process,
             end_op->f, fl_json_text(end_op->value, val, sizeof(val)),
             end_op->complete_line);
  }
}

/* Adds to a "concurrent", the operations whose interval overlaps x's (an
 * info op's interval ends, for this list, at its info line), at most
 * MAX_CONCURRENT of them, those invoked nearest to x; and "before", the last
 * MAX_BEFORE acknowledged writes completed before x began. */
static void add_neighbours(json_t *a, const fl_ops_t *ops, const uint32_t *idx, size_t n,
                           const fl_op_t *x) {
  uint32_t *conc = fl_malloc((n + 1) * sizeof(*conc)), before[MAX_BEFORE];
  size_t nc = 0, nb = 0, mid = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op == x || op->type == FL_OP_FAIL ||
        (op->fk == FL_F_READ && op->type != FL_OP_OK))
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
}

static json_t *anomaly_json(const ctx_t *c, const uint32_t *idx, size_t n,
                            const keyres_t *kr) {
  const fl_ops_t *ops = c->ops;
  const fl_op_t *x = &ops->v[kr->stuck_op];
  json_t *a = json_object();
  json_object_set_new(a, "key", x->key != NULL ? json_string(x->key) : json_null());
  json_object_set_new(a, "op", fl_op_to_json(x));
  char msg[2048];
  anomaly_message(c, kr, msg, sizeof(msg));
  json_object_set_new(a, "message", json_string(msg));

  json_t *pv = json_array();
  for (uint32_t i = 0; i < kr->nstates; i++)
    json_array_append(pv, (json_t *)c->vjson[kr->states[i]]);
  json_object_set_new(a, "possible_values", pv);
  json_object_set_new(a, "possible_values_complete", json_boolean(!kr->more_states));
  if (kr->has_stale && kr->stale.producer != FL_STALE_NONE)
    json_object_set_new(a, "written_by", fl_op_to_json(&ops->v[kr->stale.producer]));
  if (kr->has_stale && kr->stale.overwriter != FL_STALE_NONE)
    json_object_set_new(a, "overwritten_by",
                        fl_op_to_json(&ops->v[kr->stale.overwriter]));

  add_neighbours(a, ops, idx, n, x);
  json_object_set_new(a, "linearized_prefix", json_integer(kr->lin));
  const fl_op_t *eop = &ops->v[kr->end_op];
  json_object_set_new(a, "prefix_end_line", json_integer(eop->complete_line));
  if (eop != x)
    json_object_set_new(a, "ended_by", fl_op_to_json(eop));
  json_object_set_new(a, "prefix_exact", json_boolean(kr->exact));
  return a;
}

/* What the keys' searches found, gathered for the report. */
typedef struct {
  json_t *invalid, *unknown; /* key lists */
  json_t *anomaly;           /* the earliest one, or NULL */
  uint32_t anomaly_pos;
  const char *reason; /* why some keys are unknown, or NULL */
  size_t nkeys;
} verdict_t;

/* Checks every key in turn; once a budget is spent the rest are unknown. */
static void check_keys(ctx_t *c, verdict_t *vd) {
  const fl_ops_t *ops = c->ops;
  fl_partition_t part;
  fl_partition_by_key(ops, &part);
  const size_t *start = part.start;
  const uint32_t *idx = part.idx;
  for (size_t p = 0; p < part.np; p++) {
    size_t n = start[p + 1] - start[p];
    if (n == 0)
      continue;
    vd->nkeys++;
    json_t *jkey = fl_partition_key_json(ops, p);
    if (vd->reason != NULL) {
      json_array_append_new(vd->unknown, jkey); /* the budget is already spent */
      continue;
    }
    keyres_t kr;
    check_key(c, idx + start[p], n, &kr);
    if (kr.status == R_INVALID) {
      json_array_append_new(vd->invalid, jkey);
      if (kr.stuck_pos < vd->anomaly_pos) {
        json_decref(vd->anomaly);
        vd->anomaly = anomaly_json(c, idx + start[p], n, &kr);
        vd->anomaly_pos = kr.stuck_pos;
      }
    } else if (kr.status != R_VALID) {
      json_array_append_new(vd->unknown, jkey);
      vd->reason = kr.status == R_TIME  ? "time budget spent"
                   : kr.status == R_MEM ? "memory budget spent"
                                        : "canceled";
    } else {
      json_decref(jkey);
    }
  }
  fl_partition_free(&part);
}

/* The report's object; takes the verdict's lists and anomaly. */
static json_t *verdict_json(const ctx_t *c, verdict_t *vd, const fl_check_opts_t *opts) {
  json_t *o = json_object();
  if (json_array_size(vd->invalid) > 0)
    json_object_set_new(o, "valid", json_false());
  else if (vd->reason != NULL)
    json_object_set_new(o, "valid", json_string("unknown"));
  else
    json_object_set_new(o, "valid", json_true());
  json_object_set_new(o, "model", json_string(fl_linear_model_name(c->model)));
  json_object_set_new(o, "ops", json_integer((json_int_t)c->ops->len));
  json_object_set_new(o, "keys", json_integer((json_int_t)vd->nkeys));
  json_object_set_new(o, "checked_ops", json_integer((json_int_t)c->checked));
  json_object_set_new(o, "dropped_info", json_integer((json_int_t)c->dropped));
  json_object_set_new(o, "configurations", json_integer((json_int_t)c->configs));
  if (json_array_size(vd->invalid) > 0) {
    json_object_set_new(o, "invalid_keys", vd->invalid);
    json_object_set_new(o, "anomaly", vd->anomaly);
    vd->anomaly = NULL;
  } else {
    json_decref(vd->invalid);
  }
  if (vd->reason != NULL) {
    char why[160];
    if (opts != NULL && opts->timeout_s > 0 &&
        strcmp(vd->reason, "time budget spent") == 0)
      snprintf(why, sizeof(why),
               "time budget of %g s spent before %zu key(s) were decided",
               opts->timeout_s, json_array_size(vd->unknown));
    else
      snprintf(why, sizeof(why), "%s before %zu key(s) were decided", vd->reason,
               json_array_size(vd->unknown));
    json_object_set_new(o, "reason", json_string(why));
    json_object_set_new(o, "unknown_keys", vd->unknown);
  } else {
    json_decref(vd->unknown);
  }
  json_decref(vd->anomaly);
  return o;
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
  c.max_memory =
      opts != NULL && opts->max_memory > 0 ? opts->max_memory : DEFAULT_MAX_MEMORY;

  int r = load_values(&c, err);
  if (r == 0) {
    c.stamp = fl_calloc(c.nvjson + 1, sizeof(uint32_t));
    c.need = fl_calloc(c.nvjson + 1, sizeof(uint32_t));
    c.prod = fl_calloc(c.nvjson + 1, sizeof(uint32_t));
    verdict_t vd = {json_array(), json_array(), NULL, UINT32_MAX, NULL, 0};
    check_keys(&c, &vd);
    json_t *o = verdict_json(&c, &vd, opts);
    json_object_set_new(o, "elapsed_s", json_real((double)(now_ns() - t0) / 1e9));
    *out = o;
  }
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

/* The row of register, cas-register and kv (models.c). */
fl_checker_fn fl_checker_linear;
int fl_checker_linear(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                      json_t **out, fl_err_t *err) {
  fl_linear_model_t m;
  if (fl_linear_model_parse(model, &m) != 0)
    return fl_err_set(err, FL_EUSAGE, "unknown model \"%s\"", model);
  return fl_check_linear(ops, m, opts, out, err);
}
