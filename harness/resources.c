/* Resource sampling per service (resources.h). Reads small kernel files on
 * the loop: a cgroup's counters, or /proc/PID/stat of a process group. */
#include "harness/resources.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

#define MAX_PIDS 512

typedef struct {
  int pid;
  int64_t ns;
} pid_cpu_t;

struct fl_res_s {
  uv_timer_t timer;
  fl_timeline_t *tl;
  const fl_cg_sys_t *sys;
  char *cg;
  fl_res_pid_fn pid_fn;
  void *pid_arg;
  /* The series: n points of t (s), cpu (s), rss (bytes); one kept every
   * `stride` samples. */
  double *t, *cpu;
  int64_t *rss;
  size_t n;
  unsigned stride, tick;
  double cpu_s;     /* latest cumulative CPU seconds */
  int64_t peak_rss; /* over every sample, kept or not */
  /* The /proc fallback: each process's CPU at the last sample, so the
   * total only grows when processes come and go. */
  pid_cpu_t last[MAX_PIDS];
  int nlast;
  int64_t proc_ns;
};

/* Reads /proc/PID/stat: its process group, CPU (ns) and RSS (bytes).
 * Returns 0, or -1 when the process is gone or unreadable. */
static int proc_stat(int pid, int *pgrp, int64_t *cpu_ns, int64_t *rss) {
  static long hz, page;
  if (hz == 0) {
    hz = sysconf(_SC_CLK_TCK);
    page = sysconf(_SC_PAGESIZE);
    if (hz <= 0)
      hz = 100;
  }
  char p[64], buf[1024];
  snprintf(p, sizeof(p), "/proc/%d/stat", pid);
  FILE *f = fopen(p, "re");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *s = strrchr(buf, ')'); /* the name may hold spaces and ')' */
  unsigned long ut, st;
  long rs;
  if (s == NULL ||
      sscanf(s + 2,
             "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d "
             "%*d %*d %*d %*u %*u %ld",
             pgrp, &ut, &st, &rs) != 4)
    return -1;
  *cpu_ns = (int64_t)(ut + st) * (1000000000 / hz);
  *rss = (int64_t)rs * page;
  return 0;
}

/* One scan of /proc serves every service sampled within CACHE_NS of it:
 * ten services without cgroups cost one scan, not ten, per round. */
#define CACHE_NS 100000000ull
#define CACHE_MAX 8192

typedef struct {
  int pid, pgrp;
  int64_t ns, rss;
} proc_row_t;

static struct {
  proc_row_t rows[CACHE_MAX];
  int n;
  uint64_t at; /* uv_hrtime() of the scan, 0: never */
} cache;

static void rescan(void) {
  cache.n = 0;
  cache.at = uv_hrtime();
  DIR *d = opendir("/proc");
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && cache.n < CACHE_MAX) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    proc_row_t *r = &cache.rows[cache.n];
    r->pid = atoi(e->d_name);
    if (proc_stat(r->pid, &r->pgrp, &r->ns, &r->rss) == 0)
      cache.n++;
  }
  closedir(d);
}

/* Calls fn for each process whose process group is pgid. */
static int scan_group(int pgid, void (*fn)(int pid, int64_t ns, int64_t rss, void *a),
                      void *a) {
  if (cache.at == 0 || uv_hrtime() - cache.at > CACHE_NS)
    rescan();
  int found = 0;
  for (int i = 0; i < cache.n; i++)
    if (cache.rows[i].pgrp == pgid) {
      fn(cache.rows[i].pid, cache.rows[i].ns, cache.rows[i].rss, a);
      found++;
    }
  return found;
}

typedef struct {
  int64_t ns, rss;
} sum_t;

static void add_sum(int pid, int64_t ns, int64_t rss, void *a) {
  (void)pid;
  sum_t *s = a;
  s->ns += ns;
  s->rss += rss;
}

int fl_res_proc_group(int pgid, int64_t *cpu_ns, int64_t *rss_bytes) {
  sum_t s = {0, 0};
  int n = pgid > 0 ? scan_group(pgid, add_sum, &s) : 0;
  *cpu_ns = s.ns;
  *rss_bytes = s.rss;
  return n;
}

typedef struct {
  fl_res_t *r;
  pid_cpu_t now[MAX_PIDS];
  int n;
  int64_t rss;
} acc_t;

/* One process of the fallback's sample: what it used since the last. */
static void add_delta(int pid, int64_t ns, int64_t rss, void *a) {
  acc_t *acc = a;
  fl_res_t *r = acc->r;
  int64_t before = 0;
  for (int i = 0; i < r->nlast; i++)
    if (r->last[i].pid == pid)
      before = r->last[i].ns;
  if (ns > before)
    r->proc_ns += ns - before;
  acc->rss += rss;
  if (acc->n < MAX_PIDS)
    acc->now[acc->n++] = (pid_cpu_t){pid, ns};
}

static void read_proc(fl_res_t *r, int pgid, int64_t *cpu_ns, int64_t *rss) {
  acc_t acc = {.r = r};
  if (pgid > 0)
    scan_group(pgid, add_delta, &acc);
  memcpy(r->last, acc.now, sizeof(pid_cpu_t) * (size_t)acc.n);
  r->nlast = acc.n;
  *cpu_ns = r->proc_ns;
  *rss = acc.rss;
}

/* RSS of the processes listed in cg (a cgroup without a memory controller). */
static int64_t cg_pids_rss(const char *cg) {
  pid_t pids[MAX_PIDS];
  int n = fl_cgroup_pids(cg, pids, MAX_PIDS);
  int64_t total = 0;
  for (int i = 0; i < n && i < MAX_PIDS; i++) {
    int g;
    int64_t ns, rss;
    if (proc_stat(pids[i], &g, &ns, &rss) == 0)
      total += rss;
  }
  return total;
}

static void record(fl_res_t *r, double t, double cpu, int64_t rss) {
  if (rss > r->peak_rss)
    r->peak_rss = rss;
  if (r->tick++ % r->stride != 0)
    return;
  if (r->n == FL_RES_MAX_POINTS) { /* keep every other point */
    size_t k = 0;
    for (size_t i = 0; i < r->n; i += 2, k++) {
      r->t[k] = r->t[i];
      r->cpu[k] = r->cpu[i];
      r->rss[k] = r->rss[i];
    }
    r->n = k;
    r->stride *= 2;
  }
  r->t[r->n] = t;
  r->cpu[r->n] = cpu;
  r->rss[r->n] = rss;
  r->n++;
}

void fl_res_sample(fl_res_t *r) {
  int64_t cpu_ns = -1, rss = -1;
  if (r->cg != NULL) {
    fl_cg_stats_t st;
    fl_cgroup_stats(r->sys, r->cg, &st);
    cpu_ns = st.cpu_ns;
    rss = st.rss_bytes >= 0 ? st.rss_bytes : cg_pids_rss(r->cg);
  }
  if (cpu_ns < 0) { /* no cgroup, or no counter in it */
    int64_t prss;
    read_proc(r, r->pid_fn(r->pid_arg), &cpu_ns, &prss);
    if (rss < 0)
      rss = prss;
  }
  double cpu = cpu_ns / 1e9;
  if (cpu > r->cpu_s) /* cumulative: never backwards */
    r->cpu_s = cpu;
  record(r, fl_timeline_seconds(r->tl), r->cpu_s, rss < 0 ? 0 : rss);
}

static void on_tick(uv_timer_t *t) {
  fl_res_sample(fl_container_of(t, fl_res_t, timer));
}

int fl_res_new(fl_res_t **out, uv_loop_t *loop, fl_timeline_t *tl, const fl_cg_sys_t *sys,
               const char *cg, fl_res_pid_fn pid, void *arg) {
  fl_res_t *r = fl_calloc(1, sizeof(*r));
  r->tl = tl;
  r->sys = sys;
  r->cg = cg ? fl_strdup(cg) : NULL;
  r->pid_fn = pid;
  r->pid_arg = arg;
  r->stride = 1;
  r->t = fl_calloc(FL_RES_MAX_POINTS, sizeof(double));
  r->cpu = fl_calloc(FL_RES_MAX_POINTS, sizeof(double));
  r->rss = fl_calloc(FL_RES_MAX_POINTS, sizeof(int64_t));
  uv_timer_init(loop, &r->timer);
  uv_timer_start(&r->timer, on_tick, FL_RES_INTERVAL_MS, FL_RES_INTERVAL_MS);
  uv_unref((uv_handle_t *)&r->timer);
  *out = r;
  return 0;
}

static void res_closed(uv_handle_t *h) {
  fl_res_t *r = fl_container_of((uv_timer_t *)h, fl_res_t, timer);
  fl_free(r->cg);
  fl_free(r->t);
  fl_free(r->cpu);
  fl_free(r->rss);
  fl_free(r);
}

void fl_res_free(fl_res_t *r) {
  if (r == NULL)
    return;
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->timer, res_closed);
}

double fl_res_cpu_s(fl_res_t *r) {
  fl_res_sample(r);
  return r->cpu_s;
}

int64_t fl_res_oom_kills(fl_res_t *r) {
  if (r->cg == NULL)
    return 0;
  fl_cg_stats_t st;
  fl_cgroup_stats(r->sys, r->cg, &st);
  return st.oom_kills < 0 ? 0 : st.oom_kills;
}

int64_t fl_res_peak_since(const fl_res_t *r, double from_s) {
  int64_t peak = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->t[i] >= from_s && r->rss[i] > peak)
      peak = r->rss[i];
  return peak;
}

static json_t *r3(double v) {
  return json_real((double)(int64_t)(v * 1000 + 0.5) / 1000);
}

void fl_res_to_json(const fl_res_t *r, json_t *obj) {
  json_t *t = json_array(), *cpu = json_array(), *rss = json_array();
  for (size_t i = 0; i < r->n; i++) {
    json_array_append_new(t, r3(r->t[i]));
    json_array_append_new(cpu, r3(r->cpu[i]));
    json_array_append_new(rss, json_integer(r->rss[i]));
  }
  json_object_set_new(obj, "resources",
                      json_pack("{s:o, s:o, s:o, s:f}", "t_s", t, "cpu_s", cpu,
                                "rss_bytes", rss, "interval_s",
                                FL_RES_INTERVAL_MS / 1000.0 * r->stride));
  json_object_set_new(obj, "peak_rss_bytes", json_integer(r->peak_rss));
  json_object_set_new(obj, "cpu_s", r3(r->cpu_s));
}
