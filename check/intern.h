/* Interning: maps strings (and JSON values, through a canonical text) to
 * dense ids 0, 1, 2 ... so that the checkers compare integers. Internal to
 * check/. One table per caller: no global state. */
#ifndef FL_INTERN_H
#define FL_INTERN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_intern_s {
  char **strs; /* id -> NUL-terminated copy, owned */
  size_t *lens;
  size_t n, cap;
  uint32_t *slots; /* open addressing: id + 1, 0 = empty */
  size_t nslots;   /* a power of two */
} fl_intern_t;

void fl_intern_init(fl_intern_t *t);
void fl_intern_free(fl_intern_t *t);

/* Returns the id of the len bytes at s, adding them when new. */
uint32_t fl_intern(fl_intern_t *t, const char *s, size_t len);

/* Returns the id of s, or UINT32_MAX when it was never added. */
uint32_t fl_intern_find(const fl_intern_t *t, const char *s, size_t len);

/* Returns the id of a JSON value under JSON equality (jansson's json_equal:
 * 1 and 1.0 differ, objects compare without regard to key order). */
uint32_t fl_intern_json(fl_intern_t *t, const json_t *v);

static inline const char *fl_intern_str(const fl_intern_t *t, uint32_t id) {
  return t->strs[id];
}

#endif
