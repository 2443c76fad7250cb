/* The log file and the key map.
 *
 * The data file DIR/kvnode.log is a sequence of records, the same bytes that
 * /replicate carries. All integers are little-endian:
 *
 *   u32 magic "KVR1"   u32 crc32(index..value)   u64 index   u32 klen   u32 vlen
 *   key bytes          value bytes
 *
 * The whole log is kept in memory as well (this is a test target holding test
 * data); the map points each key at the index of its latest applied entry. */
#include "examples/kvnode/kvnode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_MAGIC 0x3152564bu /* "KVR1" read as little-endian */
#define REC_HEADER 24

struct kv_slot_s {
  const char *key; /* borrowed from the log entry; NULL: empty slot */
  uint32_t klen;
  uint64_t index;
};

void *kv_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fputs("kvnode: out of memory\n", stderr);
    abort();
  }
  return p;
}

void *kv_realloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fputs("kvnode: out of memory\n", stderr);
    abort();
  }
  return p;
}

char *kv_memdup(const void *p, size_t n) {
  char *s = kv_malloc(n + 1);
  if (n)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

void kv_log(const char *fmt, ...) {
  struct timespec ts;
  va_list ap;
  clock_gettime(CLOCK_REALTIME, &ts);
  fprintf(stderr, "%lld.%03ld kvnode: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void kv_entry_free(kv_entry_t *e) {
  free(e->key);
  free(e->val);
  e->key = e->val = NULL;
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
  static uint32_t table[256];
  if (!table[1]) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  }
  crc = ~crc;
  while (n--)
    crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static size_t rec_size(const kv_entry_t *e) {
  return REC_HEADER + (size_t)e->klen + e->vlen;
}

static void rec_encode(unsigned char *p, const kv_entry_t *e) {
  put32(p, REC_MAGIC);
  put64(p + 8, e->index);
  put32(p + 16, e->klen);
  put32(p + 20, e->vlen);
  memcpy(p + REC_HEADER, e->key, e->klen);
  memcpy(p + REC_HEADER + e->klen, e->val, e->vlen);
  put32(p + 4, crc32_update(0, p + 8, rec_size(e) - 8));
}

/* Decodes one record at p. Returns its size, or 0 when the bytes there are not
 * a whole valid record. */
static size_t rec_decode(const unsigned char *p, size_t len, kv_entry_t *out) {
  if (len < REC_HEADER || get32(p) != REC_MAGIC)
    return 0;
  uint32_t klen = get32(p + 16), vlen = get32(p + 20);
  if (klen == 0 || klen > KV_MAX_KEY || vlen > KV_MAX_VALUE)
    return 0;
  size_t size = REC_HEADER + (size_t)klen + vlen;
  if (len < size || crc32_update(0, p + 8, size - 8) != get32(p + 4))
    return 0;
  out->index = get64(p + 8);
  out->klen = klen;
  out->vlen = vlen;
  out->key = kv_memdup(p + REC_HEADER, klen);
  out->val = kv_memdup(p + REC_HEADER + klen, vlen);
  return size;
}

int kv_store_decode(const char *buf, size_t len, kv_entry_t **out, size_t *n) {
  const unsigned char *p = (const unsigned char *)buf;
  size_t cap = 0, count = 0, off = 0;
  kv_entry_t *v = NULL;
  while (off < len) {
    kv_entry_t e;
    size_t size = rec_decode(p + off, len - off, &e);
    if (!size) {
      for (size_t i = 0; i < count; i++)
        kv_entry_free(&v[i]);
      free(v);
      return -1;
    }
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      v = kv_realloc(v, cap * sizeof(*v));
    }
    v[count++] = e;
    off += size;
  }
  *out = v;
  *n = count;
  return 0;
}

size_t kv_store_encode(const kv_store_t *s, uint64_t from, size_t max_bytes, char **out) {
  size_t total = 0;
  uint64_t i;
  *out = NULL;
  if (from == 0)
    from = 1;
  for (i = from; i <= s->last; i++) {
    size_t size = rec_size(&s->log[i - 1]);
    if (total && total + size > max_bytes)
      break;
    total += size;
  }
  if (!total)
    return 0;
  unsigned char *buf = kv_malloc(total);
  size_t off = 0;
  for (uint64_t j = from; j < i; j++) {
    rec_encode(buf + off, &s->log[j - 1]);
    off += rec_size(&s->log[j - 1]);
  }
  *out = (char *)buf;
  return total;
}

/* ---- the map ------------------------------------------------------------ */

static uint64_t hash(const char *key, size_t klen) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < klen; i++)
    h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
  return h;
}

static kv_slot_t *slot_find(const kv_store_t *s, const char *key, size_t klen) {
  size_t mask = s->nslots - 1;
  for (size_t i = hash(key, klen) & mask;; i = (i + 1) & mask) {
    kv_slot_t *slot = &s->slots[i];
    if (!slot->key || (slot->klen == klen && memcmp(slot->key, key, klen) == 0))
      return slot;
  }
}

static void map_grow(kv_store_t *s) {
  kv_slot_t *old = s->slots;
  size_t nold = s->nslots;
  s->nslots = nold ? nold * 2 : 64;
  s->slots = kv_malloc(s->nslots * sizeof(*s->slots));
  memset(s->slots, 0, s->nslots * sizeof(*s->slots));
  for (size_t i = 0; i < nold; i++)
    if (old[i].key)
      *slot_find(s, old[i].key, old[i].klen) = old[i];
  free(old);
}

void kv_store_apply(kv_store_t *s, uint64_t upto) {
  if (upto > s->last)
    upto = s->last;
  for (; s->applied < upto; s->applied++) {
    const kv_entry_t *e = &s->log[s->applied];
    if ((s->nkeys + 1) * 2 > s->nslots)
      map_grow(s);
    kv_slot_t *slot = slot_find(s, e->key, e->klen);
    if (!slot->key)
      s->nkeys++;
    /* The key pointer must stay valid: point it at the newest entry. */
    slot->key = e->key;
    slot->klen = e->klen;
    slot->index = e->index;
  }
}

int kv_store_get(const kv_store_t *s, const char *key, size_t klen, const char **val,
                 size_t *vlen) {
  if (!s->nslots)
    return 0;
  const kv_slot_t *slot = slot_find(s, key, klen);
  if (!slot->key)
    return 0;
  *val = s->log[slot->index - 1].val;
  *vlen = s->log[slot->index - 1].vlen;
  return 1;
}

int kv_store_get_latest(const kv_store_t *s, const char *key, size_t klen,
                        const char **val, size_t *vlen) {
  for (uint64_t i = s->last; i > s->applied; i--) {
    const kv_entry_t *e = &s->log[i - 1];
    if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
      *val = e->val;
      *vlen = e->vlen;
      return 1;
    }
  }
  return kv_store_get(s, key, klen, val, vlen);
}

/* ---- the file ----------------------------------------------------------- */

static int mkdir_p(const char *dir) {
  char *path = kv_memdup(dir, strlen(dir));
  int rc = 0;
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      rc = -1;
      break;
    }
    *p = c;
    if (!c)
      break;
  }
  free(path);
  return rc;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static void log_push(kv_store_t *s, kv_entry_t *e) {
  if (s->last == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 256;
    s->log = kv_realloc(s->log, s->cap * sizeof(*s->log));
  }
  s->log[s->last++] = *e;
}

int kv_store_open(kv_store_t *s, const char *dir, char *err, size_t errlen) {
  char path[4096];
  struct stat st;
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  if (mkdir_p(dir) != 0) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  snprintf(path, sizeof(path), "%s/kvnode.log", dir);
  s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  /* A node killed a moment ago may not have exited yet: wait up to 3 s for
   * its lock rather than have two processes append to one file. */
  for (int tries = 0; flock(s->fd, LOCK_EX | LOCK_NB) != 0; tries++) {
    if (tries == 300) {
      snprintf(err, errlen, "%s is in use by another kvnode", path);
      return -1;
    }
    usleep(10000);
  }
  if (fstat(s->fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    return -1;
  }
  size_t size = (size_t)st.st_size, off = 0;
  unsigned char *buf = kv_malloc(size);
  for (size_t got = 0; got < size;) {
    ssize_t r = pread(s->fd, buf + got, size - got, (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      snprintf(err, errlen, "cannot read %s: %s", path, r ? strerror(errno) : "EOF");
      free(buf);
      return -1;
    }
    got += (size_t)r;
  }
  while (off < size) {
    kv_entry_t e;
    size_t n = rec_decode(buf + off, size - off, &e);
    if (!n)
      break;
    if (e.index != s->last + 1) {
      kv_entry_free(&e);
      break;
    }
    log_push(s, &e);
    off += n;
  }
  free(buf);
  if (off < size) {
    /* Only a record that was being written when the node died can be torn;
     * nothing after it was ever acknowledged, so it is safe to cut. */
    kv_log("%s: cutting %zu bytes of torn or invalid data after index %llu", path,
           size - off, (unsigned long long)s->last);
    if (ftruncate(s->fd, (off_t)off) != 0 || fsync(s->fd) != 0) {
      snprintf(err, errlen, "cannot truncate %s: %s", path, strerror(errno));
      return -1;
    }
  }
  if (lseek(s->fd, 0, SEEK_END) < 0) {
    snprintf(err, errlen, "cannot seek %s: %s", path, strerror(errno));
    return -1;
  }
  /* Make the file's directory entry durable too. */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

void kv_store_append(kv_store_t *s, kv_entry_t *e, size_t n) {
  size_t total = 0, off = 0;
  for (size_t i = 0; i < n; i++)
    total += rec_size(&e[i]);
  unsigned char *buf = kv_malloc(total);
  for (size_t i = 0; i < n; i++) {
    if (e[i].index != s->last + 1 + i) {
      kv_log("BUG: appending index %llu after %llu", (unsigned long long)e[i].index,
             (unsigned long long)(s->last + i));
      abort();
    }
    rec_encode(buf + off, &e[i]);
    off += rec_size(&e[i]);
  }
  if (write_all(s->fd, buf, total) != 0 || fdatasync(s->fd) != 0) {
    kv_log("cannot write the log: %s; exiting", strerror(errno));
    exit(1);
  }
  free(buf);
  for (size_t i = 0; i < n; i++)
    log_push(s, &e[i]);
}

void kv_store_close(kv_store_t *s) {
  if (s->fd >= 0)
    close(s->fd);
  for (uint64_t i = 0; i < s->last; i++)
    kv_entry_free(&s->log[i]);
  free(s->log);
  free(s->slots);
  memset(s, 0, sizeof(*s));
  s->fd = -1;
}
