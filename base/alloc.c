#include "base/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
  fprintf(stderr, "faultline: out of memory allocating %zu bytes\n", n);
  abort();
}

void *fl_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    oom(n);
  return p;
}

void *fl_calloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (p == NULL)
    oom(count * n);
  return p;
}

void *fl_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL)
    oom(n);
  return q;
}

char *fl_strdup(const char *s) {
  return fl_strndup(s, strlen(s));
}

char *fl_strndup(const char *s, size_t n) {
  char *p = fl_malloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *fl_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom(0);
  char *p = fl_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void fl_free(void *p) {
  free(p);
}
