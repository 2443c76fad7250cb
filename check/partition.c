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

uint64_t fl_check_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
