/* What the report writers share between their files; not for use outside
 * reports/. Names start with fl__ (libuv's uv__ convention). */
#ifndef FL_REPORT_INTERNAL_H
#define FL_REPORT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

/* Bounds on what one rendering reads and writes. */
#define FL__HTML_MAX (48u << 20)      /* report.html */
#define FL__TEXT_MAX (16u << 20)      /* junit.xml, summary.md */
#define FL__HIST_MAX_OPS 1000000u     /* operations read from history.jsonl */
#define FL__HIST_MAX_LINE (16u << 20) /* longest history line parsed */
#define FL__MSG_MAX 4000u             /* a check's message, as shown */

/* ---- report.json accessors (model.c). All tolerate NULL objects and fields
 * of the wrong type, returning the default. Returned values are borrowed. */
const char *fl__jstr(const json_t *o, const char *key, const char *def);
/* A number (integer or real) field, or def. */
double fl__jnum(const json_t *o, const char *key, double def);
int fl__jisnum(const json_t *o, const char *key);
json_t *fl__jarr(const json_t *o, const char *key);
json_t *fl__jobj(const json_t *o, const char *key);
/* The end of the report's time axis: duration_s, or the latest time any
 * state, fault or check mentions, whichever is later; at least 1e-3. */
double fl__report_end(const json_t *report);
/* Returns new: the re-run command ("command", or one built from file, seed
 * and scenario when it is missing). */
char *fl__rerun_command(const json_t *report);
/* Returns new: dir/rel, or rel when it is absolute or dir is NULL/empty. */
char *fl__path_join(const char *dir, const char *rel);
/* Returns new: where report's report.html is, as a link from a file written
 * at out_path (junit.xml, summary.md): its "html" field joined to its
 * "run_dir" and made relative to out_path's directory. When that file does
 * not exist but "html" does beside out_path (a run directory re-rendered
 * from elsewhere), "html" as given. NULL when the report names neither. */
char *fl__report_link(const json_t *report, const char *out_path);
/* Returns new: the log file of service svc, under run_dir (may be NULL):
 * its "log" field, else logs/<name>.log. */
char *fl__service_log(const json_t *svc, const char *run_dir);
/* Formats a size for people ("812 KiB", "45.6 MiB", "1.20 GiB") into out. */
const char *fl__fmt_bytes(char *out, size_t n, double bytes);
/* A service's resource figures (report.json services[i]): peak_rss_bytes
 * and cpu_s, -1 when the report has none (an older one). */
double fl__svc_peak_rss(const json_t *svc);
double fl__svc_cpu_s(const json_t *svc);
/* A service's peak RSS ("45.6 MiB") and CPU seconds ("3.11") as text into
 * rss and cpu (each n bytes), "–" for a figure the report lacks. */
void fl__svc_resource_text(const json_t *svc, char *rss, char *cpu, size_t n);
/* Whether any service of the report has resource figures. */
int fl__report_has_resources(const json_t *report);
/* Formats seconds for people ("0.35 s", "12.3 s", "4 min 05 s") into out. */
const char *fl__fmt_secs(char *out, size_t n, double s);
/* Appends targets (strings, or arrays of strings for partition sides) as
 * "a | b c" escaped for HTML/XML into b. */
void fl__targets_esc(fl_buf_t *b, const json_t *targets, int flags);
/* Whether name is among targets (at any nesting). */
int fl__targets_has(const json_t *targets, const char *name);
/* Appends whom fault f is aimed at, escaped: a partition's sides as
 * "a | b c" (from attrs.groups, or targets given as arrays), a one-way cut as
 * "a → b" (attrs.from, attrs.to), else the targets "a, b". */
void fl__fault_targets_esc(fl_buf_t *b, const json_t *f, int flags);
/* Whether service name is what fault f is aimed at: for a partition, its
 * smallest side (the part cut off); else any of its targets. */
int fl__fault_focus(const json_t *f, const char *name);
/* Formats an operation from a history or evidence object ("read x -> 1",
 * "write x 5", "cas x [1,2]") into b, escaped. */
void fl__op_label_esc(fl_buf_t *b, const json_t *op);

/* ---- history.jsonl (history.c) */
enum { FL__OP_OK = 0, FL__OP_FAIL = 1, FL__OP_INFO = 2 };
typedef struct {
  double inv;  /* seconds from the run start */
  double comp; /* completion, or the end of the run for one never completed */
  int slot;    /* its process's row: see fl__hist_load */
  short type;  /* FL__OP_* */
  short open;  /* never completed: comp is the end of the run, type info */
} fl__op_t;
typedef struct {
  fl__op_t *ops; /* in order of invocation */
  size_t n;
  size_t alloc;
  int nslots;    /* rows used by processes */
  size_t bad;    /* lines that were not an operation */
  int found;     /* history.jsonl existed */
  int truncated; /* more than FL__HIST_MAX_OPS operations */
} fl__hist_t;
/* Reads run_dir/history.jsonl with check/'s reader, tolerantly
 * (fl_history_read_opts_t: malformed lines counted in bad and skipped, a
 * completion pairs with the preceding invoke of its process). An invoke
 * never completed ends at the process's next invoke, or at end_s, as info.
 * Processes get rows as a drawing of them would: ones that never overlap in
 * time share a row, so a client that carries on as a new process after an
 * indeterminate operation (Jepsen's convention) keeps its row.
 * A missing file leaves h empty with found = 0; returns 0 either way. */
int fl__hist_load(fl__hist_t *h, const char *run_dir, double end_s);
void fl__hist_free(fl__hist_t *h);

/* ---- service logs (logs.c). Lines look like "[   5.012] text". */
typedef struct {
  double from, to; /* seconds */
  char **lines;    /* new, each new, without the time stamp; at most max_lines */
  double *ts;      /* each line's time */
  size_t n;
  size_t dropped; /* lines in the window past max_lines */
} fl__logwin_t;
/* Fills each window with the lines of path whose timestamp is within it
 * (lines without one take the previous line's). Each line is cut to
 * max_len bytes. Returns 0, or a negative errno when the file cannot be read
 * (windows stay empty). */
int fl__log_windows(const char *path, fl__logwin_t *w, size_t nw, size_t max_lines,
                    size_t max_len);
void fl__logwin_clear(fl__logwin_t *w);
/* Appends the last max_lines lines of path (from at most its last 64 KiB),
 * escaped for XML text, to b. Returns the number of lines, or a negative
 * errno. */
int fl__log_tail_esc(fl_buf_t *b, const char *path, size_t max_lines);

/* ---- HTML pieces (html_css.c, html_svg.c, html_evidence.c) */
/* report.html's stylesheet, borrowed static text. */
const char *fl__html_css(void);
/* Colours, shared by the timeline, the legends and the evidence. */
const char *fl__fault_color(const char *kind);
/* Appends the timeline SVG: fault bands, service lanes, check marks,
 * operations, latency and throughput on one time axis. hist may be empty. */
void fl__html_timeline(fl_buf_t *b, const json_t *report, const fl__hist_t *hist);
/* Appends the legend under the timeline (the states, outcomes and fault
 * kinds the report uses). */
void fl__html_legend(fl_buf_t *b, const json_t *report);
/* Appends a check's evidence picture, if its kind has one: a recovery bar,
 * or a small timeline of the operations of a linearizability failure. */
void fl__html_evidence(fl_buf_t *b, const json_t *check);

/* Appends a transactional check's anomalies (html_txn.c): each witness
 * cycle as a small SVG graph, its explanation and its transactions. */
void fl__html_txn(fl_buf_t *b, const json_t *check);

/* Appends the resource charts (html_resources.c): per service, its CPU %
 * and RSS on the timeline's time axis (0 to end seconds), with the faults
 * aimed at it as bands. Nothing when no service has a series. */
void fl__html_resources(fl_buf_t *b, const json_t *report, double end);

/* Appends the findings panel (html_findings.c), when the report has
 * findings: each with its count and the operations it found. */
void fl__html_findings(fl_buf_t *b, const json_t *report);
/* Appends the schedule and its fault coverage (html_schedule.c), when
 * fl.nemesis ran. */
void fl__html_schedule(fl_buf_t *b, const json_t *report);
#endif
