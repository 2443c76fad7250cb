#include "check/intern.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static uint64_t hash_bytes(const char *s, size_t len) {
  /* FNV-1a, then a final mix so that the low bits spread well. */
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

void fl_intern_init(fl_intern_t *t) {
  memset(t, 0, sizeof(*t));
}

void fl_intern_free(fl_intern_t *t) {
  for (size_t i = 0; i < t->n; i++)
    fl_free(t->strs[i]);
  fl_free(t->strs);
  fl_free(t->lens);
  fl_free(t->slots);
  memset(t, 0, sizeof(*t));
}

static void grow(fl_intern_t *t) {
  size_t nslots = t->nslots ? t->nslots * 2 : 64;
  uint32_t *slots = fl_calloc(nslots, sizeof(*slots));
  for (size_t i = 0; i < t->n; i++) {
    size_t j = hash_bytes(t->strs[i], t->lens[i]) & (nslots - 1);
    while (slots[j] != 0)
      j = (j + 1) & (nslots - 1);
    slots[j] = (uint32_t)i + 1;
  }
  fl_free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
}

static size_t probe(const fl_intern_t *t, const char *s, size_t len) {
  size_t j = hash_bytes(s, len) & (t->nslots - 1);
  for (;;) {
    uint32_t id = t->slots[j];
    if (id == 0)
      return j;
    id--;
    if (t->lens[id] == len && memcmp(t->strs[id], s, len) == 0)
      return j;
    j = (j + 1) & (t->nslots - 1);
  }
}

uint32_t fl_intern_find(const fl_intern_t *t, const char *s, size_t len) {
  if (t->nslots == 0)
    return UINT32_MAX;
  uint32_t id = t->slots[probe(t, s, len)];
  return id == 0 ? UINT32_MAX : id - 1;
}

uint32_t fl_intern(fl_intern_t *t, const char *s, size_t len) {
  if ((t->n + 1) * 2 > t->nslots)
    grow(t);
  size_t j = probe(t, s, len);
  if (t->slots[j] != 0)
    return t->slots[j] - 1;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->strs = fl_realloc(t->strs, t->cap * sizeof(*t->strs));
    t->lens = fl_realloc(t->lens, t->cap * sizeof(*t->lens));
  }
  t->strs[t->n] = fl_strndup(s, len);
  t->lens[t->n] = len;
  t->slots[j] = (uint32_t)t->n + 1;
  return (uint32_t)t->n++;
}

uint32_t fl_intern_json(fl_intern_t *t, const json_t *v) {
  /* Each JSON type gets a text that no other type can produce: integers are
   * bare digits, strings start with a quote (and are not escaped: the text
   * only has to be injective), reals are dumped by jansson, which always
   * writes a '.' or an exponent, containers start with '[' or '{'. */
  char buf[32];
  switch (json_typeof(v)) {
  case JSON_INTEGER: {
    int n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return fl_intern(t, buf, (size_t)n);
  }
  case JSON_NULL:
    return fl_intern(t, "null", 4);
  case JSON_TRUE:
    return fl_intern(t, "true", 4);
  case JSON_FALSE:
    return fl_intern(t, "false", 5);
  case JSON_STRING: {
    size_t len = json_string_length(v);
    char small[128];
    char *p = len + 1 <= sizeof(small) ? small : fl_malloc(len + 1);
    p[0] = '"';
    memcpy(p + 1, json_string_value(v), len);
    uint32_t id = fl_intern(t, p, len + 1);
    if (p != small)
      fl_free(p);
    return id;
  }
  default: {
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    uint32_t id = fl_intern(t, s ? s : "?", s ? strlen(s) : 1);
    free(s);
    return id;
  }
  }
}
