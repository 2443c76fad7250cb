/* `faultline check`: parse histories, run a checker on each, print a
 * verdict line per file (and the anomaly when there is one), exit with the
 * worst outcome. A hidden `--generate N` writes a generated history instead,
 * for the benchmark (bench/bench_check.sh). */
#include "harness/cmd_check.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "check/txn.h"
#include "check/gen.h"
#include "check/partition.h"

#define DEFAULT_TIMEOUT_S 60.0

/* The usage, with the models' list and lines from their rows (models.c). */
static void print_usage(FILE *fp) {
  char names[256];
  size_t n;
  const fl_check_model_t *m = fl_check_models(&n);
  fprintf(
      fp,
      "usage: faultline check HISTORY.jsonl... --model %s\n"
      "                       [--timeout S] [--json]\n"
      "                       [--consistency MODEL] [--realtime] [--process]\n"
      "       faultline check --list-models [--json]\n"
      "  --model M       what the histories are checked against (below)\n"
      "  --timeout S     budget per history, in seconds (default 60); past it the\n"
      "                  verdict is unknown (exit 3), never a guess\n"
      "  --json          one JSON object per history instead of text\n"
      "  --list-models   the models, one per line (with --json, as JSON)\n"
      "  --consistency C list-append, rw-register: the consistency model checked\n"
      "                  (read-uncommitted, read-committed, snapshot-isolation,\n"
      "                  repeatable-read, serializable (default), strict-serializable)\n"
      "  --realtime      list-append, rw-register: order transactions by real time\n"
      "  --process       list-append, rw-register: order each process's transactions\n"
      "models:\n",
      fl_check_model_names(names, sizeof(names), "|", "|"));
  for (size_t i = 0; i < n; i++)
    fprintf(fp, "  %-13s %s\n  %-13s ops: %s\n", m[i].name, m[i].summary, "", m[i].ops);
  fprintf(fp,
          "exit codes: 0 valid, 1 not valid, 2 bad input, 3 unknown within the budget\n");
}

static int usage(const char *fmt, const char *arg) {
  fprintf(stderr, "faultline check: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  print_usage(stderr);
  return 2;
}

/* --list-models: the table's rows, as text or JSON lines. */
static int list_models(int json) {
  size_t n;
  const fl_check_model_t *m = fl_check_models(&n);
  for (size_t i = 0; i < n; i++) {
    if (!json) {
      printf("%-13s %s (%s)\n", m[i].name, m[i].summary, m[i].ops);
      continue;
    }
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "name", m[i].name, "lua",
                          m[i].lua, "lua_default", m[i].lua_default, "ops", m[i].ops,
                          "options", m[i].options, "summary", m[i].summary);
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (t != NULL)
      printf("%s\n", t);
    free(t);
    json_decref(o);
  }
  return 0;
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s || s[0] == '-')
    return -1;
  *out = (size_t)v;
  return 0;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s)
    return -1;
  *out = v;
  return 0;
}

/* ---- Text output ---------------------------------------------------------- */

static void print_op(const char *label, const json_t *op) {
  char val[128];
  const char *f = json_string_value(json_object_get(op, "f"));
  const char *type = json_string_value(json_object_get(op, "type"));
  const json_t *key = json_object_get(op, "key");
  const json_t *cns = json_object_get(op, "complete_ns");
  const json_t *cl = json_object_get(op, "complete_line");
  const char *error = json_string_value(json_object_get(op, "error"));
  int is_read = f != NULL && strcmp(f, "read") == 0;
  int show = !is_read || (type != NULL && strcmp(type, "ok") == 0);
  fl_json_text(json_object_get(op, "value"), val, sizeof(val));
  printf("  %-11s process %" JSON_INTEGER_FORMAT " %s%s%s%s%s, invoked %.6f s", label,
         json_integer_value(json_object_get(op, "process")), f ? f : "?", key ? " " : "",
         key ? json_string_value(key) : "", show ? (is_read ? " -> " : " ") : "",
         show ? val : "",
         (double)json_integer_value(json_object_get(op, "invoke_ns")) / 1e9);
  if (json_is_integer(cns))
    printf(", %s %.6f s (lines %" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT ")", type,
           (double)json_integer_value(cns) / 1e9,
           json_integer_value(json_object_get(op, "invoke_line")),
           json_integer_value(cl));
  else
    printf(", never completed (line %" JSON_INTEGER_FORMAT ")",
           json_integer_value(json_object_get(op, "invoke_line")));
  if (error != NULL)
    printf(": %s", error);
  printf("\n");
}

/* Prints at most max ops of list; returns how many it left out. */
static size_t print_ops(const char *label, const json_t *list, size_t max) {
  size_t i;
  json_t *op;
  json_array_foreach(list, i, op) {
    if (i == max)
      break;
    print_op(i == 0 ? label : "", op);
  }
  return json_array_size(list) - i;
}

static void print_linear(const json_t *res) {
  const json_t *a = json_object_get(res, "anomaly");
  if (a == NULL)
    return;
  printf("  %s\n", json_string_value(json_object_get(a, "message")));
  print_op("op:", json_object_get(a, "op"));
  json_int_t omitted =
      (json_int_t)print_ops("concurrent:", json_object_get(a, "concurrent"), 12);
  omitted += json_integer_value(json_object_get(a, "concurrent_omitted"));
  if (omitted > 0)
    printf("  %-11s (and %" JSON_INTEGER_FORMAT " more)\n", "", omitted);
  print_ops("before:", json_object_get(a, "before"), 3);
  const json_t *key = json_object_get(a, "key");
  printf("  the history%s%s%s up to line %" JSON_INTEGER_FORMAT
         " cannot be linearized; the longest partial linearization holds "
         "%" JSON_INTEGER_FORMAT " ops\n",
         json_is_string(key) ? " of key " : "",
         json_is_string(key) ? json_string_value(key) : "", "",
         json_integer_value(json_object_get(a, "prefix_end_line")),
         json_integer_value(json_object_get(a, "linearized_prefix")));
  size_t nbad = json_array_size(json_object_get(res, "invalid_keys"));
  if (nbad > 1)
    printf("  %zu keys are not linearizable\n", nbad);
}

static void print_counter(const json_t *res) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(res, "errors"), i, e) {
    char label[64];
    snprintf(label, sizeof(label),
             "not in [%" JSON_INTEGER_FORMAT ",%" JSON_INTEGER_FORMAT "]:",
             json_integer_value(json_object_get(e, "lower")),
             json_integer_value(json_object_get(e, "upper")));
    print_op(label, json_object_get(e, "op"));
  }
}

/* A transactional verdict: each anomaly type's first witness, explained. */
static void print_txn(const json_t *res) {
  const char *type;
  const json_t *list;
  json_object_foreach((json_t *)json_object_get(res, "anomalies"), type, list) {
    const json_t *a = json_array_get(list, 0);
    long long n = (long long)json_integer_value(
        json_object_get(json_object_get(res, "counts"), type));
    printf("  %s (%lld): %s\n", type, n,
           json_string_value(json_object_get(a, "explanation")));
  }
}

static void print_verdict(const char *path, const char *model, const json_t *res,
                          fl_check_status_t st, double secs) {
  const char *msg = json_string_value(json_object_get(res, "message"));
  int linear = json_object_get(res, "configurations") != NULL;
  if (st == FL_CHECK_VALID) {
    if (linear)
      printf("%s: valid (%s: %" JSON_INTEGER_FORMAT " ops, %" JSON_INTEGER_FORMAT
             " keys) in %.3f s\n",
             path, model, json_integer_value(json_object_get(res, "ops")),
             json_integer_value(json_object_get(res, "keys")), secs);
    else
      printf("%s: valid (%s: %s) in %.3f s\n", path, model, msg ? msg : "", secs);
  } else if (st == FL_CHECK_INVALID) {
    if (linear) {
      const json_t *key = json_object_get(json_object_get(res, "anomaly"), "key");
      printf("%s: NOT VALID (%s%s%s: not linearizable) in %.3f s\n", path, model,
             json_is_string(key) ? ", key " : "",
             json_is_string(key) ? json_string_value(key) : "", secs);
      print_linear(res);
    } else {
      printf("%s: NOT VALID (%s: %s) in %.3f s\n", path, model, msg ? msg : "", secs);
      if (json_object_get(res, "anomalies") != NULL) {
        print_txn(res);
      } else if (strcmp(model, "counter") == 0) {
        print_counter(res);
      } else {
        const json_t *fr = json_object_get(res, "final_read");
        if (json_is_object(fr))
          print_op("final read:", fr);
        size_t left = print_ops("lost:", json_object_get(res, "lost_adds"), 10);
        left += (size_t)json_integer_value(json_object_get(res, "lost_count")) -
                json_array_size(json_object_get(res, "lost_adds"));
        if (left > 0)
          printf("  %-11s (and %zu more)\n", "", left);
      }
    }
  } else {
    const char *why = json_string_value(json_object_get(res, "reason"));
    printf("%s: UNKNOWN (%s: %s) in %.3f s\n", path, model,
           why   ? why
           : msg ? msg
                 : "undecided",
           secs);
  }
}

static const char *status_name(fl_check_status_t st) {
  return st == FL_CHECK_VALID ? "valid" : st == FL_CHECK_INVALID ? "invalid" : "unknown";
}

/* ---- Generation (hidden, for the benchmark) --------------------------------- */

static int generate(fl_gen_opts_t *g) {
  fl_err_t err;
  fl_err_clear(&err);
  fl_gen_info_t info;
  int r = fl_gen_write(stdout, g, &info, &err);
  fflush(stdout);
  if (r != 0) {
    fprintf(stderr, "faultline check: %s\n", err.msg[0] ? err.msg : fl_strerror(r));
    return 2;
  }
  if (g->corrupt)
    fprintf(stderr, "corrupted the read completed on line %zu (%s)\n",
            info.corrupted_line, info.stale ? "a stale value" : "a value never written");
  return 0;
}

/* ---- The command ------------------------------------------------------------- */

typedef struct {
  const char *model;
  const char *consistency;
  int realtime, process;
  const char *format;
  double timeout_s;
  int json, gen, list, help;
  int tree; /* hidden: the whole history in jansson trees first (the old way) */
  fl_gen_opts_t g;
  char **files; /* borrowed from argv */
  size_t nfiles;
} cmd_opts_t;

enum {
  OPT_MODEL = 256,
  OPT_TIMEOUT,
  OPT_JSON,
  OPT_LIST,
  OPT_GENERATE,
  OPT_CORRUPT,
  OPT_KEYS,
  OPT_PROCS,
  OPT_SEED,
  OPT_INFO,
  OPT_CAS,
  OPT_READS,
  OPT_CONSISTENCY,
  OPT_REALTIME,
  OPT_PROCESS,
  OPT_FORMAT,
  OPT_TREE
};

/* The options (the generator's are hidden: for bench/bench_check.sh). */
static const struct option longopts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"list-models", no_argument, NULL, OPT_LIST},
    {"consistency", required_argument, NULL, OPT_CONSISTENCY},
    {"realtime", no_argument, NULL, OPT_REALTIME},
    {"process", no_argument, NULL, OPT_PROCESS},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {"generate", required_argument, NULL, OPT_GENERATE},
    {"corrupt", no_argument, NULL, OPT_CORRUPT},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"procs", required_argument, NULL, OPT_PROCS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"info", required_argument, NULL, OPT_INFO},
    {"cas", required_argument, NULL, OPT_CAS},
    {"reads", required_argument, NULL, OPT_READS},
    {"tree-reader", no_argument, NULL, OPT_TREE},
    {NULL, 0, NULL, 0}};

/* Stores an option's value; returns 0 or -1 when it is not a valid value. */
static int set_value(cmd_opts_t *o, int opt, const char *v) {
  size_t seed;
  switch (opt) {
  case OPT_MODEL:
    o->model = v;
    return 0;
  case OPT_FORMAT:
    o->format = v;
    return strcmp(v, "edn") == 0 || strcmp(v, "jsonl") == 0 ? 0 : -1;
  case OPT_CONSISTENCY:
    o->consistency = v;
    return fl_txn_cm_parse(v) == FL_CM_NONE ? -1 : 0;
  case OPT_TIMEOUT:
    return parse_double(v, &o->timeout_s) != 0 || o->timeout_s <= 0 ? -1 : 0;
  case OPT_GENERATE:
    o->gen = 1;
    return parse_size(v, &o->g.ops);
  case OPT_KEYS:
    return parse_size(v, &o->g.keys);
  case OPT_PROCS:
    return parse_size(v, &o->g.procs);
  case OPT_SEED:
    if (parse_size(v, &seed) != 0)
      return -1;
    o->g.seed = seed;
    return 0;
  case OPT_INFO:
    return parse_double(v, &o->g.info_rate);
  case OPT_CAS:
    return parse_double(v, &o->g.cas_rate);
  default:
    return parse_double(v, &o->g.read_rate);
  }
}

/* Reads argv into o (getopt_long: options and files in any order, "--"
 * ends the options). Returns 0, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, cmd_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->timeout_s = DEFAULT_TIMEOUT_S;
  fl_gen_opts_default(&o->g);
  optind = 0; /* 0, not 1: glibc forgets any earlier parse */
  opterr = 0; /* our messages, not getopt's */
  int opt;
  while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    const char *typed = argv[optind - 1];
    switch (opt) {
    case 'h':
      o->help = 1;
      break;
    case OPT_JSON:
      o->json = 1;
      break;
    case OPT_LIST:
      o->list = 1;
      break;
    case OPT_REALTIME:
      o->realtime = 1;
      break;
    case OPT_PROCESS:
      o->process = 1;
      break;
    case OPT_CORRUPT:
      o->g.corrupt = 1;
      break;
    case OPT_TREE:
      o->tree = 1;
      break;
    case ':':
      return usage("%s needs a value", typed);
    case '?':
      return usage("unknown option %s", typed);
    default:
      if (set_value(o, opt, optarg) != 0) {
        char what[256];
        const char *name = NULL;
        for (const struct option *l = longopts; l->name != NULL && name == NULL; l++)
          if (l->val == opt)
            name = l->name;
        snprintf(what, sizeof(what), "--%s: bad value \"%s\"%s", name ? name : "?",
                 optarg,
                 opt == OPT_CONSISTENCY
                     ? " (read-uncommitted, read-committed, snapshot-isolation, "
                       "repeatable-read, serializable, strict-serializable)"
                     : "");
        return usage("%s", what);
      }
    }
  }
  o->files = argv + optind;
  o->nfiles = (size_t)(argc - optind);
  return 0;
}

/* Prints the failure to read or check one file; returns 2. */
static int print_bad_input(const char *file, int r, const fl_err_t *err, int json,
                           double secs) {
  const char *msg = err->msg[0] ? err->msg : fl_strerror(r);
  if (json) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "file", file, "status", "bad-input",
                          "error", msg, "code", fl_errname(r));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL)
      printf("%s\n", s);
    free(s);
    json_decref(o);
  } else {
    printf("%s (bad input, %.3f s)\n", msg, secs);
  }
  return 2;
}

/* Whether file is read as EDN: --format edn, or no --format and a name
 * ending in .edn. */
static int is_edn(const char *format, const char *file) {
  if (format != NULL)
    return strcmp(format, "edn") == 0;
  size_t n = strlen(file);
  return n > 4 && strcmp(file + n - 4, ".edn") == 0;
}

/* Hidden --tree-reader: the history read whole into jansson values, then
 * checked (the way every model was read before transactions streamed): the
 * baseline tests/integration/txn_stream.sh compares the streaming reader
 * with. */
static int check_tree(const char *file, const char *model, const fl_check_opts_t *copts,
                      json_t **res, fl_err_t *err) {
  uint64_t t0 = fl_check_now_ns();
  fl_ops_t *ops;
  int r = fl_history_read(&ops, file, err);
  if (r != 0)
    return r;
  double parse_s = (double)(fl_check_now_ns() - t0) / 1e9;
  r = fl_check_ops(ops, model, copts, res, err);
  if (r == 0) {
    json_object_set_new(*res, "file", json_string(file));
    json_object_set_new(*res, "parse_s", json_real(parse_s));
  }
  fl_ops_free(ops);
  return r;
}

/* Checks one file and prints its verdict; returns its exit code (0, 1, 2,
 * 3 as the command's). */
static int check_one(const cmd_opts_t *o, const char *file) {
  fl_err_t err;
  fl_err_clear(&err);
  json_t *res = NULL;
  uint64_t t0 = fl_check_now_ns();
  fl_check_opts_t copts = {.timeout_s = o->timeout_s,
                           .consistency = o->consistency,
                           .realtime = o->realtime,
                           .process = o->process,
                           .edn = is_edn(o->format, file)};
  int r = o->tree && !copts.edn ? check_tree(file, o->model, &copts, &res, &err)
                                : fl_check_file_opts(file, o->model, &copts, &res, &err);
  double secs = (double)(fl_check_now_ns() - t0) / 1e9;
  if (r != 0) {
    r = print_bad_input(file, r, &err, o->json, secs);
    fflush(stdout);
    return r;
  }
  fl_check_status_t st = fl_check_status(res);
  if (o->json) {
    json_object_set_new(res, "status", json_string(status_name(st)));
    json_object_set_new(res, "check_s", json_real(secs));
    char *s = json_dumps(res, JSON_COMPACT);
    if (s != NULL)
      printf("%s\n", s);
    free(s);
  } else {
    print_verdict(file, o->model, res, st, secs);
  }
  fflush(stdout);
  json_decref(res);
  return (int)st;
}

int fl_cmd_check(int argc, char **argv) {
  cmd_opts_t o;
  int code = parse_args(argc, argv, &o);
  if (code != 0)
    return code;
  if (o.help) {
    print_usage(stdout);
    return 0;
  }
  if (o.list)
    return list_models(o.json);
  if (o.gen)
    return generate(&o.g);
  char names[256];
  if (o.model == NULL) {
    fl_check_model_names(names, sizeof(names), "|", "|");
    return usage("which model? (--model %s)", names);
  }
  if (!fl_check_model_known(o.model)) {
    fprintf(stderr, "faultline check: unknown model \"%s\" (%s)\n", o.model,
            fl_check_model_names(names, sizeof(names), ", ", " or "));
    print_usage(stderr);
    return 2;
  }
  if (o.nfiles == 0)
    return usage("%s", "which history file(s)?");
  int bad_input = 0, invalid = 0, unknown = 0;
  for (size_t i = 0; i < o.nfiles; i++) {
    int c = check_one(&o, o.files[i]);
    bad_input |= c == 2;
    invalid |= c == FL_CHECK_INVALID;
    unknown |= c == FL_CHECK_UNKNOWN;
  }
  return bad_input ? 2 : invalid ? 1 : unknown ? 3 : 0;
}
