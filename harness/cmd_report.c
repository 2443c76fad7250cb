#include "harness/cmd_report.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "reports/report.h"

/* Re-renders one run directory. A run that was killed left a placeholder
 * report.json (status "error"); its timeline.jsonl still has the events. */
static int render(const char *dir) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  json_error_t je;
  json_t *r = json_load_file(path, 0, &je);
  if (r == NULL) {
    fprintf(stderr, "faultline: %s:%d: %s\n", path, je.line, je.text);
    fl_free(path);
    return 2;
  }
  fl_err_t err = {0};
  int code = 0;
  if (fl_report_validate(r, &err) < 0) {
    fprintf(stderr, "faultline: %s: %s\n", path, err.msg);
    code = 2;
  } else if (fl_report_render_run(r, dir, &err) < 0) {
    fprintf(stderr, "faultline: %s\n", err.msg);
    code = 2;
  } else {
    printf("%s/%s\n", dir, fl_report_file("html"));
  }
  fl_free(path);
  json_decref(r);
  return code;
}

int fl_cmd_report(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "faultline: report: which run directory?\n");
    return 2;
  }
  int code = 0;
  for (int i = 1; i < argc; i++) {
    int c = render(argv[i]);
    if (c > code)
      code = c;
  }
  return code;
}
