#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int fl_log_level = FL_LOG_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void fl_log_init(void) {
  const char *s = getenv("FAULTLINE_LOG");
  if (s == NULL)
    return;
  for (int i = 0; i < 4; i++)
    if (strcmp(s, level_names[i]) == 0)
      fl_log_level = i;
}

void fl_log_write(int level, const char *tag, const char *fmt, ...) {
  static uint64_t t0;
  uint64_t now = uv_hrtime();
  if (t0 == 0)
    t0 = now;
  char line[2048];
  int n = snprintf(line, sizeof(line), "[%9.3f] %-5s %-8s ", (double)(now - t0) / 1e9,
                   level_names[level], tag);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(line))
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}
