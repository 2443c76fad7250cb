/* JSON as Toxiproxy's Go code reads and writes it, so that clients see the
 * same bytes: encoding/json matches field names case-insensitively, ignores
 * what follows the first value of a body, prints float32 in its shortest
 * form and escapes <, > and & inside strings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults/api_int.h"
#include "base/alloc.h"

static const char *kind_of(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "bool";
  default:
    return "null";
  }
}

json_t *api_parse(const char *body, size_t len, char *err, size_t errsize) {
  json_error_t e;
  size_t i = 0;
  while (i < len &&
         (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
    i++;
  if (i == len) {
    snprintf(err, errsize, "EOF");
    return NULL;
  }
  json_t *v = json_loadb(body, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
  if (v != NULL)
    return v;
  if (body[i] == 't' || body[i] == 'f' || body[i] == 'n') {
    /* Go's scanner names the first wrong letter of a literal. */
    const char *lit = body[i] == 't' ? "true" : body[i] == 'f' ? "false" : "null";
    size_t k = 1;
    while (lit[k] != '\0' && i + k < len && body[i + k] == lit[k])
      k++;
    if (lit[k] != '\0' && i + k >= len) {
      snprintf(err, errsize, "unexpected EOF");
      return NULL;
    }
    if (lit[k] != '\0') {
      unsigned char c = (unsigned char)body[i + k];
      if (c >= 0x20 && c < 0x7f && c != '\'')
        snprintf(err, errsize, "invalid character '%c' in literal %s (expecting '%c')", c,
                 lit, lit[k]);
      else
        snprintf(err, errsize,
                 "invalid character '\\x%02x' in literal %s (expecting '%c')", c, lit,
                 lit[k]);
      return NULL;
    }
  }
  if (strchr("{[\"-0123456789tfn", body[i]) == NULL || body[i] == '\0') {
    unsigned char c = (unsigned char)body[i];
    if (c >= 0x20 && c < 0x7f && c != '\'')
      snprintf(err, errsize, "invalid character '%c' looking for beginning of value", c);
    else
      snprintf(err, errsize, "invalid character '\\x%02x' looking for beginning of value",
               c);
  } else if (e.position >= (int)len) {
    snprintf(err, errsize, "unexpected EOF");
  } else {
    snprintf(err, errsize, "%s", e.text);
  }
  return NULL;
}

json_t *api_get(const json_t *obj, const char *key) {
  const char *k;
  json_t *v, *found = NULL;
  if (!json_is_object(obj))
    return NULL;
  /* Go decodes each member into the field it matches, exactly or up to
   * case, so the last matching member in the document wins. */
  json_object_foreach((json_t *)obj, k, v) {
    if (strcasecmp(k, key) == 0)
      found = v;
  }
  return json_is_null(found) ? NULL : found;
}

void api_type_error(const json_t *v, const char *gotype, char *err, size_t errsize) {
  snprintf(err, errsize, "json: cannot unmarshal %s into Go value of type %s", kind_of(v),
           gotype);
}

static int field_error(const json_t *v, const char *gostruct, const char *key,
                       const char *type, char *err, size_t errsize) {
  snprintf(err, errsize,
           "json: cannot unmarshal %s into Go struct field %s.%s of type %s", kind_of(v),
           gostruct, key, type);
  return -1;
}

int api_get_str(const json_t *obj, const char *key, const char *gotype, const char **out,
                char *err, size_t errsize) {
  json_t *v = api_get(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_string(v))
    return field_error(v, gotype, key, "string", err, errsize);
  *out = json_string_value(v);
  return 0;
}

int api_get_bool(const json_t *obj, const char *key, const char *gotype, int *out,
                 char *err, size_t errsize) {
  json_t *v = api_get(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_boolean(v))
    return field_error(v, gotype, key, "bool", err, errsize);
  *out = json_is_true(v);
  return 0;
}

int api_get_float32(const json_t *obj, const char *key, const char *gotype, double *out,
                    char *err, size_t errsize) {
  json_t *v = api_get(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_number(v))
    return field_error(v, gotype, key, "float32", err, errsize);
  *out = json_number_value(v);
  return 0;
}

json_t *api_float32(double x) {
  char buf[40];
  float f = (float)x;
  if (isfinite(f) && f == floorf(f) && fabsf(f) < 1e15f)
    return json_integer((json_int_t)f);
  /* The fewest digits that read back as the same float32, as Go prints. */
  for (int p = 1; p <= 9; p++) {
    snprintf(buf, sizeof(buf), "%.*g", p, (double)f);
    if (strtof(buf, NULL) == f)
      break;
  }
  return json_real(strtod(buf, NULL));
}

char *api_dump(const json_t *v, size_t *len) {
  /* %.9g prints the shortest form api_float32 chose (at most 9 digits). */
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
  size_t n = 0, extra = 0;
  if (s == NULL)
    s = strdup("null");
  for (const char *p = s; *p; p++) {
    if (*p == '<' || *p == '>' || *p == '&')
      extra += 5;
    else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
             ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9))
      extra += 3;
  }
  char *out = fl_malloc(strlen(s) + extra + 1);
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '<' || c == '>' || c == '&') {
      n += (size_t)sprintf(out + n, "\\u%04x", c);
    } else if (c == 0xe2 && (unsigned char)p[1] == 0x80 &&
               ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
      n += (size_t)sprintf(out + n, "\\u202%c", (unsigned char)p[2] == 0xa8 ? '8' : '9');
      p += 2;
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = '\0';
  free(s);
  *len = n;
  return out;
}
