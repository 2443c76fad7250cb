/* The suite scheduler: runs jobs, each one scenario of one file as its own
 * `faultline run FILE --only NAME --out DIR` process (so scenarios cannot
 * disturb one another), up to a number at a time, and the aggregated
 * outputs (summary.md, junit.xml) of their reports. `faultline suite`
 * (cmd_suite.c) plans the jobs; `faultline report merge` (cmd_merge.c)
 * writes the same outputs over several suites. */
#ifndef FL_SUITE_H
#define FL_SUITE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

typedef struct fl_suite_job_s {
  char *file; /* owned, like the three below */
  char *name;
  char *dir;      /* its run directory */
  char *slug;     /* dir relative to the suite's --out */
  int whole_file; /* the file could not be listed: run it whole (no --only),
                     so its error is a scenario of the outputs, not a line
                     on stderr that summary.md and junit.xml never show */
  uv_process_t proc;
  int started, done, code; /* code: the run's exit code, 2 if it died by a signal */
  double t0, took;
} fl_suite_job_t;

typedef struct fl_suite_opts_s {
  int max_jobs;        /* at least 1 */
  int fail_fast;       /* start no more jobs after one did not pass */
  const char *seed;    /* passed on as --seed (may be NULL) */
  const char *timeout; /* passed on as --timeout (may be NULL) */
} fl_suite_opts_t;

/* Runs the jobs on a loop of its own until all have ended (or, after
 * --fail-fast or SIGINT/SIGTERM, until the running ones have), printing a
 * line per finished job. Sets each job's started, done, code and took.
 * Each run's terminal output goes to <dir>.out. Returns 1 when interrupted
 * by a signal (the running jobs were sent SIGTERM), else 0. */
int fl_suite_run(fl_suite_job_t *jobs, size_t njobs, const fl_suite_opts_t *o);
/* Frees the jobs' strings and the array. Accepts NULL. */
void fl_suite_jobs_free(fl_suite_job_t *jobs, size_t njobs);

/* dir's report.json with "html" set to rel_html (may be NULL): new, or
 * NULL when it cannot be read. */
json_t *fl_suite_load_report(const char *dir, const char *rel_html);
/* Prints, when some of reports (borrowed) passed with findings, one line
 * saying how many and which ("findings: 1 scenario passed with findings:
 * loss (12 acknowledged write(s) lost)"), so a summary never reads as if
 * nothing was found. Prints nothing otherwise. */
void fl_suite_print_findings(const json_t *reports);

/* Writes out_dir/summary.md and junit (default out_dir/junit.xml) over the
 * reports (a JSON array, borrowed). Returns 0, or 2 (the exit code) with
 * the reason printed. */
int fl_suite_write_outputs(json_t *reports, const char *out_dir, const char *junit);

#endif
