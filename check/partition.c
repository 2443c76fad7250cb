#include "check/partition.h"

#include <string.h>
#include <time.h>

#include "base/alloc.h"

void fl_partition_by_key(const fl_ops_t *ops, fl_partition_t *out) {
  size_t np = ops->nkeys + 1;
  out->np = np;
  out->start = fl_calloc(np + 1, sizeof(size_t));
  out->idx = fl_malloc((ops->len + 1) * sizeof(uint32_t));
  for (size_t i = 0; i < ops->len; i++) {
    uint32_t k = ops->v[i].key_id;
    out->start[(k == FL_NO_KEY ? ops->nkeys : k) + 1]++;
  }
  for (size_t p = 0; p < np; p++)
    out->start[p + 1] += out->start[p];
  size_t *fill = fl_malloc(np * sizeof(size_t));
  memcpy(fill, out->start, np * sizeof(size_t));
  for (size_t i = 0; i < ops->len; i++) {
    uint32_t k = ops->v[i].key_id;
    out->idx[fill[k == FL_NO_KEY ? ops->nkeys : k]++] = (uint32_t)i;
  }
  fl_free(fill);
}

void fl_partition_free(fl_partition_t *p) {
  fl_free(p->start);
  fl_free(p->idx);
  memset(p, 0, sizeof(*p));
}

size_t fl_partition_count(const fl_partition_t *p) {
  size_t n = 0;
  for (size_t i = 0; i < p->np; i++)
    n += p->start[i + 1] > p->start[i];
  return n;
}

json_t *fl_partition_key_json(const fl_ops_t *ops, size_t p) {
  return p < ops->nkeys ? json_string(ops->keys[p]) : json_null();
}

int fl_check_per_key(const fl_ops_t *ops, const fl_per_key_t *m, json_t **out,
                     fl_err_t *err) {
  *out = NULL;
  uint64_t t0 = fl_check_now_ns();
  fl_partition_t part;
  fl_partition_by_key(ops, &part);
  size_t nkeys = fl_partition_count(&part);
  json_t *result = NULL, *by_key = json_object();
  void *sum = fl_calloc(1, m->totals_size), *t = fl_malloc(m->totals_size);
  int r = 0, all_read = 1;
  for (size_t p = 0; p < part.np; p++) {
    size_t n = part.start[p + 1] - part.start[p];
    if (n == 0)
      continue;
    json_t *o = NULL;
    memset(t, 0, m->totals_size);
    r = m->check_key(ops, part.idx + part.start[p], n, &o, t, err);
    if (r != 0)
      break;
    all_read &= m->add(sum, t);
    if (nkeys == 1) {
      result = o;
    } else {
      json_t *key = fl_partition_key_json(ops, p);
      json_object_set_new(by_key, json_is_string(key) ? json_string_value(key) : "", o);
      json_decref(key);
    }
  }
  fl_partition_free(&part);
  if (r == 0 && result == NULL) {
    result = m->summary(sum, all_read && nkeys > 0, nkeys);
    if (nkeys > 1) {
      json_object_set_new(result, "by_key", by_key);
      by_key = NULL;
    }
  }
  json_decref(by_key);
  fl_free(sum);
  fl_free(t);
  if (r != 0) {
    json_decref(result);
    return r;
  }
  json_object_set_new(result, "model", json_string(m->model));
  json_object_set_new(result, "ops", json_integer((json_int_t)ops->len));
  json_object_set_new(result, "keys", json_integer((json_int_t)nkeys));
  json_object_set_new(result, "elapsed_s",
                      json_real((double)(fl_check_now_ns() - t0) / 1e9));
  *out = result;
  return 0;
}

uint64_t fl_check_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
