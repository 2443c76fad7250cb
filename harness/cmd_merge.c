#include "harness/cmd_merge.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/cli.h"
#include "harness/engine.h"
#include "harness/suite.h"
#include "reports/report.h"

static const char USAGE[] =
    "usage: faultline report merge DIR... [--out DIR] [--junit FILE]\n"
    "\n"
    "  DIR           a folder searched for report.json files (a suite's --out,\n"
    "                a shard's, or a run directory)\n"
    "  --out DIR     where summary.md and junit.xml go (default: here)\n"
    "  --junit FILE  the JUnit XML file (default DIR/junit.xml)\n";

enum { OPT_OUT = 256, OPT_JUNIT };

static const struct option LONGOPTS[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fl_merge_args_parse(fl_merge_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  out->out = ".";
  out->dirs = fl_calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "h", LONGOPTS, 0);
  int ch;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      out->dirs[out->ndirs++] = c.arg;
      break;
    case OPT_OUT:
      out->out = c.arg;
      break;
    case OPT_JUNIT:
      out->junit = c.arg;
      break;
    case 'h':
      out->help = 1;
      return 0;
    default:
      return ch;
    }
  }
  if (out->ndirs == 0)
    return fl_err_set(err, FL_EUSAGE, "which folders?");
  return 0;
}

void fl_merge_args_free(fl_merge_args_t *a) {
  fl_free(a->dirs);
  a->dirs = NULL;
}

/* Adds every report.json found below dir (its own and its subfolders'). */
static void gather(const char *dir, const char *rel, json_t *reports) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  struct stat st;
  if (stat(path, &st) == 0) {
    const char *file = fl_report_file("html");
    char *html = rel[0] ? fl_asprintf("%s/%s", rel, file) : fl_strdup(file);
    json_t *r = fl_suite_load_report(dir, html);
    fl_free(html);
    if (r != NULL)
      json_array_append_new(reports, r);
  }
  fl_free(path);
  char **names = fl_list_dir(dir, 1);
  for (char **nm = names; nm != NULL && *nm != NULL; nm++) {
    if (strcmp(*nm, "logs") == 0 || strcmp(*nm, "data") == 0)
      continue;
    char *sub = fl_asprintf("%s/%s", dir, *nm);
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
      char *subrel = rel[0] ? fl_asprintf("%s/%s", rel, *nm) : fl_strdup(*nm);
      gather(sub, subrel, reports);
      fl_free(subrel);
    }
    fl_free(sub);
  }
  fl_strv_free(names);
}

/* The exit code a report's status stands for. */
static int status_code(json_t *report) {
  const char *st = json_string_value(json_object_get(report, "status"));
  if (st != NULL && strcmp(st, "pass") == 0)
    return 0;
  if (st != NULL && strcmp(st, "fail") == 0)
    return 1;
  return 2;
}

int fl_cmd_report_merge(int argc, char **argv) {
  fl_merge_args_t a;
  fl_err_t err = {0};
  if (fl_merge_args_parse(&a, argc, argv, &err) < 0) {
    fl_merge_args_free(&a);
    return fl_cli_usage_error("report merge", &err);
  }
  if (a.help) {
    fputs(USAGE, stdout);
    fl_merge_args_free(&a);
    return 0;
  }
  json_t *reports = json_array();
  for (int i = 0; i < a.ndirs; i++)
    gather(a.dirs[i], a.dirs[i], reports);
  int code = 0;
  size_t i;
  json_t *r;
  json_array_foreach(reports, i, r) code = fl_exit_worst(code, status_code(r));
  printf("merged %zu report(s)\n", json_array_size(reports));
  fl_suite_print_findings(reports);
  int rc = fl_mkdir_p(a.out);
  if (rc < 0) {
    fprintf(stderr, "faultline report merge: cannot create %s: %s\n", a.out,
            fl_strerror(rc));
    code = 2;
  } else if (fl_suite_write_outputs(reports, a.out, a.junit) != 0) {
    code = 2;
  }
  json_decref(reports);
  fl_merge_args_free(&a);
  return code;
}
