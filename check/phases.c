/* Availability and latency per phase of a run (check.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "check/check.h"

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted v[0..n), n > 0, in milliseconds. */
static double pct_ms(const uint64_t *v, size_t n, double p) {
  size_t rank = (size_t)ceil(p * (double)n);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return (double)v[rank - 1] / 1e6;
}

int fl_check_phases(const fl_ops_t *ops, const fl_phase_t *phases, size_t n, json_t **out,
                    fl_err_t *err) {
  *out = NULL;
  for (size_t i = 0; i < n; i++)
    if (phases[i].end_ns < phases[i].start_ns)
      return fl_err_set(err, FL_EUSAGE, "phase \"%s\" ends before it starts",
                        phases[i].name != NULL ? phases[i].name : "");

  uint64_t *lat = fl_malloc((ops->len + 1) * sizeof(*lat));
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) {
    const fl_phase_t *ph = &phases[i];
    size_t ok = 0, fail = 0, info = 0, nl = 0;
    uint64_t last = ph->start_ns;
    for (size_t j = 0; j < ops->len; j++) {
      const fl_op_t *op = &ops->v[j];
      if (op->invoke_ns < ph->start_ns || op->invoke_ns >= ph->end_ns)
        continue;
      if (op->type == FL_OP_OK) {
        ok++;
        lat[nl++] = op->complete_ns - op->invoke_ns;
      } else if (op->type == FL_OP_FAIL) {
        fail++;
      } else {
        info++;
      }
      if (op->complete_line != 0 && op->complete_ns > last)
        last = op->complete_ns;
    }
    size_t total = ok + fail + info;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(ph->name != NULL ? ph->name : ""));
    json_object_set_new(o, "start_s", json_real((double)ph->start_ns / 1e9));
    json_object_set_new(o, "end_s",
                        ph->end_ns == UINT64_MAX ? json_null()
                                                 : json_real((double)ph->end_ns / 1e9));
    json_object_set_new(o, "ok", json_integer((json_int_t)ok));
    json_object_set_new(o, "fail", json_integer((json_int_t)fail));
    json_object_set_new(o, "info", json_integer((json_int_t)info));
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    json_object_set_new(o, "availability",
                        total ? json_real((double)ok / (double)total) : json_null());
    if (nl > 0) {
      qsort(lat, nl, sizeof(*lat), u64_cmp);
      json_t *l = json_object();
      json_object_set_new(l, "p50", json_real(pct_ms(lat, nl, 0.50)));
      json_object_set_new(l, "p99", json_real(pct_ms(lat, nl, 0.99)));
      json_object_set_new(l, "max", json_real((double)lat[nl - 1] / 1e6));
      json_object_set_new(o, "latency_ms", l);
    } else {
      json_object_set_new(o, "latency_ms", json_null());
    }
    uint64_t end = ph->end_ns == UINT64_MAX ? last : ph->end_ns;
    json_object_set_new(o, "ok_per_s",
                        end > ph->start_ns
                            ? json_real((double)ok * 1e9 / (double)(end - ph->start_ns))
                            : json_null());
    json_array_append_new(list, o);
  }
  fl_free(lat);
  json_t *res = json_object();
  json_object_set_new(res, "model", json_string("phases"));
  json_object_set_new(res, "ops", json_integer((json_int_t)ops->len));
  json_object_set_new(res, "phases", list);
  *out = res;
  return 0;
}
