/* The table of toxic kinds, parsing and printing of Toxiproxy's toxic JSON,
 * the docs generated from the rows, and the toxicity decision. Adding a
 * toxic: one toxic_<name>.c file defining `fl_toxic_<name>` and one row
 * X(<name>) in FL_TOXIC_KINDS below (faults/README.md, "Adding a toxic"). */
#include "faults/toxic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "faults/proxy.h"
#include "base/alloc.h"

/* The rows: one per kind, in the order the docs list them. Everything that
 * names toxics (the proxy's parser, the Toxiproxy API's type check, Lua's
 * add_toxic, error messages, the docs) reads this table. */
#define FL_TOXIC_KINDS(X)                                                                \
  X(latency)                                                                             \
  X(bandwidth)                                                                           \
  X(slow_close)                                                                          \
  X(timeout)                                                                             \
  X(reset_peer)                                                                          \
  X(slicer)                                                                              \
  X(limit_data)                                                                          \
  X(noop)                                                                                \
  /* one row per kind above this line */

#define DECLARE(n) extern const fl_toxic_kind_t fl_toxic_##n;
FL_TOXIC_KINDS(DECLARE)
#undef DECLARE
#define ROW(n) &fl_toxic_##n,
static const fl_toxic_kind_t *const kinds[] = {FL_TOXIC_KINDS(ROW)};
#undef ROW

const fl_toxic_kind_t *fl_toxic_kind_find(const char *name) {
  for (size_t i = 0; i < FL_ARRAY_SIZE(kinds); i++)
    if (strcmp(kinds[i]->name, name) == 0)
      return kinds[i];
  return NULL;
}

const char *fl_toxic_kind_names(void) {
  static char names[1024];
  if (names[0] == '\0') {
    size_t n = 0;
    for (size_t i = 0; i < FL_ARRAY_SIZE(kinds); i++)
      n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                            kinds[i]->name);
  }
  return names;
}

static void doc_attrs(fl_buf_t *b, const fl_toxic_kind_t *k, const char *sep) {
  if (k->nattrs == 0)
    fl_buf_puts(b, "none");
  for (int i = 0; i < k->nattrs; i++)
    fl_buf_printf(b, "%s`%s`%s%s", i ? sep : "", k->attrs[i].name,
                  k->attrs[i].unit[0] ? " " : "", k->attrs[i].unit);
}

int fl_toxic_kinds_doc(fl_buf_t *b, int form) {
  if (form == FL_TOXIC_DOC_TABLE)
    fl_buf_puts(b, "| type | attributes | what it does |\n| --- | --- | --- |\n");
  for (size_t i = 0; i < FL_ARRAY_SIZE(kinds); i++) {
    const fl_toxic_kind_t *k = kinds[i];
    if (form == FL_TOXIC_DOC_TABLE) {
      fl_buf_printf(b, "| `%s` | ", k->name);
      doc_attrs(b, k, ", ");
      fl_buf_printf(b, " | %s |\n", k->doc ? k->doc : "");
    } else {
      fl_buf_printf(b, "%s`%s` (", i ? ", " : "", k->name);
      doc_attrs(b, k, ", ");
      fl_buf_puts(b, ")");
    }
  }
  return b->full ? UV_ENOBUFS : 0;
}

static int attr_index(const fl_toxic_kind_t *kind, const char *name) {
  for (int i = 0; i < kind->nattrs; i++)
    if (strcmp(kind->attrs[i].name, name) == 0)
      return i;
  return -1;
}

int64_t fl_toxic_attr(const fl_toxic_t *t, const char *name) {
  int i = attr_index(t->kind, name);
  return i >= 0 ? t->attr[i] : 0;
}

static void attr_names(const fl_toxic_kind_t *kind, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; i < kind->nattrs && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", kind->attrs[i].name);
}

/* Reads one attribute value: a non-negative integer. JSON reals that are
 * whole numbers (Lua's 100.0) are accepted; 1.5, strings and negatives are
 * not, as Toxiproxy's int64 fields do not accept them. */
static int parse_attr(const fl_toxic_attr_t *a, const json_t *v, const char *toxic,
                      int64_t *out, fl_err_t *err) {
  double d;
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0)
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"attributes.%s\" must be >= 0 (got %lld)",
                        toxic, a->name, (long long)i);
    if (i > a->max)
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"attributes.%s\" must be <= %lld (got %lld)",
                        toxic, a->name, (long long)a->max, (long long)i);
    *out = (int64_t)i;
    return 0;
  }
  if (json_is_real(v)) {
    d = json_real_value(v);
    if (d < 0)
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"attributes.%s\" must be >= 0 (got %g)", toxic,
                        a->name, d);
    if (d != floor(d) || d > (double)a->max)
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"attributes.%s\" must be a whole number "
                        "<= %lld (got %g)",
                        toxic, a->name, (long long)a->max, d);
    *out = (int64_t)d;
    return 0;
  }
  return fl_err_set(err, FL_ECONFIG,
                    "toxic %s: field \"attributes.%s\" must be a non-negative integer",
                    toxic, a->name);
}

static int parse_stream(const json_t *v, const char *toxic, int *out, fl_err_t *err) {
  const char *s = json_string_value(v);
  if (s != NULL && strcasecmp(s, "upstream") == 0)
    *out = FL_UPSTREAM;
  else if (s != NULL && strcasecmp(s, "downstream") == 0)
    *out = FL_DOWNSTREAM;
  else if (s != NULL && s[0] == '\0')
    *out = FL_DOWNSTREAM; /* Toxiproxy takes "" as the default */
  else
    return fl_err_set(err, FL_ECONFIG,
                      "toxic %s: field \"stream\" must be \"upstream\" or "
                      "\"downstream\"%s%s%s",
                      toxic, s ? " (got \"" : "", s ? s : "", s ? "\")" : "");
  return 0;
}

/* Sets out->kind from the "type" field v: the base's kind (which v may not
 * change) or the named kind. label may be NULL. Returns 0 or FL_ECONFIG. */
static int parse_kind(fl_toxic_t *out, const json_t *v, const fl_toxic_t *base,
                      const char *label, fl_err_t *err) {
  if (base != NULL) {
    out->kind = base->kind;
    if (v != NULL && !json_is_null(v) &&
        (!json_is_string(v) || strcmp(json_string_value(v), base->kind->name) != 0))
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"type\" cannot change (it is %s)", label,
                        base->kind->name);
    return 0;
  }
  if (v == NULL || json_is_null(v))
    return fl_err_set(err, FL_ECONFIG, "toxic%s%s: field \"type\" is required",
                      label ? " " : "", label ? label : "");
  if (!json_is_string(v))
    return fl_err_set(err, FL_ECONFIG, "toxic%s%s: field \"type\" must be a string",
                      label ? " " : "", label ? label : "");
  out->kind = fl_toxic_kind_find(json_string_value(v));
  if (out->kind == NULL)
    return fl_err_set(err, FL_ECONFIG,
                      "toxic%s%s: unknown toxic type \"%s\" in field \"type\" "
                      "(known: %s)",
                      label ? " " : "", label ? label : "", json_string_value(v),
                      fl_toxic_kind_names());
  return 0;
}

/* Sets out->stream from the "stream" field v (the base's, which v may not
 * change, or downstream by default). Returns 0 or FL_ECONFIG. */
static int parse_stream_field(fl_toxic_t *out, const json_t *v, const fl_toxic_t *base,
                              const char *label, fl_err_t *err) {
  out->stream = base ? base->stream : FL_DOWNSTREAM;
  if (v == NULL || json_is_null(v))
    return 0;
  int stream = FL_DOWNSTREAM;
  int rc = parse_stream(v, label, &stream, err);
  if (rc)
    return rc;
  if (base != NULL && stream != base->stream)
    return fl_err_set(err, FL_ECONFIG, "toxic %s: field \"stream\" cannot change", label);
  out->stream = stream;
  return 0;
}

/* Sets out->toxicity and out->rolls from the "toxicity" field v; an update
 * that gives it counts one more roll. Returns 0 or FL_ECONFIG. */
static int parse_toxicity(fl_toxic_t *out, const json_t *v, const fl_toxic_t *base,
                          const char *label, fl_err_t *err) {
  out->toxicity = base ? base->toxicity : 1.0;
  out->rolls = base ? base->rolls : 0;
  if (v == NULL || json_is_null(v))
    return 0;
  double x = json_number_value(v);
  if (!json_is_number(v) || !(x >= 0 && x <= 1))
    return fl_err_set(err, FL_ECONFIG,
                      "toxic %s: field \"toxicity\" must be a number from 0 to 1", label);
  out->toxicity = x;
  if (base != NULL)
    out->rolls++;
  return 0;
}

/* Sets out->attr from the base or the kind's defaults, then from the
 * "attributes" object v, then runs the kind's check. Returns 0 or an error. */
static int parse_attributes(fl_toxic_t *out, const json_t *v, const fl_toxic_t *base,
                            const char *label, fl_err_t *err) {
  char known[128];
  int rc;
  for (int i = 0; i < out->kind->nattrs; i++)
    out->attr[i] = base ? base->attr[i] : out->kind->attrs[i].def;
  if (v != NULL && !json_is_null(v)) {
    const char *key;
    json_t *value;
    if (!json_is_object(v))
      return fl_err_set(err, FL_ECONFIG,
                        "toxic %s: field \"attributes\" must be an object", label);
    json_object_foreach((json_t *)v, key, value) {
      int i = attr_index(out->kind, key);
      if (i < 0) {
        attr_names(out->kind, known, sizeof(known));
        return fl_err_set(err, FL_ECONFIG,
                          "toxic %s: unknown attribute \"attributes.%s\" for type %s "
                          "(known: %s)",
                          label, key, out->kind->name, known);
      }
      rc = parse_attr(&out->kind->attrs[i], value, label, &out->attr[i], err);
      if (rc)
        return rc;
    }
  }
  if (out->kind->check != NULL)
    return out->kind->check(out->attr, label, err);
  return 0;
}

int fl_toxic_parse(fl_toxic_t *out, const json_t *spec, const fl_toxic_t *base,
                   fl_err_t *err) {
  const char *label;
  json_t *v;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!json_is_object(spec))
    return fl_err_set(err, FL_ECONFIG, "toxic: expected a JSON object");

  /* The name first, so that later messages can say which toxic. */
  v = json_object_get(spec, "name");
  if (v != NULL && !json_is_null(v) && !json_is_string(v))
    return fl_err_set(err, FL_ECONFIG, "toxic: field \"name\" must be a string");
  label = base ? base->name : (json_is_string(v) ? json_string_value(v) : NULL);

  rc = parse_kind(out, json_object_get(spec, "type"), base, label, err);
  if (rc)
    return rc;
  if (label == NULL)
    label = out->kind->name;
  rc = parse_stream_field(out, json_object_get(spec, "stream"), base, label, err);
  if (rc == 0)
    rc = parse_toxicity(out, json_object_get(spec, "toxicity"), base, label, err);
  if (rc == 0)
    rc = parse_attributes(out, json_object_get(spec, "attributes"), base, label, err);
  if (rc)
    return rc;

  if (base != NULL)
    out->name = fl_strdup(base->name);
  else if (json_is_string(v) && json_string_value(v)[0] != '\0')
    out->name = fl_strdup(json_string_value(v));
  else
    out->name = fl_asprintf("%s_%s", out->kind->name,
                            out->stream == FL_UPSTREAM ? "upstream" : "downstream");
  return 0;
}

void fl_toxic_clear(fl_toxic_t *t) {
  if (t == NULL)
    return;
  fl_free(t->name);
  t->name = NULL;
}

json_t *fl_toxic_to_json(const fl_toxic_t *t) {
  json_t *attrs = json_object();
  for (int i = 0; i < t->kind->nattrs; i++)
    json_object_set_new(attrs, t->kind->attrs[i].name, json_integer(t->attr[i]));
  return json_pack("{s:s, s:s, s:s, s:f, s:o}", "name", t->name, "type", t->kind->name,
                   "stream", t->stream == FL_UPSTREAM ? "upstream" : "downstream",
                   "toxicity", t->toxicity, "attributes", attrs);
}

double fl_toxic_draw(uint64_t seed, uint64_t conn, uint64_t toxic, uint32_t roll) {
  uint64_t x =
      fl_mix64(seed ^ fl_mix64(conn ^ fl_mix64(toxic * 0x100000001b3ULL + roll)));
  return (double)(x >> 11) * 0x1.0p-53;
}

int fl_toxic_roll(uint64_t seed, uint64_t conn, const fl_toxic_t *t) {
  if (t->toxicity >= 1.0)
    return 1;
  if (t->toxicity <= 0.0)
    return 0;
  return fl_toxic_draw(seed, conn, t->serial, t->rolls) < t->toxicity;
}
