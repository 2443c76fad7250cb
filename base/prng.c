/* xoshiro256** by Blackman and Vigna (public domain), seeded with
 * splitmix64 as its authors recommend. */
#include "base/prng.h"

uint64_t fl_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void fl_prng_seed(fl_prng_t *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) {
    seed += 0x9e3779b97f4a7c15ULL;
    r->s[i] = fl_mix64(seed);
  }
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t fl_prng_next(fl_prng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double fl_prng_double(fl_prng_t *r) {
  /* The top 53 bits make every representable value in [0, 1) equally likely. */
  return (double)(fl_prng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t fl_prng_below(fl_prng_t *r, uint64_t n) {
  if (n == 0)
    return 0;
  /* Rejection keeps the result unbiased: drop draws from the incomplete last
   * block of n values. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = fl_prng_next(r);
  while (x >= limit);
  return x % n;
}

int64_t fl_prng_range(fl_prng_t *r, int64_t lo, int64_t hi) {
  if (hi <= lo)
    return lo;
  uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
  if (span == 0) /* the whole int64 range */
    return (int64_t)fl_prng_next(r);
  return lo + (int64_t)fl_prng_below(r, span);
}

uint64_t fl_seed_for(uint64_t run_seed, const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (const char *c = name ? name : ""; *c; c++)
    h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
  return fl_mix64(run_seed ^ fl_mix64(h));
}
