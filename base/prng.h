/* A small seeded pseudo-random generator (xoshiro256**, seeded through
 * splitmix64), so that every random choice a fault makes (toxicity, jitter,
 * slice sizes, datagram loss) can be replayed from the run's seed. Not for
 * cryptography. */
#ifndef FL_PRNG_H
#define FL_PRNG_H

#include <stdint.h>

typedef struct fl_prng_s {
  uint64_t s[4];
} fl_prng_t;

/* Seeds r from one 64-bit value; any value, 0 included, gives a good state. */
void fl_prng_seed(fl_prng_t *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t fl_prng_next(fl_prng_t *r);
/* A double uniform in [0, 1). */
double fl_prng_double(fl_prng_t *r);
/* An integer uniform in [0, n); 0 when n is 0. Unbiased. */
uint64_t fl_prng_below(fl_prng_t *r, uint64_t n);
/* An integer uniform in [lo, hi] (inclusive); lo when hi <= lo. */
int64_t fl_prng_range(fl_prng_t *r, int64_t lo, int64_t hi);

/* splitmix64's finalizer: a bijective mix of x, for deriving independent
 * seeds from (seed, connection, toxic) without a shared stream, so that the
 * order in which connections come does not change what each one draws. */
uint64_t fl_mix64(uint64_t x);

/* The one seed derivation: the seed of the thing called name (a proxy, a
 * link, a toxic's stream) in a run seeded with run_seed. FNV-1a of the name,
 * mixed with the run seed through fl_mix64, so that one run seed replays
 * every named thing and two names never share a stream. name may be NULL
 * (treated as ""). Every place that derives a per-name seed calls this. */
uint64_t fl_seed_for(uint64_t run_seed, const char *name);

#endif
