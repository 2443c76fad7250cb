/* Jepsen's EDN histories (history.edn) as history.jsonl, so that results
 * of existing Jepsen tests can be checked again with faultline's checkers.
 *
 * A history is a sequence of operation maps, each on its own or all inside
 * one vector: {:type :invoke, :f :txn, :value [[:append 3 1] [:r 4 nil]],
 * :time 1234, :process 0, :index 0}. Keywords become strings without their
 * colon (:invoke -> "invoke", :append -> "append"), vectors and lists become
 * arrays, maps objects (their keys as strings), nil null; integers, floats,
 * strings, booleans and characters keep their meaning. Sets (#{...}) become
 * arrays; a tagged literal (#jepsen.history.Op {...}) is read as its value;
 * #_ discards the next form; ; starts a comment. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "check/edn.h"

typedef struct {
  const char *name;
  const char *p, *end;
  const char *start;
  fl_buf_t *out;
  fl_err_t *err;
  int depth;
} edn_t;

static unsigned line_of(const edn_t *e) {
  unsigned line = 1;
  for (const char *c = e->start; c < e->p; c++)
    line += *c == '\n';
  return line;
}

static int bad(edn_t *e, const char *what) {
  /* JSON lines read as EDN fail at their first key: say what they are */
  const char *c = e->start;
  while (c < e->end && isspace((unsigned char)*c))
    c++;
  int json = e->end - c >= 2 && c[0] == '{' && c[1] == '"' && memchr(c, ':', e->end - c);
  return fl_err_set(e->err, FL_EPARSE, "%s:%u: %s%s", e->name, line_of(e), what,
                    json ? " (this looks like JSON lines, faultline's own history "
                           "format: leave out --format edn)"
                         : "");
}

static void skip_space(edn_t *e) {
  while (e->p < e->end) {
    char c = *e->p;
    if (c == ';') {
      while (e->p < e->end && *e->p != '\n')
        e->p++;
    } else if (isspace((unsigned char)c) || c == ',') {
      e->p++;
    } else {
      return;
    }
  }
}

static int is_delim(char c) {
  switch (c) {
  case ' ':
  case '\t':
  case '\n':
  case '\v':
  case '\f':
  case '\r': /* isspace's, in C */
  case ',':
  case '(':
  case ')':
  case '[':
  case ']':
  case '{':
  case '}':
  case '"':
  case ';':
    return 1;
  default:
    return 0;
  }
}

/* A JSON string of n bytes at s (plain runs copied whole: keywords are
 * most of a history). */
static void json_str(fl_buf_t *out, const char *s, size_t n) {
  fl_buf_puts(out, "\"");
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c != '"' && c != '\\' && c >= 0x20)
      continue;
    fl_buf_add(out, s + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\')
      fl_buf_printf(out, "\\%c", c);
    else
      fl_buf_printf(out, "\\u%04x", c);
  }
  fl_buf_add(out, s + run, n - run);
  fl_buf_puts(out, "\"");
}

static int value(edn_t *e);

/* Skips white space, comments and #_ discarded forms. */
static int skip_discarded(edn_t *e) {
  for (;;) {
    skip_space(e);
    if (e->end - e->p < 2 || e->p[0] != '#' || e->p[1] != '_')
      return 0;
    e->p += 2;
    size_t mark = e->out->len;
    int r = value(e);
    e->out->len = mark;
    if (e->out->data != NULL)
      e->out->data[mark] = '\0';
    if (r != 0)
      return r;
  }
}

/* A map's key: keywords and strings as they are, anything else as its
 * text (JSON keys are strings). */
static int map_key(edn_t *e) {
  const char *k = e->p;
  if (*k == ':' || *k == '"')
    return value(e);
  if (*k == '[' || *k == '(' || *k == '{' || *k == '#')
    return bad(e, "a map key that is a collection");
  while (e->p < e->end && !is_delim(*e->p))
    e->p++;
  json_str(e->out, k, (size_t)(e->p - k));
  return 0;
}

/* The elements of a collection up to `close`, as a JSON array or object. */
static int collection(edn_t *e, char close, int map) {
  if (++e->depth > 64)
    return bad(e, "nested deeper than 64 levels");
  fl_buf_puts(e->out, map ? "{" : "[");
  for (size_t i = 0;; i++) {
    int r = skip_discarded(e);
    if (r != 0)
      return r;
    if (e->p >= e->end)
      return bad(e, "a collection is not closed");
    if (*e->p == close) {
      e->p++;
      break;
    }
    if (i > 0)
      fl_buf_puts(e->out, ",");
    if (map) {
      if ((r = map_key(e)) != 0)
        return r;
      if ((r = skip_discarded(e)) != 0)
        return r;
      if (e->p >= e->end || *e->p == close)
        return bad(e, "a map key without its value");
      fl_buf_puts(e->out, ":");
    }
    if ((r = value(e)) != 0)
      return r;
  }
  fl_buf_puts(e->out, map ? "}" : "]");
  e->depth--;
  return 0;
}

/* EDN's escapes (\t \n \r \" \\ \uXXXX) are JSON's. */
static int string(edn_t *e) {
  e->p++;
  fl_buf_puts(e->out, "\"");
  while (e->p < e->end && *e->p != '"') {
    unsigned char c = (unsigned char)*e->p;
    if (c == '\\' && e->p + 1 < e->end) {
      fl_buf_add(e->out, e->p, 2);
      e->p += 2;
      continue;
    }
    if (c < 0x20)
      fl_buf_printf(e->out, "\\u%04x", c);
    else
      fl_buf_add(e->out, e->p, 1);
    e->p++;
  }
  if (e->p >= e->end)
    return bad(e, "a string is not closed");
  e->p++;
  fl_buf_puts(e->out, "\"");
  return 0;
}

/* A symbol, keyword, number, nil, true or false. */
static int atom(edn_t *e) {
  const char *a = e->p;
  while (e->p < e->end && !is_delim(*e->p))
    e->p++;
  size_t n = (size_t)(e->p - a);
  if (n == 0)
    return bad(e, "unexpected character");
  if (a[0] == ':') {
    json_str(e->out, a + 1, n - 1);
    return 0;
  }
  if (n == 3 && memcmp(a, "nil", 3) == 0) {
    fl_buf_puts(e->out, "null");
    return 0;
  }
  if ((n == 4 && memcmp(a, "true", 4) == 0) || (n == 5 && memcmp(a, "false", 5) == 0)) {
    fl_buf_add(e->out, a, n);
    return 0;
  }
  if (a[0] == '\\') { /* a character: \a, \newline */
    json_str(e->out, a + 1, n - 1);
    return 0;
  }
  int num = isdigit((unsigned char)a[0]) ||
            ((a[0] == '-' || a[0] == '+') && n > 1 && isdigit((unsigned char)a[1]));
  if (!num) { /* a symbol */
    json_str(e->out, a, n);
    return 0;
  }
  size_t m = n;
  if (a[m - 1] == 'N' || a[m - 1] == 'M') /* 12N, 1.5M */
    m--;
  fl_buf_add(e->out, a[0] == '+' ? a + 1 : a, a[0] == '+' ? m - 1 : m);
  return 0;
}

static int value(edn_t *e) {
  skip_space(e);
  if (e->p >= e->end)
    return bad(e, "a value is missing");
  char c = *e->p;
  if (c == '[' || c == '(') {
    e->p++;
    return collection(e, c == '[' ? ']' : ')', 0);
  }
  if (c == '{') {
    e->p++;
    return collection(e, '}', 1);
  }
  if (c == '"')
    return string(e);
  if (c == '#') {
    e->p++;
    if (e->p < e->end && *e->p == '{') {
      e->p++;
      return collection(e, '}', 0);
    }
    if (e->p < e->end && *e->p == '_') { /* discard the next form */
      e->p--;
      int r = skip_discarded(e);
      return r != 0 ? r : value(e);
    }
    while (e->p < e->end && !is_delim(*e->p)) /* a tag: read what it tags */
      e->p++;
    return value(e);
  }
  if (c == ')' || c == ']' || c == '}')
    return bad(e, "a closing bracket without its opening one");
  return atom(e);
}

int fl_edn_to_jsonl(const char *buf, size_t len, const char *name, fl_buf_t *out,
                    fl_err_t *err) {
  edn_t e = {name ? name : "<edn>", buf, buf + len, buf, out, err, 0};
  skip_space(&e);
  int wrapped = e.p < e.end && (*e.p == '[' || *e.p == '(');
  char close = wrapped && *e.p == '(' ? ')' : ']';
  if (wrapped)
    e.p++;
  for (;;) {
    skip_space(&e);
    if (e.p >= e.end) {
      if (wrapped)
        return bad(&e, "the history's vector is not closed");
      break;
    }
    if (wrapped && *e.p == close) {
      e.p++;
      break;
    }
    if (*e.p != '{' && *e.p != '#')
      return bad(&e,
                 "an operation is a map {:type ..., :f ..., :value ..., :process ...}");
    int r = value(&e);
    if (r != 0)
      return r;
    fl_buf_puts(out, "\n");
  }
  if (out->full)
    return fl_err_set(err, FL_EPARSE, "%s: the history is too large", e.name);
  return 0;
}
