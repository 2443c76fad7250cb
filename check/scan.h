/* A cursor over JSON text, for the fast paths that read common lines
 * without building jansson values (history_read.c, txn_read.c): what one
 * accepts, the other reads the same way. Internal to check/. */
#ifndef FL_SCAN_H
#define FL_SCAN_H

#include <jansson.h>
#include <limits.h>

typedef struct fl_scan_s {
  const char *s, *end;
} fl_scan_t;

/* Skips JSON white space. */
static inline void fl_scan_ws(fl_scan_t *c) {
  while (c->s < c->end &&
         (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n'))
    c->s++;
}

/* A JSON integer (no fraction, no exponent, no leading zero) that fits
 * json_int_t, as jansson reads it; returns 0, or -1 (nothing consumed). */
static inline int fl_scan_int(fl_scan_t *c, json_int_t *out) {
  const char *s = c->s;
  int neg = 0;
  if (s < c->end && *s == '-') {
    neg = 1;
    s++;
  }
  if (s >= c->end || *s < '0' || *s > '9')
    return -1;
  if (*s == '0' && s + 1 < c->end && s[1] >= '0' && s[1] <= '9')
    return -1;
  unsigned long long v = 0;
  for (; s < c->end && *s >= '0' && *s <= '9'; s++) {
    if (v > (ULLONG_MAX - 9) / 10)
      return -1;
    v = v * 10 + (unsigned)(*s - '0');
  }
  if (s < c->end && (*s == '.' || *s == 'e' || *s == 'E'))
    return -1;
  if (v > (unsigned long long)LLONG_MAX + (unsigned long long)neg)
    return -1;
  *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
  c->s = s;
  return 0;
}

#endif
