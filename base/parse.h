/* Parsing numbers from text a user typed (command-line values, environment
 * variables): the whole string must be the number, nothing before or after
 * it, so "10s" or "" is an error rather than a silent 10 or 0. */
#ifndef FL_PARSE_H
#define FL_PARSE_H

#include <stdint.h>

/* A non-negative decimal integer ("0" to "18446744073709551615"; no sign,
 * no space). Returns 0 and sets *out, or FL_EPARSE (out untouched). */
int fl_parse_u64(const char *s, uint64_t *out);
/* An integer from lo to hi inclusive (decimal, an optional '-'). Returns 0
 * and sets *out, or FL_EPARSE (out untouched). */
int fl_parse_int(const char *s, int lo, int hi, int *out);
/* A positive, finite number of seconds ("0.5", "30"). Returns 0 and sets
 * *out, or FL_EPARSE (out untouched). */
int fl_parse_seconds(const char *s, double *out);

#endif
