/* history.jsonl: the operations a workload performed, Jepsen's op model.
 *
 * One JSON object per line, in the order things happened:
 *
 *   {"process":3,"type":"invoke","f":"write","key":"x","value":5,"time":1234567}
 *   {"process":3,"type":"ok","f":"write","key":"x","value":5,"time":1240000}
 *
 * `type` is "invoke" or a completion: "ok", "fail" (surely did not happen) or
 * "info" (indeterminate: it may take effect at any later time, or never).
 * `time` is nanoseconds on a monotonic clock from the start of the run. `key`
 * is optional (absent: one register). A process has at most one operation
 * outstanding; an invoke left without completion at the end counts as info.
 *
 * This header has two halves: the writer the run engine records with, and the
 * reader the checkers parse with. Neither keeps global state: both are safe to
 * use from any thread, one object per thread. */
#ifndef FL_HISTORY_H
#define FL_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* ---- Writer ------------------------------------------------------------- */

typedef struct fl_history_s fl_history_t;

/* Creates (or truncates) path and returns a new writer in *out, to be freed
 * with fl_history_close. Lines are buffered: call fl_history_flush from a timer
 * and at the end so that a run killed midway keeps what it recorded. Returns 0
 * or a negative errno, with the path in err. */
int fl_history_open(fl_history_t **out, const char *path, fl_err_t *err);

/* Records an invoke. f is required; key may be NULL (omitted); value is
 * borrowed and may be NULL (written as null). Returns 0 or a negative errno
 * (a write failed: the history now has a hole, and every later call returns
 * the same code; see fl_history_write_error). */
int fl_history_invoke(fl_history_t *h, int process, const char *f, const char *key,
                      const json_t *value, uint64_t time_ns);

/* Records a completion: type is "ok", "fail" or "info". value is borrowed and
 * may be NULL (null); key and error may be NULL (omitted), else error is
 * written as "error":"...". Strings that are not valid UTF-8 are written with
 * U+FFFD in place of the bad bytes, so the file always parses. */
int fl_history_complete(fl_history_t *h, int process, const char *type, const char *f,
                        const char *key, const json_t *value, uint64_t time_ns,
                        const char *error);

/* Pushes buffered lines to the file (a write(2), no fsync). Returns 0, or the
 * first write failure so far (a negative errno: ENOSPC, EIO, EDQUOT ...):
 * sticky, since a history with a hole must never be checked. Accepts NULL. */
int fl_history_flush(fl_history_t *h);

/* 0, or the first write failure with "cannot write PATH: cause" in err. */
int fl_history_write_error(const fl_history_t *h, fl_err_t *err);

/* Flushes, closes and frees. Returns 0 or the first write failure (fclose's
 * own included). Accepts NULL. */
int fl_history_close(fl_history_t *h);

/* ---- Reader ------------------------------------------------------------- */

typedef enum {
  FL_OP_OK = 0, /* completed and took effect */
  FL_OP_FAIL,   /* completed and surely did not take effect */
  FL_OP_INFO    /* indeterminate, or never completed */
} fl_outcome_t;

/* The operations the models know; anything else is FL_F_OTHER and the
 * checkers reject it with the line that holds it. */
typedef enum { FL_F_READ = 0, FL_F_WRITE, FL_F_CAS, FL_F_ADD, FL_F_OTHER } fl_fkind_t;

#define FL_NO_KEY UINT32_MAX
#define FL_NO_POS UINT32_MAX

/* One operation: an invoke paired with its completion. */
typedef struct fl_op_s {
  uint32_t index; /* 0-based, in order of invocation */
  int process;
  fl_outcome_t type; /* FL_OP_INFO when it never completed */
  fl_fkind_t fk;
  const char *f;     /* borrowed from the fl_ops_t */
  const char *key;   /* borrowed, NULL when absent */
  uint32_t key_id;   /* index into ops->keys, FL_NO_KEY when absent */
  json_t *value;     /* the invoke's value, never NULL (json null) */
  json_t *result;    /* the completion's value, never NULL (json null) */
  const char *error; /* borrowed, NULL when absent */
  uint64_t invoke_ns;
  uint64_t complete_ns;   /* UINT64_MAX when it never completed */
  uint32_t invoke_pos;    /* 0-based position among all invoke/complete lines */
  uint32_t complete_pos;  /* FL_NO_POS when it never completed */
  uint32_t invoke_line;   /* 1-based line in the file */
  uint32_t complete_line; /* 0 when it never completed */
} fl_op_t;

/* A parsed history: the operations in invoke order, and the distinct keys. */
typedef struct fl_ops_s {
  fl_op_t *v;
  size_t len;
  const char **keys; /* borrowed strings, in order of first use */
  size_t nkeys;
  uint32_t events; /* invoke and complete lines counted */
  char *name;      /* the file name used in messages */
  void *priv;      /* string pool */
  size_t skipped;  /* tolerant reading: lines skipped as malformed */
  int truncated;   /* reading stopped at max_ops */
} fl_ops_t;

/* A reader of the operations' values as they stream past, for a checker
 * that keeps its own compact form of them instead of a jansson tree per
 * operation (the transactional checker, txn_read.c). Called for each
 * client line after it was paired: completion 0 for an invoke (op just
 * created), 1 for a completion (op completed: type, complete_line set).
 * The line's "value" is either raw (its JSON text, len bytes, borrowed for
 * the call, already checked to be valid JSON: integers, strings without
 * escapes, null, true, false, arrays and {}) or, when the line took the
 * general path, value (a borrowed jansson value); both NULL when the line
 * has no "value". offset is the line's byte offset in the file (or
 * buffer), to find it again. op is borrowed. Returns 0, or a negative code
 * with err set, which stops the reading with that error. */
typedef int fl_history_value_fn(void *data, const fl_op_t *op, int completion,
                                const char *raw, size_t len, const json_t *value,
                                uint64_t offset, fl_err_t *err);

/* How fl_history_read_opts reads. A zeroed struct is fl_history_read's
 * strict reading. */
typedef struct fl_history_read_opts_s {
  /* Read what a run that was killed mid-way may leave, as the report writers
   * must, instead of refusing the file at its first bad line:
   *   - a line that is not JSON, not an object, or without a string "type"
   *     and a numeric "time" is skipped and counted in ops->skipped;
   *   - a line whose "process" is not an integer (or absent) is skipped
   *     uncounted, as a nemesis line is in strict reading;
   *   - a "type" other than invoke, ok, fail or info is an info completion;
   *     a missing "f" is ""; a "key" of another type is no key; a real
   *     "time" is cut to whole nanoseconds, a negative one is 0;
   *   - an invoke while the process has one outstanding leaves that one
   *     never completed (info), as an invoke never completed at the end;
   *   - a completion without an invoke is an operation invoked and
   *     completed on its line; one before its invoke completes at the
   *     invoke's time; a completion's f and key are not compared. */
  int tolerant;
  int skip_values;               /* value and result are all json null: for readers that
                                    need only times and outcomes (less memory) */
  size_t max_ops;                /* 0: no limit; past it reading stops, truncated set */
  size_t max_line;               /* 0: no limit; a longer line is an error (strict) or
                                    skipped and counted (tolerant), never held whole */
  fl_history_value_fn *on_value; /* when set, values go to it and value and
                                    result are all json null (as skip_values) */
  void *on_value_data;
} fl_history_read_opts_t;

/* The one reader of history.jsonl: the checkers read it strictly, the
 * report writers tolerantly (fl_history_read_opts).
 *
 * Parses the history file at path into a new fl_ops_t (free with
 * fl_ops_free). Blank lines are skipped, and so are nemesis lines (Jepsen's
 * "process":"nemesis"), which are not client operations. On malformed input
 * returns FL_EPARSE with "path:line: what is wrong" in err; on an unreadable
 * file a negative errno. */
int fl_history_read(fl_ops_t **out, const char *path, fl_err_t *err);

/* The same, read as opts says (NULL: strictly, as fl_history_read). */
int fl_history_read_opts(fl_ops_t **out, const char *path,
                         const fl_history_read_opts_t *opts, fl_err_t *err);

/* The same from a memory buffer (need not be NUL-terminated); name is used in
 * messages and may be NULL ("<memory>"). */
int fl_history_parse(fl_ops_t **out, const char *buf, size_t len, const char *name,
                     fl_err_t *err);

/* The same, read as opts says (NULL: strictly). */
int fl_history_parse_opts(fl_ops_t **out, const char *buf, size_t len, const char *name,
                          const fl_history_read_opts_t *opts, fl_err_t *err);

/* Accepts NULL. */
void fl_ops_free(fl_ops_t *ops);

/* Returns a new JSON object describing op for reports: index, process, type,
 * f, key (when present), value (the completion's value for reads, else the
 * invoke's), invoke_ns, complete_ns (null when none), invoke_line,
 * complete_line, error (when present). */
json_t *fl_op_to_json(const fl_op_t *op);

/* Writes a one-line human description of op into buf ("process 3 read x -> 1,
 * invoked 1.234567 s, ok 1.240001 s (lines 10-12)"). Returns buf. */
char *fl_op_describe(const fl_op_t *op, char *buf, size_t size);

/* Returns the text of a JSON value in buf, shortened with "..." to fit. */
char *fl_json_text(const json_t *v, char *buf, size_t size);

#endif
