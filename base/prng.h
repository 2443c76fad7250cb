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

#endif
