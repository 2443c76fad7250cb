/* Linearizability checker: hand-made histories with known answers, a brute
 * force oracle on random small histories, and the generator's property (every
 * generated history passes, every corrupted one fails at the corrupted
 * read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check/check.h"
#include "check/gen.h"

/* ---- A small language for histories ---------------------------------------
 * "P T F [@KEY] [VALUE]; ..." where T is i (invoke), ok, fail or info, F is r,
 * w, cas (or any f), VALUE is JSON. Times are 1000 ns per line. */

static char *history(const char *dsl) {
  size_t cap = strlen(dsl) * 4 + 256, used = 0;
  char *out = malloc(cap);
  char *copy = strdup(dsl);
  long t = 0;
  for (char *tok = strtok(copy, ";"); tok != NULL; tok = strtok(NULL, ";")) {
    int proc;
    char type[8], f[16], rest[256] = "";
    int n = 0;
    if (sscanf(tok, " %d %7s %15s %n", &proc, type, f, &n) < 3)
      fail_msg("bad dsl: %s", tok);
    snprintf(rest, sizeof(rest), "%s", tok + n);
    const char *key = NULL;
    char keybuf[64];
    char *val = rest;
    if (rest[0] == '@') {
      int k = 0;
      sscanf(rest, "@%63s %n", keybuf, &k);
      key = keybuf;
      val = rest + k;
    }
    const char *fname = strcmp(f, "r") == 0 ? "read" : strcmp(f, "w") == 0 ? "write" : f;
    const char *tname = strcmp(type, "i") == 0 ? "invoke" : type;
    t += 1000;
    char line[512];
    int w = snprintf(line, sizeof(line), "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\"",
                     proc, tname, fname);
    if (key != NULL)
      w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"key\":\"%s\"", key);
    if (val[0] != '\0')
      w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"value\":%s", val);
    w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"time\":%ld}\n", t);
    if (used + (size_t)w + 1 > cap)
      out = realloc(out, cap = cap * 2 + (size_t)w);
    memcpy(out + used, line, (size_t)w + 1);
    used += (size_t)w;
  }
  free(copy);
  if (used == 0)
    out[0] = '\0';
  return out;
}

/* Checks dsl against model; returns the result (caller decrefs). */
static json_t *check_dsl(const char *dsl, const char *model) {
  char *text = history(dsl);
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  int r = fl_history_parse(&ops, text, strlen(text), "t.jsonl", &err);
  if (r != 0)
    fail_msg("parse: %s\n%s", err.msg, text);
  json_t *res;
  r = fl_check_ops(ops, model, NULL, &res, &err);
  if (r != 0)
    fail_msg("check: %s", err.msg);
  fl_ops_free(ops);
  free(text);
  return res;
}

static void expect(const char *dsl, const char *model, fl_check_status_t want) {
  json_t *res = check_dsl(dsl, model);
  fl_check_status_t got = fl_check_status(res);
  if (got != want) {
    char *s = json_dumps(res, JSON_INDENT(1));
    fail_msg("%s\nwanted %d, got %d:\n%s", dsl, want, got, s);
  }
  json_decref(res);
}

#define VALID(dsl) expect((dsl), "cas-register", FL_CHECK_VALID)
#define INVALID(dsl) expect((dsl), "cas-register", FL_CHECK_INVALID)

/* ---- Hand-made histories ---------------------------------------------------- */

static void test_stale_read(void **state) {
  const char *h = "0 i w 1; 0 ok w 1; 0 i w 2; 0 ok w 2; 1 i r; 1 ok r 1";
  json_t *res = check_dsl(h, "register");
  assert_int_equal(fl_check_status(res), FL_CHECK_INVALID);
  json_t *a = json_object_get(res, "anomaly");
  assert_non_null(a);
  json_t *op = json_object_get(a, "op");
  assert_string_equal(json_string_value(json_object_get(op, "f")), "read");
  assert_int_equal(json_integer_value(json_object_get(op, "process")), 1);
  assert_int_equal(json_integer_value(json_object_get(op, "value")), 1);
  assert_int_equal(json_integer_value(json_object_get(a, "prefix_end_line")), 6);
  assert_true(json_is_true(json_object_get(a, "prefix_exact")));
  const char *msg = json_string_value(json_object_get(a, "message"));
  assert_non_null(strstr(msg, "returned 1"));
  assert_non_null(strstr(msg, "stale"));
  json_t *ow = json_object_get(a, "overwritten_by");
  assert_int_equal(json_integer_value(json_object_get(ow, "value")), 2);
  json_decref(res);
  /* The same read while the second write is in flight is fine. */
  expect("0 i w 1; 0 ok w 1; 0 i w 2; 1 i r; 1 ok r 1; 0 ok w 2", "register",
         FL_CHECK_VALID);
}

static void test_never_written(void **state) {
  json_t *res = check_dsl("0 i w 1; 0 ok w 1; 1 i r; 1 ok r 3", "register");
  assert_int_equal(fl_check_status(res), FL_CHECK_INVALID);
  json_t *a = json_object_get(res, "anomaly");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "op"), "value")),
                   3);
  assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "returned 3"));
  json_decref(res);
  INVALID("1 i r; 1 ok r 3");
}

static void test_initial_null(void **state) {
  VALID("1 i r; 1 ok r null");
  VALID("0 i w 1; 1 i r; 1 ok r null; 0 ok w 1");
  INVALID("0 i w 1; 0 ok w 1; 1 i r; 1 ok r null");
  /* A read that says nothing about the value is not a read of null. */
  VALID("0 i w 1; 0 ok w 1; 1 i r; 1 fail r; 2 i r; 2 info r");
}

static void test_concurrent_read_write(void **state) {
  VALID("0 i w 1; 1 i r; 1 ok r 1; 0 ok w 1");
  VALID("0 i w 1; 1 i r; 1 ok r null; 0 ok w 1");
  /* Once a reader saw the new value, a later reader cannot see the old. */
  INVALID("0 i w 1; 1 i r; 1 ok r 1; 2 i r; 2 ok r null; 0 ok w 1");
  VALID("0 i w 1; 1 i r; 2 i r; 2 ok r null; 1 ok r 1; 0 ok w 1");
}

static void test_two_orders(void **state) {
  /* Writes of 1 and 2 in flight together; reader 2 sees 1 then 2, reader 3
   * sees 2 then 1: no single order of the writes explains both. */
  INVALID("0 i w 1; 1 i w 2;"
          "2 i r; 3 i r; 2 ok r 1; 3 ok r 2;"
          "2 i r; 3 i r; 2 ok r 2; 3 ok r 1;"
          "0 ok w 1; 1 ok w 2");
  VALID("0 i w 1; 1 i w 2;"
        "2 i r; 3 i r; 2 ok r 1; 3 ok r 1;"
        "2 i r; 3 i r; 2 ok r 2; 3 ok r 2;"
        "0 ok w 1; 1 ok w 2");
  /* The reads may interleave: 3's second read overlaps 2's first. */
  VALID("0 i w 1; 1 i w 2;"
        "2 i r; 2 ok r 1; 3 i r; 3 ok r 2; 2 i r; 2 ok r 2;"
        "0 ok w 1; 1 ok w 2");
}

static void test_info_writes(void **state) {
  /* An info write may have happened ... */
  VALID("0 i w 1; 0 ok w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 2");
  /* ... or not ... */
  VALID("0 i w 1; 0 ok w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 1");
  /* ... or later, long after its info completion ... */
  VALID("0 i w 1; 0 ok w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 1; 2 i r; 2 ok r 2");
  /* ... but once it happened it stays until something overwrites it ... */
  INVALID("0 i w 1; 0 ok w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 2; 2 i r; 2 ok r 1");
  /* ... and never before it was invoked. */
  INVALID("2 i r; 2 ok r 5; 1 i w 5; 1 info w 5");
  /* A write that never completed counts as info. */
  VALID("0 i w 1; 1 i r; 1 ok r 1");
  VALID("0 i w 1; 1 i r; 1 ok r null; 1 i r; 1 ok r 1");
  /* Two info writes, seen in one order. */
  VALID("0 i w 1; 0 info w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 2; 2 i r; 2 ok r 1");
  INVALID("0 i w 1; 0 info w 1; 1 i w 2; 1 info w 2; 2 i r; 2 ok r 2; 2 i r; 2 ok r 1;"
          "2 i r; 2 ok r 2");
}

static void test_fail_ignored(void **state) {
  VALID("0 i w 1; 0 fail w 1; 1 i r; 1 ok r null");
  INVALID("0 i w 1; 0 fail w 1; 1 i r; 1 ok r 1");
  VALID("0 i w 1; 0 ok w 1; 1 i cas [5,6]; 1 fail cas [5,6]; 2 i r; 2 ok r 1");
}

static void test_cas(void **state) {
  VALID("0 i w 0; 0 ok w 0; 1 i cas [0,1]; 1 ok cas [0,1]; 2 i cas [1,2]; 2 ok cas [1,2];"
        "3 i r; 3 ok r 2");
  /* A chain out of order. */
  INVALID(
      "0 i w 0; 0 ok w 0; 2 i cas [1,2]; 2 ok cas [1,2]; 1 i cas [0,1]; 1 ok cas [0,1]");
  /* The same cas cannot succeed twice in a row. */
  INVALID(
      "0 i w 0; 0 ok w 0; 1 i cas [0,1]; 1 ok cas [0,1]; 2 i cas [0,1]; 2 ok cas [0,1]");
  /* Concurrent: only one of two cas from 0 can succeed ... */
  INVALID(
      "0 i w 0; 0 ok w 0; 1 i cas [0,1]; 2 i cas [0,2]; 1 ok cas [0,1]; 2 ok cas [0,2]");
  /* ... unless a write puts 0 back in between. */
  VALID("0 i w 0; 0 ok w 0; 1 i cas [0,1]; 2 i cas [0,2]; 3 i w 0; 1 ok cas [0,1];"
        "2 ok cas [0,2]; 3 ok w 0");
  /* An info cas may have taken effect. */
  VALID("0 i w 0; 0 ok w 0; 1 i cas [0,1]; 1 info cas [0,1]; 2 i r; 2 ok r 1");
  VALID("0 i w 0; 0 ok w 0; 1 i cas [0,1]; 1 info cas [0,1]; 2 i r; 2 ok r 0");
  /* cas from the initial null. */
  VALID("1 i cas [null,1]; 1 ok cas [null,1]; 2 i r; 2 ok r 1");
}

static void test_values_by_json_equality(void **state) {
  VALID("0 i w \"a\"; 0 ok w \"a\"; 1 i r; 1 ok r \"a\"");
  INVALID("0 i w \"a\"; 0 ok w \"a\"; 1 i r; 1 ok r \"b\"");
  INVALID("0 i w 1; 0 ok w 1; 1 i r; 1 ok r \"1\"");
  INVALID("0 i w 1; 0 ok w 1; 1 i r; 1 ok r 1.0");
  VALID("0 i w {\"a\":1,\"b\":2}; 0 ok w {\"a\":1,\"b\":2}; 1 i r; 1 ok r "
        "{\"b\":2,\"a\":1}");
}

static void test_kv_keys_independent(void **state) {
  const char *ok = "0 i w @x 1; 1 i w @y 2; 0 ok w @x 1; 1 ok w @y 2;"
                   "2 i r @x; 2 ok r @x 1; 3 i r @y; 3 ok r @y 2";
  expect(ok, "kv", FL_CHECK_VALID);
  /* 2 was written to y only. */
  const char *bad = "0 i w @x 1; 1 i w @y 2; 0 ok w @x 1; 1 ok w @y 2;"
                    "2 i r @x; 2 ok r @x 2; 3 i r @y; 3 ok r @y 2";
  json_t *res = check_dsl(bad, "kv");
  assert_int_equal(fl_check_status(res), FL_CHECK_INVALID);
  assert_int_equal(json_integer_value(json_object_get(res, "keys")), 2);
  json_t *a = json_object_get(res, "anomaly");
  assert_string_equal(json_string_value(json_object_get(a, "key")), "x");
  json_t *keys = json_object_get(res, "invalid_keys");
  assert_int_equal(json_array_size(keys), 1);
  assert_string_equal(json_string_value(json_array_get(keys, 0)), "x");
  json_decref(res);
  /* Per key, a stale read on one key next to good traffic on another. */
  expect("0 i w @a 1; 0 ok w @a 1; 0 i w @a 2; 0 ok w @a 2; 1 i w @b 1; 1 ok w @b 1;"
         "2 i r @b; 2 ok r @b 1; 2 i r @a; 2 ok r @a 1",
         "kv", FL_CHECK_INVALID);
  /* The register model checks keys on their own too. */
  expect(ok, "register", FL_CHECK_VALID);
}

static void test_model_rejects(void **state) {
  char *text = history("0 i w 1; 0 ok w 1; 1 i cas [1,2]; 1 ok cas [1,2]");
  fl_ops_t *ops;
  fl_err_t err;
  assert_int_equal(fl_history_parse(&ops, text, strlen(text), "h.jsonl", &err), 0);
  json_t *res = NULL;
  assert_int_equal(fl_check_ops(ops, "register", NULL, &res, &err), FL_EPARSE);
  assert_null(res);
  assert_non_null(strstr(err.msg, "h.jsonl:3:"));
  assert_non_null(strstr(err.msg, "cas"));
  assert_int_equal(fl_check_ops(ops, "cas-register", NULL, &res, &err), 0);
  json_decref(res);
  assert_int_equal(fl_check_ops(ops, "nope", NULL, &res, &err), FL_EUSAGE);
  fl_ops_free(ops);
  free(text);

  text = history("0 i w 1; 0 ok w 1; 1 i add 1; 1 ok add 1");
  assert_int_equal(fl_history_parse(&ops, text, strlen(text), "h.jsonl", &err), 0);
  assert_int_equal(fl_check_ops(ops, "kv", NULL, &res, &err), FL_EPARSE);
  assert_non_null(strstr(err.msg, "h.jsonl:3:"));
  fl_ops_free(ops);
  free(text);

  text = history("0 i w 1; 0 ok w 1; 1 i cas 5; 1 ok cas 5");
  assert_int_equal(fl_history_parse(&ops, text, strlen(text), "h.jsonl", &err), 0);
  assert_int_equal(fl_check_ops(ops, "kv", NULL, &res, &err), FL_EPARSE);
  assert_non_null(strstr(err.msg, "[old, new]"));
  fl_ops_free(ops);
  free(text);
}

static void test_empty(void **state) {
  fl_ops_t *ops;
  fl_err_t err;
  assert_int_equal(fl_history_parse(&ops, "", 0, NULL, &err), 0);
  json_t *res;
  assert_int_equal(fl_check_ops(ops, "kv", NULL, &res, &err), 0);
  assert_int_equal(fl_check_status(res), FL_CHECK_VALID);
  assert_int_equal(json_integer_value(json_object_get(res, "keys")), 0);
  json_decref(res);
  fl_ops_free(ops);
}

/* ---- A brute-force oracle ------------------------------------------------------
 * Tries every order of the ops (memoised on (done set, state)); an info op may
 * be left out. Only for a handful of ops. */

typedef struct {
  int kind;       /* 0 read, 1 write, 2 cas */
  int ok;         /* 1 ok, 0 info (fail ops are not included) */
  int a, b;       /* values; 0 is null */
  int ipos, cpos; /* cpos: INT32_MAX when info */
} bop_t;

static int brute_rec(const bop_t *ops, int n, unsigned done, int state,
                     unsigned char *seen) {
  unsigned okmask = 0;
  for (int i = 0; i < n; i++)
    if (ops[i].ok)
      okmask |= 1u << i;
  if ((done & okmask) == okmask)
    return 1;
  unsigned char *mark = &seen[done * 8 + (unsigned)state];
  if (*mark)
    return 0;
  *mark = 1;
  for (int i = 0; i < n; i++) {
    if (done & (1u << i))
      continue;
    /* Every ok op that completed before i was invoked must be done. */
    int blocked = 0;
    for (int j = 0; j < n && !blocked; j++)
      blocked = j != i && ops[j].ok && !(done & (1u << j)) && ops[j].cpos < ops[i].ipos;
    if (blocked)
      continue;
    int ns = state;
    if (ops[i].kind == 0) {
      if (state != ops[i].a)
        continue;
    } else if (ops[i].kind == 1) {
      ns = ops[i].a;
    } else {
      if (state != ops[i].a)
        continue;
      ns = ops[i].b;
    }
    if (brute_rec(ops, n, done | (1u << i), ns, seen))
      return 1;
  }
  return 0;
}

static int brute(const bop_t *ops, int n) {
  unsigned char *seen = calloc((size_t)(1u << n) * 8, 1);
  if (seen == NULL)
    fail();
  int r = brute_rec(ops, n, 0, 0, seen);
  free(seen);
  return r;
}

typedef struct {
  uint64_t s;
} lcg_t;

static unsigned rnd(lcg_t *r, unsigned n) {
  r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)((r->s >> 33) % n);
}

static void val_text(int v, char *buf, size_t size) {
  if (v == 0)
    snprintf(buf, size, "null");
  else
    snprintf(buf, size, "%d", v);
}

#define MAX_BOPS 14

static int any_busy(const int *cur, int n) {
  for (int i = 0; i < n; i++)
    if (cur[i] >= 0)
      return 1;
  return 0;
}

/* One generated operation, as the processes see it. */
typedef struct {
  int kind, a, b, res, type, proc, done;
} gop_t;

/* The state of random_history: the JSON lines written so far and the
 * oracle's ops. */
typedef struct {
  lcg_t *r;
  char *buf;
  size_t size, used;
  int line, pos, nb, nvals;
  bop_t *out;
  gop_t op[MAX_BOPS];
  int bidx[MAX_BOPS];
} gen_t;

/* Appends one history line; value is the JSON text of the "value" field. */
static void gen_line(gen_t *g, int p, const char *type, int kind, const char *value) {
  const char *f = kind == 0 ? "read" : kind == 1 ? "write" : "cas";
  g->used += (size_t)snprintf(g->buf + g->used, g->size - g->used,
                              "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\","
                              "\"value\":%s,\"time\":%d}\n",
                              p, type, f, value, ++g->line);
}

/* The "value" text of a write (a) or a cas ([a,b]) into buf. */
static void gen_args(const gop_t *o, char *buf, size_t size) {
  char va[16], vb[16];
  val_text(o->a, va, sizeof(va));
  val_text(o->b, vb, sizeof(vb));
  if (o->kind == 1)
    snprintf(buf, size, "%s", va);
  else
    snprintf(buf, size, "[%s,%s]", va, vb);
}

/* Process p invokes op i: draws it, writes the invoke line, adds it to the
 * oracle's ops as not yet completed. */
static void gen_invoke(gen_t *g, int p, int i, int cas) {
  gop_t *o = &g->op[i];
  char v[40];
  o->kind = (int)rnd(g->r, cas ? 3 : 2);
  o->a = (int)rnd(g->r, (unsigned)g->nvals);
  o->b = (int)rnd(g->r, (unsigned)g->nvals);
  o->proc = p;
  o->done = 0;
  g->bidx[i] = -1;
  if (o->kind == 0)
    snprintf(v, sizeof(v), "null");
  else
    gen_args(o, v, sizeof(v));
  gen_line(g, p, "invoke", o->kind, v);
  g->out[g->nb] = (bop_t){o->kind, 0, o->a, o->b, g->pos++, INT32_MAX};
  g->bidx[i] = g->nb++;
}

/* Process p completes op i: draws ok (60%), info (20%) or fail (20%) and a
 * read's result, writes the line, and tells the oracle (a fail or an info
 * read is marked removed). */
static void gen_complete(gen_t *g, int p, int i) {
  static const char *const types[] = {"ok", "fail", "info"};
  gop_t *o = &g->op[i];
  char v[40];
  unsigned t = rnd(g->r, 10);
  o->type = t < 6 ? 0 : t < 8 ? 2 : 1; /* ok, info, fail */
  if (o->kind == 0) {
    o->res = (int)rnd(g->r, (unsigned)g->nvals);
    if (o->type == 0)
      val_text(o->res, v, sizeof(v));
    else
      snprintf(v, sizeof(v), "null");
  } else {
    gen_args(o, v, sizeof(v));
  }
  gen_line(g, p, types[o->type], o->kind, v);
  bop_t *b = &g->out[g->bidx[i]];
  int cp = g->pos++;
  if (o->type == 0) {
    b->ok = 1;
    b->cpos = cp;
    if (o->kind == 0)
      b->a = o->res;
  } else if (o->type == 1) {
    b->kind = -1; /* fail: removed */
  } else if (o->kind == 0) {
    b->kind = -1; /* an info read says nothing */
  }
}

/* A random history of at most maxops ops (<= MAX_BOPS) by at most 5
 * processes over nvals values (null, 1, 2 ... at most 8), as JSON lines, and the same ops
 * for the oracle. Returns the number of oracle ops. */
static int random_history(lcg_t *r, char *buf, size_t size, bop_t *out, int cas,
                          int maxops, int nvals) {
  int nproc = 1 + (int)rnd(r, 5), nops = 1 + (int)rnd(r, (unsigned)maxops);
  int cur[5] = {-1, -1, -1, -1, -1};
  int started = 0;
  gen_t g = {.r = r, .buf = buf, .size = size, .nvals = nvals, .out = out};
  while (started < nops || any_busy(cur, 5)) {
    int p = (int)rnd(r, (unsigned)nproc);
    if (cur[p] >= 0) {
      gen_complete(&g, p, cur[p]);
      cur[p] = -1;
    } else if (started < nops) {
      cur[p] = started;
      gen_invoke(&g, p, started++, cas);
    } else if (rnd(r, 8) == 0) {
      break; /* maybe leave the rest unfinished */
    }
  }
  /* Drop the removed ops. */
  int m = 0;
  for (int i = 0; i < g.nb; i++)
    if (out[i].kind >= 0)
      out[m++] = out[i];
  return m;
}

/* The failing history goes to $FL_TEST_DUMP too: cmocka cuts long messages. */
static void dump(const char *buf) {
  const char *path = getenv("FL_TEST_DUMP");
  FILE *fp = path != NULL ? fopen(path, "w") : NULL;
  if (fp != NULL) {
    fputs(buf, fp);
    fclose(fp);
  }
}

static void test_oracle(void **state) {
  static char buf[8192];
  bop_t bops[MAX_BOPS];
  /* FL_ORACLE_ITERS, FL_ORACLE_SEED, FL_ORACLE_MAXOPS, FL_ORACLE_VALUES run
   * it longer, or elsewhere, or bigger. */
  const char *e = getenv("FL_ORACLE_MAXOPS");
  int maxops = e != NULL ? atoi(e) : 9;
  if (maxops < 1 || maxops > MAX_BOPS)
    maxops = 9;
  e = getenv("FL_ORACLE_VALUES");
  int nvals = e != NULL ? atoi(e) : 4;
  if (nvals < 1 || nvals > 8)
    nvals = 4;
  e = getenv("FL_ORACLE_ITERS");
  int iters = e != NULL ? atoi(e) : 30000;
  e = getenv("FL_ORACLE_SEED");
  lcg_t r = {e != NULL ? strtoull(e, NULL, 10) : 12345};
  int counts[2] = {0, 0};
  for (int iter = 0; iter < iters; iter++) {
    int cas = iter % 3 != 0;
    int nb = random_history(&r, buf, sizeof(buf), bops, cas, maxops, nvals);
    int want = brute(bops, nb);
    fl_ops_t *ops;
    fl_err_t err;
    fl_err_clear(&err);
    if (fl_history_parse(&ops, buf, strlen(buf), "rand", &err) != 0)
      fail_msg("parse: %s\n%s", err.msg, buf);
    json_t *res;
    if (fl_check_ops(ops, cas ? "cas-register" : "register", NULL, &res, &err) != 0)
      fail_msg("check: %s\n%s", err.msg, buf);
    fl_check_status_t got = fl_check_status(res);
    if ((got == FL_CHECK_VALID) != want || got == FL_CHECK_UNKNOWN) {
      dump(buf);
      fail_msg("iteration %d: oracle says %s, checker %d\n%s", iter,
               want ? "valid" : "invalid", got, buf);
    }
    if (!want) {
      /* The prefix it blames must itself be the shortest that fails. */
      json_t *a = json_object_get(res, "anomaly");
      assert_non_null(a);
      assert_true(json_is_true(json_object_get(a, "prefix_exact")));
      json_int_t end = json_integer_value(json_object_get(a, "prefix_end_line"));
      char *cut = buf;
      for (json_int_t l = 0; l < end - 1; l++)
        cut = strchr(cut, '\n') + 1;
      fl_ops_t *pre;
      assert_int_equal(fl_history_parse(&pre, buf, (size_t)(cut - buf), "pre", &err), 0);
      json_t *pres;
      assert_int_equal(fl_check_ops(pre, "cas-register", NULL, &pres, &err), 0);
      if (fl_check_status(pres) != FL_CHECK_VALID) {
        dump(buf);
        fail_msg("iteration %d: the prefix before line %d fails too\n%s", iter, (int)end,
                 buf);
      }
      json_decref(pres);
      fl_ops_free(pre);
      /* ... and with its last line it fails. */
      cut = strchr(cut, '\n') + 1;
      assert_int_equal(fl_history_parse(&pre, buf, (size_t)(cut - buf), "pre", &err), 0);
      assert_int_equal(fl_check_ops(pre, "cas-register", NULL, &pres, &err), 0);
      if (fl_check_status(pres) != FL_CHECK_INVALID) {
        dump(buf);
        fail_msg("iteration %d: the prefix up to line %d passes\n%s", iter, (int)end,
                 buf);
      }
      json_decref(pres);
      fl_ops_free(pre);
    }
    counts[want]++;
    json_decref(res);
    fl_ops_free(ops);
  }
  /* Both answers must be common, or the test proves little. */
  assert_true(counts[0] > iters / 10);
  assert_true(counts[1] > iters / 10);
}

/* ---- The generator's property ------------------------------------------------- */

static fl_ops_t *generate(const fl_gen_opts_t *g, fl_gen_info_t *info) {
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  fl_err_t err;
  assert_int_equal(fl_gen_write(fp, g, info, &err), 0);
  fclose(fp);
  fl_ops_t *ops;
  if (fl_history_parse(&ops, buf, len, "gen", &err) != 0)
    fail_msg("%s", err.msg);
  free(buf);
  return ops;
}

static void test_generated(void **state) {
  static const struct {
    size_t ops, keys, procs;
    double cas, info;
  } shapes[] = {
      {200, 0, 3, 0.0, 0.0},     {300, 1, 5, 0.1, 0.02},  {500, 2, 10, 0.2, 0.05},
      {1000, 8, 10, 0.1, 0.02},  {1000, 1, 20, 0.1, 0.1}, {2000, 1, 50, 0.1, 0.02},
      {2000, 64, 50, 0.1, 0.02},
  };
  for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
    for (uint64_t seed = 1; seed <= 8; seed++) {
      fl_gen_opts_t g;
      fl_gen_opts_default(&g);
      g.seed = seed * 7919 + s;
      g.ops = shapes[s].ops;
      g.keys = shapes[s].keys;
      g.procs = shapes[s].procs;
      g.cas_rate = shapes[s].cas;
      g.info_rate = shapes[s].info;
      fl_gen_info_t info;
      fl_ops_t *ops = generate(&g, &info);
      json_t *res;
      fl_err_t err;
      fl_check_opts_t opts = {.timeout_s = 30};
      assert_int_equal(fl_check_ops(ops, "kv", &opts, &res, &err), 0);
      if (fl_check_status(res) != FL_CHECK_VALID) {
        char *j = json_dumps(res, JSON_INDENT(1));
        fail_msg("shape %zu seed %llu: not valid:\n%s", s, (unsigned long long)g.seed, j);
      }
      json_decref(res);
      fl_ops_free(ops);

      g.corrupt = 1;
      ops = generate(&g, &info);
      assert_int_equal(fl_check_ops(ops, "kv", &opts, &res, &err), 0);
      if (fl_check_status(res) != FL_CHECK_INVALID)
        fail_msg("shape %zu seed %llu: corrupted history accepted", s,
                 (unsigned long long)g.seed);
      /* The shortest failing prefix ends with the corrupted read. */
      json_t *a = json_object_get(res, "anomaly");
      assert_int_equal(json_integer_value(json_object_get(a, "prefix_end_line")),
                       (json_int_t)info.corrupted_line);
      json_decref(res);
      fl_ops_free(ops);
    }
  }
}

static void test_budget(void **state) {
  fl_gen_opts_t g;
  fl_gen_opts_default(&g);
  g.ops = 20000;
  g.procs = 50;
  g.keys = 1;
  fl_gen_info_t info;
  fl_ops_t *ops = generate(&g, &info);
  json_t *res;
  fl_err_t err;
  /* Out of time at the first look at the clock: unknown, not a guess. */
  fl_check_opts_t opts = {.timeout_s = 1e-9};
  assert_int_equal(fl_check_ops(ops, "kv", &opts, &res, &err), 0);
  assert_int_equal(fl_check_status(res), FL_CHECK_UNKNOWN);
  assert_string_equal(json_string_value(json_object_get(res, "valid")), "unknown");
  assert_non_null(strstr(json_string_value(json_object_get(res, "reason")), "time"));
  json_decref(res);
  /* Out of memory. */
  opts = (fl_check_opts_t){.max_memory = 4096};
  assert_int_equal(fl_check_ops(ops, "kv", &opts, &res, &err), 0);
  assert_int_equal(fl_check_status(res), FL_CHECK_UNKNOWN);
  assert_non_null(strstr(json_string_value(json_object_get(res, "reason")), "memory"));
  json_decref(res);
  /* Canceled. */
  atomic_int cancel = 1;
  opts = (fl_check_opts_t){.cancel = &cancel};
  assert_int_equal(fl_check_ops(ops, "kv", &opts, &res, &err), 0);
  assert_int_equal(fl_check_status(res), FL_CHECK_UNKNOWN);
  json_decref(res);
  /* And with the budget it needs, valid. */
  assert_int_equal(fl_check_ops(ops, "kv", NULL, &res, &err), 0);
  assert_int_equal(fl_check_status(res), FL_CHECK_VALID);
  json_decref(res);
  fl_ops_free(ops);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stale_read),
      cmocka_unit_test(test_never_written),
      cmocka_unit_test(test_initial_null),
      cmocka_unit_test(test_concurrent_read_write),
      cmocka_unit_test(test_two_orders),
      cmocka_unit_test(test_info_writes),
      cmocka_unit_test(test_fail_ignored),
      cmocka_unit_test(test_cas),
      cmocka_unit_test(test_values_by_json_equality),
      cmocka_unit_test(test_kv_keys_independent),
      cmocka_unit_test(test_model_rejects),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_oracle),
      cmocka_unit_test(test_generated),
      cmocka_unit_test(test_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
