/* `faultline check`: parse histories, run a checker on each, print a
 * verdict line per file (and the anomaly when there is one), exit with the
 * worst outcome. A hidden `--generate N` writes a generated history instead,
 * for the benchmark (bench/bench_check.sh). */
#include "harness/cmd_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "check/gen.h"
#include "check/partition.h"

#define DEFAULT_TIMEOUT_S 60.0

static const char USAGE[] =
    "usage: faultline check HISTORY.jsonl... --model "
    "register|cas-register|kv|set|counter\n"
    "                       [--timeout S] [--json]\n"
    "  --model M     what the histories are checked against\n"
    "  --timeout S   budget per history, in seconds (default 60); past it the\n"
    "                verdict is unknown (exit 3), never a guess\n"
    "  --json        one JSON object per history instead of text\n"
    "exit codes: 0 valid, 1 not valid, 2 bad input, 3 unknown within the budget\n";

static int usage(const char *fmt, const char *arg) {
  fprintf(stderr, "faultline check: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", USAGE);
  return 2;
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
      if (strcmp(model, "counter") == 0) {
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

int fl_cmd_check(int argc, char **argv) {
  const char *model = NULL;
  double timeout_s = DEFAULT_TIMEOUT_S;
  int json = 0, gen = 0;
  fl_gen_opts_t g;
  fl_gen_opts_default(&g);
  const char **files = calloc((size_t)argc + 1, sizeof(char *));
  size_t nfiles = 0;
  int code = 0, only_files = 0;
  if (files == NULL)
    return 2;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_files || a[0] != '-') {
      files[nfiles++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_files = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      goto out;
    }
    if (strcmp(a, "--json") == 0) {
      json = 1;
      continue;
    }
    if (strcmp(a, "--corrupt") == 0) {
      g.corrupt = 1;
      continue;
    }
    /* Options with a value: "--opt V" or "--opt=V". */
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    const char *v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
    static const char *const valued[] = {"--model", "--timeout", "--generate", "--keys",
                                         "--procs", "--seed",    "--info",     "--cas",
                                         "--reads", NULL};
    int known = 0;
    for (int k = 0; valued[k] != NULL; k++)
      if (strlen(valued[k]) == nlen && strncmp(a, valued[k], nlen) == 0)
        known = 1;
    if (!known) {
      code = usage("unknown option %s", a);
      goto out;
    }
    if (v == NULL) {
      code = usage("%s needs a value", a);
      goto out;
    }
    if (!eq)
      i++;
    int bad = 0;
    if (strncmp(a, "--model", nlen) == 0) {
      model = v;
    } else if (strncmp(a, "--timeout", nlen) == 0) {
      bad = parse_double(v, &timeout_s) != 0 || timeout_s <= 0;
    } else if (strncmp(a, "--generate", nlen) == 0) {
      gen = 1;
      bad = parse_size(v, &g.ops) != 0;
    } else if (strncmp(a, "--keys", nlen) == 0) {
      bad = parse_size(v, &g.keys) != 0;
    } else if (strncmp(a, "--procs", nlen) == 0) {
      bad = parse_size(v, &g.procs) != 0;
    } else if (strncmp(a, "--seed", nlen) == 0) {
      size_t s;
      bad = parse_size(v, &s) != 0;
      g.seed = s;
    } else if (strncmp(a, "--info", nlen) == 0) {
      bad = parse_double(v, &g.info_rate) != 0;
    } else if (strncmp(a, "--cas", nlen) == 0) {
      bad = parse_double(v, &g.cas_rate) != 0;
    } else {
      bad = parse_double(v, &g.read_rate) != 0;
    }
    if (bad) {
      code = usage("bad value \"%s\"", v);
      goto out;
    }
  }

  if (gen) {
    code = generate(&g);
    goto out;
  }
  if (model == NULL) {
    code = usage("%s", "which model? (--model register|cas-register|kv|set|counter)");
    goto out;
  }
  if (!fl_check_model_known(model)) {
    code = usage("unknown model \"%s\"", model);
    goto out;
  }
  if (nfiles == 0) {
    code = usage("%s", "which history file(s)?");
    goto out;
  }

  int bad_input = 0, invalid = 0, unknown = 0;
  for (size_t i = 0; i < nfiles; i++) {
    fl_err_t err;
    fl_err_clear(&err);
    json_t *res = NULL;
    uint64_t t0 = fl_check_now_ns();
    int r = fl_check_file(files[i], model, timeout_s, &res, &err);
    double secs = (double)(fl_check_now_ns() - t0) / 1e9;
    if (r != 0) {
      bad_input = 1;
      const char *msg = err.msg[0] ? err.msg : fl_strerror(r);
      if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "file", files[i], "status",
                              "bad-input", "error", msg, "code", fl_errname(r));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s != NULL)
          printf("%s\n", s);
        free(s);
        json_decref(o);
      } else {
        printf("%s (bad input, %.3f s)\n", msg, secs);
      }
      fflush(stdout);
      continue;
    }
    fl_check_status_t st = fl_check_status(res);
    invalid |= st == FL_CHECK_INVALID;
    unknown |= st == FL_CHECK_UNKNOWN;
    if (json) {
      json_object_set_new(res, "status", json_string(status_name(st)));
      json_object_set_new(res, "check_s", json_real(secs));
      char *s = json_dumps(res, JSON_COMPACT);
      if (s != NULL)
        printf("%s\n", s);
      free(s);
    } else {
      print_verdict(files[i], model, res, st, secs);
    }
    fflush(stdout);
    json_decref(res);
  }
  code = bad_input ? 2 : invalid ? 1 : unknown ? 3 : 0;

out:
  free(files);
  return code;
}
