/* Doomed reads (stale.h).
 *
 * A read R of value v (or a cas whose old value is v) takes effect while the
 * register holds v, so the last write before it wrote v: some producer P of
 * v (a write of v, a cas to v, or the initial null) invoked before R
 * completed. P is ruled out when an acknowledged write W2 of another value
 * began after P completed and completed before R began: every linearization
 * orders P < W2 < R. When every producer is ruled out, R is doomed and the
 * history is not linearizable, whatever the search would find.
 *
 * For each R this needs T(R, v): the latest-invoked acknowledged write of a
 * value other than v among those that completed before R began. Sweeping the
 * needers by invoke position over the writes sorted by completion, and
 * keeping the two latest-invoked writes of distinct values, gives it in O(1).
 * A producer P (invoked before R completed) survives when it completed after
 * T began; info and pending producers never complete. */
#include "check/stale.h"

#include <stdlib.h>

#include "base/alloc.h"

#define INF UINT32_MAX

typedef struct {
  uint32_t key;  /* sort key */
  uint32_t ipos; /* invoke position */
  uint32_t cpos; /* completion position, INF for info and pending */
  uint32_t val;
  uint32_t op;
} item_t;

static int by_key(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->ipos < y->ipos ? -1 : x->ipos > y->ipos;
}

int fl_stale_find(const fl_ops_t *ops, const uint32_t *idx, size_t n, const uint32_t *va,
                  const uint32_t *vb, uint32_t null_id, fl_stale_t *out) {
  item_t *over = fl_malloc((n + 1) * sizeof(*over));
  item_t *prod = fl_malloc((n + 1) * sizeof(*prod));
  item_t *need = fl_malloc((n + 1) * sizeof(*need));
  size_t no = 0, np = 0, nn = 0;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->type == FL_OP_FAIL)
      continue;
    int ok = op->type == FL_OP_OK;
    uint32_t cpos = ok ? op->complete_pos : INF;
    if (op->fk == FL_F_WRITE || op->fk == FL_F_CAS) {
      uint32_t v = op->fk == FL_F_WRITE ? va[op->index] : vb[op->index];
      /* Producers sorted by (value, invoke); overwriters by completion. */
      prod[np++] = (item_t){v, op->invoke_pos, cpos, v, op->index};
      if (ok)
        over[no++] = (item_t){op->complete_pos, op->invoke_pos, cpos, v, op->index};
    }
    if (ok && (op->fk == FL_F_READ || op->fk == FL_F_CAS))
      need[nn++] =
          (item_t){op->invoke_pos, op->invoke_pos, cpos, va[op->index], op->index};
  }
  qsort(over, no, sizeof(*over), by_key);
  qsort(prod, np, sizeof(*prod), by_key);
  /* need is in invoke order already (idx is). Turn prod's cpos into a
   * running maximum within each value, remembering which op holds it. */
  uint32_t *best = fl_malloc((np + 1) * sizeof(*best));
  for (size_t i = 0; i < np; i++) {
    best[i] = (uint32_t)i;
    if (i > 0 && prod[i - 1].val == prod[i].val && prod[best[i - 1]].cpos >= prod[i].cpos)
      best[i] = best[i - 1];
  }

  int found = 0;
  size_t j = 0;
  const item_t *b1 = NULL, *b2 = NULL; /* latest invoked, and of another value */
  for (size_t i = 0; i < nn; i++) {
    const item_t *r = &need[i];
    for (; j < no && over[j].key < r->ipos; j++) {
      const item_t *o = &over[j];
      if (b1 == NULL || o->ipos > b1->ipos) {
        if (b1 != NULL && o->val != b1->val)
          b2 = b1;
        b1 = o;
      } else if (o->val != b1->val && (b2 == NULL || o->ipos > b2->ipos)) {
        b2 = o;
      }
    }
    const item_t *t = b1 != NULL && b1->val != r->val ? b1 : b2;
    const fl_op_t *rop = &ops->v[r->op];
    if (found && rop->complete_pos >= ops->v[out->needer].complete_pos)
      continue;
    /* The last producer of r's value invoked before r completed. */
    size_t lo = 0, hi = np;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (prod[mid].val < r->val || (prod[mid].val == r->val && prod[mid].ipos < r->cpos))
        lo = mid + 1;
      else
        hi = mid;
    }
    const item_t *p = lo > 0 && prod[lo - 1].val == r->val ? &prod[best[lo - 1]] : NULL;
    int viable;
    if (t == NULL)
      viable = p != NULL || r->val == null_id;
    else
      viable = p != NULL && p->cpos > t->ipos;
    if (viable)
      continue;
    found = 1;
    out->needer = r->op;
    out->producer = p != NULL ? p->op : FL_STALE_NONE;
    out->overwriter = t != NULL ? t->op : FL_STALE_NONE;
  }
  fl_free(best);
  fl_free(over);
  fl_free(prod);
  fl_free(need);
  return found;
}
