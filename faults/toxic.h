/* Toxics: the kinds (one file each, one row in FL_TOXIC_KINDS of toxic.c), the
 * toxic definitions a proxy holds, and the stages that apply a toxic to one
 * direction of one connection. Internal to faults/.
 *
 * A direction of a connection (a link) is a chain of stages, one per toxic of
 * that direction, in the order the toxics were added. Each stage has an input
 * queue of chunks and, behind it, maybe an end marker (the source's EOF or a
 * close asked by an earlier stage). A kind's run() moves what is ready from
 * its input to the next stage (fl_stage_emit), drops, splits or holds chunks,
 * and says when it wants to run again (st->deadline). Everything happens on
 * the loop thread; run() never blocks and never frees the connection (a
 * close or reset it asks for happens after the chain has run). */
#ifndef FL_TOXIC_H
#define FL_TOXIC_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/prng.h"
#include "faults/proxy_buf.h"
#include "base/error.h"

#define FL_TOXIC_MAX_ATTRS 4

/* What follows the data of a queue. */
enum { FL_END_NONE = 0, FL_END_EOF = 1, FL_END_CLOSE = 2 };

typedef struct fl_stage_s fl_stage_t;
typedef struct fl_toxic_kind_s fl_toxic_kind_t;

typedef struct fl_toxic_attr_s {
  const char *name;
  int64_t def;      /* value when not given */
  int64_t max;      /* largest accepted value (smallest is 0) */
  const char *unit; /* for the docs: "ms", "bytes", "KB/s (1 KB = 1000 bytes)" */
} fl_toxic_attr_t;

struct fl_toxic_kind_s {
  const char *name; /* Toxiproxy's type name */
  const char *doc;  /* what it does, one Markdown sentence or few, for the docs */
  const fl_toxic_attr_t *attrs;
  int nattrs;
  /* Optional: checks values against each other; returns 0 or FL_ECONFIG
   * naming the attribute. */
  int (*check)(const int64_t *attr, const char *toxic, fl_err_t *err);
  /* Optional: the stage begins (a new connection, or the toxic was added to
   * an open one). */
  void (*start)(fl_stage_t *st, uint64_t now);
  /* Optional: the toxic's attributes changed. */
  void (*update)(fl_stage_t *st, uint64_t now);
  /* Moves what is ready from st->in onward; sets st->deadline (0 = none). */
  void (*run)(fl_stage_t *st, uint64_t now);
  /* Optional: the toxic is removed. The default passes everything held on,
   * in order, end marker included. */
  void (*stop)(fl_stage_t *st, uint64_t now);
};

/* A toxic as the proxy holds it (one per name). */
typedef struct fl_toxic_s {
  struct fl_toxic_s *next; /* in the proxy's list, in the order added */
  char *name;
  const fl_toxic_kind_t *kind;
  int stream;      /* FL_UPSTREAM or FL_DOWNSTREAM */
  double toxicity; /* chance that a connection gets it */
  int64_t attr[FL_TOXIC_MAX_ATTRS];
  uint64_t serial; /* unique in its proxy, for seeding */
  uint32_t rolls;  /* how many times toxicity was set (re-decides) */
  int fault_id;    /* on the proxy's timeline; 0 when not recorded */
} fl_toxic_t;

struct fl_link_s;

struct fl_stage_s {
  fl_stage_t *next; /* toward the destination; NULL: the link's out queue */
  struct fl_link_s *link;
  const fl_toxic_t *toxic; /* borrowed: the stage goes before its toxic */
  fl_chunkq_t in;
  int in_end;        /* FL_END_*: after the queued data */
  int ended;         /* this stage passed an end marker: drop what comes */
  int active;        /* 0: this connection did not draw the toxic */
  uint64_t deadline; /* uv_hrtime() ns when run() wants to run again; 0 none */
  fl_prng_t rng;
  uint64_t state[4]; /* the kind's own state, zero at start */
};

/* The table of kinds. Returns the kind called name, or NULL. */
const fl_toxic_kind_t *fl_toxic_kind_find(const char *name);
/* Comma-separated names of every kind, for error messages. Borrowed. */
const char *fl_toxic_kind_names(void);

/* Parses a toxic spec into out (name and attributes new; free with
 * fl_toxic_free). When base is not NULL the spec is a partial update of it:
 * only the fields given change, and type/stream may not change. Returns 0
 * or FL_ECONFIG naming the field. */
int fl_toxic_parse(fl_toxic_t *out, const json_t *spec, const fl_toxic_t *base,
                   fl_err_t *err);
/* Frees what fl_toxic_parse allocated in t (not t itself). */
void fl_toxic_clear(fl_toxic_t *t);
/* Returns new: Toxiproxy's JSON of a toxic. */
json_t *fl_toxic_to_json(const fl_toxic_t *t);
/* The value of the attribute called name (which must exist). */
int64_t fl_toxic_attr(const fl_toxic_t *t, const char *name);

/* Does a connection get this toxic? A pure function of the seed, the
 * connection's and the toxic's numbers and how often toxicity was set, so
 * the decision is the same whatever else happened in between. */
int fl_toxic_roll(uint64_t seed, uint64_t conn, const fl_toxic_t *t);
/* The uniform [0, 1) draw behind fl_toxic_roll. */
double fl_toxic_draw(uint64_t seed, uint64_t conn, uint64_t toxic, uint32_t roll);

/* Stage helpers, for the kinds (the emit side lives in proxy_link.c). */
/* Passes c (taken) to the next stage, or to the out queue. */
void fl_stage_emit(fl_stage_t *st, fl_chunk_t *c, uint64_t now);
/* Passes the first n bytes of the input's head on (all of it if n >= len). */
void fl_stage_emit_head(fl_stage_t *st, size_t n, uint64_t now);
/* Passes an end marker on (FL_END_EOF or FL_END_CLOSE); the stage drops
 * whatever comes after. */
void fl_stage_end(fl_stage_t *st, int end, uint64_t now);
/* Passes every queued chunk, then the end marker if one is pending. */
void fl_stage_pass_all(fl_stage_t *st, uint64_t now);
/* Drops every queued chunk. */
void fl_stage_drop_all(fl_stage_t *st);
/* How many more chunks the next queue should take now (the slicer makes
 * many small chunks; this bounds them). */
size_t fl_stage_room(const fl_stage_t *st);
/* Asks for the connection to be reset (RST both ways) after the chain ran. */
void fl_stage_reset_conn(fl_stage_t *st);
/* The owning proxy's chunk pool. */
fl_pool_t *fl_stage_pool(fl_stage_t *st);

/* Arithmetic of the kinds, exposed for unit tests. */
/* latency +/- jitter in ns (uniform in [latency-jitter, latency+jitter],
 * never below 0), drawn from r. Times in ms. */
uint64_t fl_latency_delay(fl_prng_t *r, int64_t latency_ms, int64_t jitter_ms);
/* Bandwidth pacing: the bytes sent as one piece at `rate` KB/s (1 KB = 1000
 * bytes): at most 20 ms worth, at least 1. */
size_t fl_bandwidth_piece(int64_t rate, size_t len);
/* When a piece of n bytes that arrived at `arrival` (ns) has been sent at
 * rate KB/s, given the link is busy until *next_free (ns, updated). */
uint64_t fl_bandwidth_due(int64_t rate, uint64_t arrival, uint64_t *next_free, size_t n);
/* Slicer: the size of the next slice out of `remaining` bytes: average_size
 * +/- size_variation (uniform), at least 1, at most remaining. */
size_t fl_slicer_size(fl_prng_t *r, int64_t average, int64_t variation, size_t remaining);

/* The docs of every kind, generated from the rows, so that no list of
 * toxics is written by hand: FL_TOXIC_DOC_TABLE is the Markdown table of
 * faults/README.md and PROXY_API.md (type, attributes, what it does),
 * FL_TOXIC_DOC_LIST the one-line list of README.md. Appends to b. */
enum { FL_TOXIC_DOC_TABLE, FL_TOXIC_DOC_LIST };
int fl_toxic_kinds_doc(fl_buf_t *b, int form);

#endif
