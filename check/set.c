/* The set checker: adds, then a final read of the whole set (check.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "check/check.h"
#include "check/intern.h"
#include "check/partition.h"

#define MAX_LISTED 100
#define MAX_LISTED_OPS 100 /* report.html lists them all, with their times */

enum { SEEN_NONE = 0, SEEN_FAIL, SEEN_INFO, SEEN_OK };

typedef struct {
  uint8_t best;       /* the best outcome among the adds of this element */
  uint8_t ok_before;  /* an ok add completed before the final read began */
  uint32_t count;     /* occurrences in the final read */
  const json_t *v;    /* borrowed */
  const fl_op_t *ack; /* an ok add of it */
} elem_t;

typedef struct {
  size_t attempts, acknowledged, read_count, ok_count, lost, unexpected, duplicates,
      info_seen, info_lost, concurrent_missing;
  int has_read;
} totals_t;

static void list_add(json_t *list, size_t *count, const json_t *v) {
  if (json_array_size(list) < MAX_LISTED)
    json_array_append(list, (json_t *)v);
  (*count)++;
}

static void set_counts(json_t *o, const totals_t *t) {
  json_object_set_new(o, "attempts", json_integer((json_int_t)t->attempts));
  json_object_set_new(o, "acknowledged", json_integer((json_int_t)t->acknowledged));
  json_object_set_new(o, "read_count", json_integer((json_int_t)t->read_count));
  json_object_set_new(o, "ok_count", json_integer((json_int_t)t->ok_count));
  json_object_set_new(o, "lost_count", json_integer((json_int_t)t->lost));
  json_object_set_new(o, "unexpected_count", json_integer((json_int_t)t->unexpected));
  json_object_set_new(o, "duplicates_count", json_integer((json_int_t)t->duplicates));
  json_object_set_new(o, "indeterminate_seen_count",
                      json_integer((json_int_t)t->info_seen));
  json_object_set_new(o, "indeterminate_lost_count",
                      json_integer((json_int_t)t->info_lost));
  json_object_set_new(o, "concurrent_missing_count",
                      json_integer((json_int_t)t->concurrent_missing));
}

/* Up to 5 elements of list, comma separated, into buf. */
static void sample(const json_t *list, size_t count, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < json_array_size(list) && i < 5 && used + 1 < size; i++) {
    char v[48];
    fl_json_text(json_array_get(list, i), v, sizeof(v));
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", v);
    if (w < 0)
      break;
    used += (size_t)w;
  }
  if (count > 5 && used + 1 < size)
    snprintf(buf + used, size - used, ", ...");
}

static const char *plural(size_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

static void set_message(json_t *o, const totals_t *t, const json_t *lost,
                        const json_t *unexpected, const json_t *dups) {
  char msg[1024], s[256];
  size_t used = 0;
  msg[0] = '\0';
  if (!t->has_read) {
    snprintf(msg, sizeof(msg), "the set was never read successfully (%zu adds attempted)",
             t->attempts);
  } else if (t->lost + t->unexpected + t->duplicates == 0) {
    snprintf(msg, sizeof(msg),
             "all %zu acknowledged adds were read (%zu of %zu indeterminate adds seen)",
             t->acknowledged - t->concurrent_missing, t->info_seen,
             t->info_seen + t->info_lost);
  } else {
    if (t->lost > 0 && lost != NULL) {
      sample(lost, t->lost, s, sizeof(s));
      used += (size_t)snprintf(msg + used, sizeof(msg) - used,
                               "%zu acknowledged %s lost (%s)", t->lost,
                               plural(t->lost, "add", "adds"), s);
    } else if (t->lost > 0) {
      used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%zu acknowledged %s lost",
                               t->lost, plural(t->lost, "add", "adds"));
    }
    if (t->unexpected > 0 && used < sizeof(msg)) {
      if (unexpected != NULL)
        sample(unexpected, t->unexpected, s, sizeof(s));
      used += (size_t)snprintf(
          msg + used, sizeof(msg) - used, "%s%zu unexpected %s%s%s%s", used ? "; " : "",
          t->unexpected, plural(t->unexpected, "element", "elements"),
          unexpected ? " (" : "", unexpected ? s : "", unexpected ? ")" : "");
    }
    if (t->duplicates > 0 && used < sizeof(msg)) {
      if (dups != NULL)
        sample(dups, t->duplicates, s, sizeof(s));
      snprintf(msg + used, sizeof(msg) - used, "%s%zu %s read more than once%s%s%s",
               used ? "; " : "", t->duplicates,
               plural(t->duplicates, "element", "elements"), dups ? " (" : "",
               dups ? s : "", dups ? ")" : "");
    }
  }
  json_object_set_new(o, "message", json_string(msg));
}

static json_t *valid_json(const totals_t *t) {
  if (t->lost + t->unexpected + t->duplicates > 0)
    return json_false();
  return t->has_read ? json_true() : json_string("unknown");
}

/* Checks that every op is a set op and every ok read an array; sets *final
 * to the ok read completed last (NULL when none). */
static int validate_ops(const fl_ops_t *ops, const uint32_t *idx, size_t n,
                        const fl_op_t **final, fl_err_t *err) {
  *final = NULL;
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk != FL_F_ADD && op->fk != FL_F_READ)
      return fl_err_set(err, FL_EPARSE,
                        "%s:%" PRIu32 ": f \"%s\" is not an operation of the set model "
                        "(add, read)",
                        ops->name, op->invoke_line, op->f);
    if (op->fk == FL_F_READ && op->type == FL_OP_OK) {
      if (!json_is_array(op->result))
        return fl_err_set(err, FL_EPARSE,
                          "%s:%" PRIu32 ": a set read's value must be an array",
                          ops->name, op->complete_line);
      if (*final == NULL || op->complete_pos > (*final)->complete_pos)
        *final = op;
    }
  }
  return 0;
}

/* Interns every element into tab, the adds' first (*nattempted of them),
 * then the final read's; returns what is known of each, and counts the
 * adds into t. */
static elem_t *tally_elements(const fl_ops_t *ops, const uint32_t *idx, size_t n,
                              const fl_op_t *final, fl_intern_t *tab, size_t *nattempted,
                              totals_t *t) {
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk == FL_F_ADD)
      fl_intern_json(tab, op->value);
  }
  *nattempted = tab->n;
  size_t nread = final != NULL ? json_array_size(final->result) : 0;
  for (size_t i = 0; i < nread; i++)
    fl_intern_json(tab, json_array_get(final->result, i));
  elem_t *el = fl_calloc(tab->n + 1, sizeof(*el));
  for (size_t i = 0; i < n; i++) {
    const fl_op_t *op = &ops->v[idx[i]];
    if (op->fk != FL_F_ADD)
      continue;
    elem_t *e = &el[fl_intern_json(tab, op->value)];
    e->v = op->value;
    uint8_t seen = op->type == FL_OP_OK     ? SEEN_OK
                   : op->type == FL_OP_INFO ? SEEN_INFO
                                            : SEEN_FAIL;
    if (seen > e->best)
      e->best = seen;
    if (op->type == FL_OP_OK && final != NULL && op->complete_pos < final->invoke_pos)
      e->ok_before = 1;
    if (op->type == FL_OP_OK && e->ack == NULL)
      e->ack = op;
    t->attempts++;
    if (op->type == FL_OP_OK)
      t->acknowledged++;
  }
  for (size_t i = 0; i < nread; i++) {
    const json_t *v = json_array_get(final->result, i);
    elem_t *e = &el[fl_intern_json(tab, v)];
    if (e->v == NULL)
      e->v = v;
    e->count++;
  }
  return el;
}

/* One key's element lists. */
typedef struct {
  json_t *lost, *unexpected, *dups, *info_seen, *lost_adds;
} lists_t;

/* Sorts each of the nel elements (the first nattempted added) into the lists
 * and counts them into k. */
static void classify(const elem_t *el, size_t nel, size_t nattempted, int has_final,
                     lists_t *l, totals_t *k) {
  for (size_t id = 0; id < nel; id++) {
    const elem_t *e = &el[id];
    int seen = e->count > 0;
    if (seen)
      k->read_count++;
    if (e->count > 1)
      list_add(l->dups, &k->duplicates, e->v);
    if (id >= nattempted || e->best == SEEN_FAIL) {
      if (seen)
        list_add(l->unexpected, &k->unexpected, e->v);
      continue;
    }
    if (e->best == SEEN_OK) {
      if (seen)
        k->ok_count++;
      else if (e->ok_before) {
        list_add(l->lost, &k->lost, e->v);
        if (json_array_size(l->lost_adds) < MAX_LISTED_OPS)
          json_array_append_new(l->lost_adds, fl_op_to_json(e->ack));
      } else if (has_final)
        k->concurrent_missing++;
    } else if (seen) {
      list_add(l->info_seen, &k->info_seen, e->v);
    } else {
      k->info_lost++;
    }
  }
}

/* fl_per_key_t's check_key: one key's report and totals. */
static int check_key(const fl_ops_t *ops, const uint32_t *idx, size_t n, json_t **out,
                     void *totals, fl_err_t *err) {
  totals_t *t = totals;
  const fl_op_t *final;
  int r = validate_ops(ops, idx, n, &final, err);
  if (r != 0)
    return r;
  fl_intern_t tab;
  fl_intern_init(&tab);
  size_t nattempted;
  elem_t *el = tally_elements(ops, idx, n, final, &tab, &nattempted, t);

  lists_t l = {json_array(), json_array(), json_array(), json_array(), json_array()};
  totals_t k;
  memset(&k, 0, sizeof(k));
  k.attempts = t->attempts;
  k.acknowledged = t->acknowledged;
  k.has_read = final != NULL;
  classify(el, tab.n, nattempted, final != NULL, &l, &k);
  *t = k;

  json_t *o = json_object();
  json_object_set_new(o, "valid", valid_json(&k));
  set_counts(o, &k);
  set_message(o, &k, l.lost, l.unexpected, l.dups);
  json_object_set_new(o, "lost", l.lost);
  json_object_set_new(o, "lost_adds", l.lost_adds);
  json_object_set_new(o, "unexpected", l.unexpected);
  json_object_set_new(o, "duplicates", l.dups);
  json_object_set_new(o, "indeterminate_seen", l.info_seen);
  json_object_set_new(o, "final_read",
                      final != NULL ? fl_op_to_json(final) : json_null());
  *out = o;
  fl_free(el);
  fl_intern_free(&tab);
  return 0;
}

/* fl_per_key_t's add: a key's totals into the sums. */
static int add_totals(void *sum, const void *key) {
  totals_t *s = sum;
  const totals_t *t = key;
  s->attempts += t->attempts;
  s->acknowledged += t->acknowledged;
  s->read_count += t->read_count;
  s->ok_count += t->ok_count;
  s->lost += t->lost;
  s->unexpected += t->unexpected;
  s->duplicates += t->duplicates;
  s->info_seen += t->info_seen;
  s->info_lost += t->info_lost;
  s->concurrent_missing += t->concurrent_missing;
  return t->has_read;
}

/* fl_per_key_t's summary: the report of zero or several keys (the totals). */
static json_t *summary(void *sum, int all_read, size_t nkeys) {
  totals_t *s = sum;
  (void)nkeys;
  s->has_read = all_read;
  json_t *result = json_object();
  json_object_set_new(result, "valid", valid_json(s));
  set_counts(result, s);
  set_message(result, s, NULL, NULL, NULL);
  return result;
}

int fl_check_set(const fl_ops_t *ops, json_t **out, fl_err_t *err) {
  static const fl_per_key_t m = {"set", sizeof(totals_t), check_key, add_totals, summary};
  return fl_check_per_key(ops, &m, out, err);
}

/* The row of set (models.c). */
fl_checker_fn fl_checker_set;
int fl_checker_set(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                   json_t **out, fl_err_t *err) {
  return fl_check_set(ops, out, err);
}
