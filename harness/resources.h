/* Resource use of one service, sampled on the loop about every 250 ms:
 * cumulative CPU seconds and resident memory, from the service's cgroup
 * when it has one (faults/cgroup.h: cpu.stat or cpuacct.usage, memory.stat)
 * or else from /proc for the processes of its process group (utime +
 * stime, RSS; CPU of a process that exits between two samples is lost;
 * one scan of /proc serves every service sampled within 100 ms of it).
 *
 * The series goes to report.json's services[i].resources {t_s, cpu_s,
 * rss_bytes}, with peak_rss_bytes and cpu_s (the total). It is bounded:
 * past FL_RES_MAX_POINTS samples, every other one is dropped and the
 * interval doubles. */
#ifndef FL_RESOURCES_H
#define FL_RESOURCES_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "base/timeline.h"
#include "faults/cgroup.h"

#define FL_RES_INTERVAL_MS 250
#define FL_RES_MAX_POINTS 4800

typedef struct fl_res_s fl_res_t;

/* Where the sampler reads the service: its cgroup (cg, may be NULL; sys
 * borrowed, must outlive r) and, without one, the process group whose
 * leader pid() returns (0 when the service is down). */
typedef int (*fl_res_pid_fn)(void *arg);

/* Returns new in *out and starts sampling (the timer does not keep the loop
 * alive). cg is copied; tl and arg are borrowed. */
int fl_res_new(fl_res_t **out, uv_loop_t *loop, fl_timeline_t *tl, const fl_cg_sys_t *sys,
               const char *cg, fl_res_pid_fn pid, void *arg);
/* Stops sampling; r is freed once its timer is closed (the loop must run).
 * NULL is fine. */
void fl_res_free(fl_res_t *r);

/* Takes one sample now (also recorded in the series). */
void fl_res_sample(fl_res_t *r);
/* CPU seconds used so far, sampled now. */
double fl_res_cpu_s(fl_res_t *r);
/* OOM kills the cgroup counted so far (0 without a cgroup), read now. */
int64_t fl_res_oom_kills(fl_res_t *r);
/* The highest RSS in the series at or after from_s (seconds of the run). */
int64_t fl_res_peak_since(const fl_res_t *r, double from_s);

/* Sets "resources", "peak_rss_bytes" and "cpu_s" in obj (a service's
 * report entry). */
void fl_res_to_json(const fl_res_t *r, json_t *obj);

/* The /proc reading, for the fallback and tests: the CPU (ns) and RSS
 * (bytes) of every process whose process group is pgid, summed. Returns the
 * number of processes found. */
int fl_res_proc_group(int pgid, int64_t *cpu_ns, int64_t *rss_bytes);

#endif
