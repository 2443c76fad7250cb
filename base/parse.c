#include "base/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "base/error.h"

int fl_parse_u64(const char *s, uint64_t *out) {
  /* strtoull skips leading space and accepts a sign ("-1" wraps to the
   * largest value): only digits are allowed here. */
  if (s == NULL || !isdigit((unsigned char)s[0]))
    return FL_EPARSE;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return FL_EPARSE;
  *out = (uint64_t)v;
  return 0;
}

int fl_parse_int(const char *s, int lo, int hi, int *out) {
  if (s == NULL ||
      !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
    return FL_EPARSE;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return FL_EPARSE;
  *out = (int)v;
  return 0;
}

int fl_parse_seconds(const char *s, double *out) {
  if (s == NULL || s[0] == '\0' || isspace((unsigned char)s[0]))
    return FL_EPARSE;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0)
    return FL_EPARSE;
  *out = v;
  return 0;
}
