/* The UDP fault proxy (see udp_proxy.h). One listening socket; per client
 * address a session with its own socket connected to the upstream; one
 * sorted list of delayed datagrams with one timer; one sweep timer for idle
 * sessions and datagrams held back too long. Memory is bounded: at most
 * UDP_MAX_SESSIONS sessions and UDP_MAX_QUEUED datagrams waiting, past which
 * datagrams are dropped (and counted), as a full network queue would. */
#include "faults/udp_proxy.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/prng.h"
#include "faults/proxy_int.h"
#include "faults/toxic.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/error.h"

#define UDP_MAX_SESSIONS 4096
#define UDP_MAX_QUEUED 8192
#define UDP_BUCKETS 256
#define UDP_HOLD_MS 500
#define UDP_SWEEP_MS 50
#define UDP_DEFAULT_GAP 3
#define UDP_RCVBUF (4 << 20)
#define UDP_SESSION_RCVBUF (1 << 20)

typedef struct pkt_s {
  struct pkt_s *next;
  struct session_s *s;
  int dir;             /* 0 upstream, 1 downstream */
  uint64_t due;        /* ns: not before (latency) */
  uint64_t held_until; /* ns: reordering lets go at the latest */
  uint32_t gap;        /* later datagrams still to let by */
  uv_udp_send_t req;
  size_t len;
  char data[];
} pkt_t;

typedef struct session_s {
  struct session_s *hnext;
  struct session_s *prev, *next;
  fl_udp_proxy_t *p;
  struct sockaddr_storage client;
  uv_udp_t sock; /* connected to the upstream */
  uint64_t last_ms;
  pkt_t *held[2];
} session_t;

struct fl_udp_proxy_s {
  uv_loop_t *loop;
  char *name;
  char *upstream;
  char listen[80];
  struct sockaddr_storage up_addr;
  uv_udp_t sock;
  uv_timer_t delay_timer;
  uv_timer_t sweep_timer;
  fl_udp_faults_t faults[2];
  int partition;
  fl_prng_t rng;
  session_t *buckets[UDP_BUCKETS];
  session_t *sessions;
  pkt_t *delayed; /* by due */
  size_t queued;  /* delayed + held */
  uint64_t delay_armed;
  uint64_t idle_ms;
  fl_udp_stats_t stats;
  int closing;
  int handles;
  void (*close_cb)(void *arg);
  void *close_arg;
  char rbuf[65536];
};

static void transmit(fl_udp_proxy_t *p, pkt_t *k);
static void on_sweep(uv_timer_t *t);

/* Sessions by client address. */

static unsigned addr_hash(const struct sockaddr *sa) {
  const unsigned char *b;
  size_t n;
  uint64_t h = 0xcbf29ce484222325ULL;
  if (sa->sa_family == AF_INET6) {
    b = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    n = 16;
    h ^= ((const struct sockaddr_in6 *)sa)->sin6_port;
  } else {
    b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    n = 4;
    h ^= ((const struct sockaddr_in *)sa)->sin_port;
  }
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ULL;
  return (unsigned)(fl_mix64(h) % UDP_BUCKETS);
}

static int addr_equal(const struct sockaddr *a, const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
  return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static void maybe_free(fl_udp_proxy_t *p) {
  if (!p->closing || p->handles > 0)
    return;
  void (*cb)(void *) = p->close_cb;
  void *arg = p->close_arg;
  fl_free(p->name);
  fl_free(p->upstream);
  fl_free(p);
  if (cb != NULL)
    cb(arg);
}

static void on_session_closed(uv_handle_t *h) {
  session_t *s = h->data;
  fl_udp_proxy_t *p = s->p;
  fl_free(s);
  p->handles--;
  maybe_free(p);
}

static void free_list(fl_udp_proxy_t *p, pkt_t **list) {
  while (*list != NULL) {
    pkt_t *k = *list;
    *list = k->next;
    p->queued--;
    fl_free(k);
  }
}

static void session_close(fl_udp_proxy_t *p, session_t *s) {
  session_t **pp = &p->buckets[addr_hash((struct sockaddr *)&s->client)];
  while (*pp != s)
    pp = &(*pp)->hnext;
  *pp = s->hnext;
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    p->sessions = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  free_list(p, &s->held[0]);
  free_list(p, &s->held[1]);
  for (pkt_t **kp = &p->delayed; *kp != NULL;) {
    pkt_t *k = *kp;
    if (k->s == s) {
      *kp = k->next;
      p->queued--;
      fl_free(k);
    } else {
      kp = &k->next;
    }
  }
  p->stats.sessions_open--;
  /* Sends still queued on the socket are cancelled and free themselves. */
  uv_close((uv_handle_t *)&s->sock, on_session_closed);
}

/* Datagrams are handled as they are read, so one buffer serves every
 * socket of the proxy. */
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  fl_udp_proxy_t *p = ((session_t *)h->data)->p;
  (void)hint;
  buf->base = p->rbuf;
  buf->len = sizeof(p->rbuf);
}

static void forward(fl_udp_proxy_t *p, session_t *s, int dir, const char *data, size_t n);

static void on_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  session_t *s = h->data;
  (void)addr;
  (void)flags;
  /* Errors here are ICMP reports (the upstream port is closed): the
   * datagram is lost, as it would be without the proxy. */
  if (nread <= 0 || s->p->closing)
    return;
  forward(s->p, s, 1, buf->base, (size_t)nread);
}

static session_t *session_get(fl_udp_proxy_t *p, const struct sockaddr *addr) {
  unsigned b = addr_hash(addr);
  for (session_t *s = p->buckets[b]; s != NULL; s = s->hnext)
    if (addr_equal((struct sockaddr *)&s->client, addr))
      return s;
  if (p->stats.sessions_open >= UDP_MAX_SESSIONS)
    return NULL;
  session_t *s = fl_calloc(1, sizeof(*s));
  s->p = p;
  memcpy(&s->client, addr, fl_addr_len(addr));
  uv_udp_init_ex(p->loop, &s->sock, ((struct sockaddr *)&p->up_addr)->sa_family);
  s->sock.data = s;
  p->handles++;
  int rc = uv_udp_connect(&s->sock, (struct sockaddr *)&p->up_addr);
  if (rc == 0) {
    int big = UDP_SESSION_RCVBUF;
    uv_recv_buffer_size((uv_handle_t *)&s->sock, &big);
    rc = uv_udp_recv_start(&s->sock, alloc_cb, on_server_recv);
  }
  if (rc != 0) {
    FL_LOG(FL_LOG_WARN, "udp", "%s: session socket: %s", p->name, fl_strerror(rc));
    uv_close((uv_handle_t *)&s->sock, on_session_closed);
    return NULL;
  }
  s->hnext = p->buckets[b];
  p->buckets[b] = s;
  s->next = p->sessions;
  if (p->sessions != NULL)
    p->sessions->prev = s;
  p->sessions = s;
  p->stats.sessions_open++;
  p->stats.sessions_total++;
  if (!uv_is_active((uv_handle_t *)&p->sweep_timer))
    uv_timer_start(&p->sweep_timer, on_sweep, UDP_SWEEP_MS, UDP_SWEEP_MS);
  return s;
}

/* Sending. */

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  fl_free(fl_container_of(req, pkt_t, req));
}

/* Sends k now (and frees it, now or when the send completes). */
static void transmit(fl_udp_proxy_t *p, pkt_t *k) {
  session_t *s = k->s;
  uv_buf_t buf = uv_buf_init(k->data, (unsigned)k->len);
  uv_udp_t *h = k->dir == 0 ? &s->sock : &p->sock;
  const struct sockaddr *to = k->dir == 0 ? NULL : (struct sockaddr *)&s->client;
  int rc = uv_udp_try_send(h, &buf, 1, to);
  if (rc == (int)k->len) {
    p->stats.sent[k->dir]++;
    fl_free(k);
    return;
  }
  if (rc == UV_EAGAIN && uv_udp_send(&k->req, h, &buf, 1, to, on_sent) == 0) {
    p->stats.sent[k->dir]++;
    return;
  }
  p->stats.dropped[k->dir]++;
  fl_free(k);
}

static void arm_delay(fl_udp_proxy_t *p);

/* Sends k once its latency passed: now, or through the delayed list. */
static void send_when_due(fl_udp_proxy_t *p, pkt_t *k, uint64_t now) {
  if (k->due <= now) {
    transmit(p, k);
    return;
  }
  pkt_t **kp = &p->delayed;
  while (*kp != NULL && (*kp)->due <= k->due)
    kp = &(*kp)->next;
  k->next = *kp;
  *kp = k;
  p->queued++;
  arm_delay(p);
}

/* A datagram of s went out in direction dir: held ones let one more by. */
static void went_by(fl_udp_proxy_t *p, session_t *s, int dir, uint64_t now) {
  for (pkt_t **kp = &s->held[dir]; *kp != NULL;) {
    pkt_t *k = *kp;
    if (--k->gap == 0) {
      *kp = k->next;
      p->queued--;
      send_when_due(p, k, now);
    } else {
      kp = &k->next;
    }
  }
}

static void on_delay(uv_timer_t *t) {
  fl_udp_proxy_t *p = t->data;
  uint64_t now = uv_hrtime();
  p->delay_armed = 0;
  while (p->delayed != NULL && p->delayed->due <= now) {
    pkt_t *k = p->delayed;
    p->delayed = k->next;
    p->queued--;
    session_t *s = k->s;
    int dir = k->dir;
    transmit(p, k);
    went_by(p, s, dir, now);
  }
  arm_delay(p);
}

static void arm_delay(fl_udp_proxy_t *p) {
  if (p->closing)
    return;
  if (p->delayed == NULL) {
    uv_timer_stop(&p->delay_timer);
    p->delay_armed = 0;
    return;
  }
  uint64_t due = p->delayed->due;
  if (due == p->delay_armed)
    return;
  p->delay_armed = due;
  uint64_t at_ms = (due + 999999u) / 1000000u;
  uint64_t now_ms = uv_now(p->loop);
  uv_timer_start(&p->delay_timer, on_delay, at_ms > now_ms ? at_ms - now_ms : 1, 0);
}

static void on_sweep(uv_timer_t *t) {
  fl_udp_proxy_t *p = t->data;
  uint64_t now = uv_hrtime();
  uint64_t now_ms = uv_now(p->loop);
  for (session_t *s = p->sessions, *next; s != NULL; s = next) {
    next = s->next;
    if (now_ms - s->last_ms >= p->idle_ms) {
      session_close(p, s);
      continue;
    }
    for (int dir = 0; dir < 2; dir++) {
      for (pkt_t **kp = &s->held[dir]; *kp != NULL;) {
        pkt_t *k = *kp;
        if (k->held_until <= now) {
          *kp = k->next;
          p->queued--;
          send_when_due(p, k, now);
        } else {
          kp = &k->next;
        }
      }
    }
  }
  if (p->sessions == NULL)
    uv_timer_stop(&p->sweep_timer);
}

/* The faults of one direction, applied to one datagram. */
static void forward(fl_udp_proxy_t *p, session_t *s, int dir, const char *data,
                    size_t n) {
  const fl_udp_faults_t *f = &p->faults[dir];
  uint64_t now = uv_hrtime();
  p->stats.received[dir]++;
  s->last_ms = uv_now(p->loop);
  if (p->partition & (dir == 0 ? FL_UPSTREAM : FL_DOWNSTREAM)) {
    p->stats.dropped[dir]++;
    return;
  }
  if (f->loss > 0 && fl_prng_double(&p->rng) < f->loss) {
    p->stats.dropped[dir]++;
    return;
  }
  int copies = 1;
  if (f->duplicate > 0 && fl_prng_double(&p->rng) < f->duplicate) {
    copies = 2;
    p->stats.duplicated[dir]++;
  }
  for (int i = 0; i < copies; i++) {
    uint64_t delay = 0;
    if (f->latency > 0 || f->jitter > 0)
      delay = fl_latency_delay(&p->rng, f->latency, f->jitter);
    int hold = f->reorder > 0 && fl_prng_double(&p->rng) < f->reorder;
    if ((delay > 0 || hold) && p->queued >= UDP_MAX_QUEUED) {
      p->stats.dropped[dir]++;
      continue;
    }
    pkt_t *k = fl_malloc(sizeof(*k) + n);
    k->next = NULL;
    k->s = s;
    k->dir = dir;
    k->len = n;
    k->due = now + delay;
    k->gap = 0;
    memcpy(k->data, data, n);
    if (hold) {
      /* Held back: later datagrams overtake it. */
      p->stats.reordered[dir]++;
      k->gap = f->reorder_gap ? f->reorder_gap : UDP_DEFAULT_GAP;
      k->held_until = now + (uint64_t)UDP_HOLD_MS * 1000000u;
      pkt_t **kp = &s->held[dir];
      while (*kp != NULL)
        kp = &(*kp)->next;
      *kp = k;
      p->queued++;
      continue;
    }
    int at_once = delay == 0;
    send_when_due(p, k, now);
    if (at_once)
      went_by(p, s, dir, now);
  }
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  fl_udp_proxy_t *p = h->data;
  (void)flags;
  if (nread < 0)
    FL_LOG(FL_LOG_DEBUG, "udp", "%s: recv: %s", p->name, fl_strerror((int)nread));
  if (nread < 0 || addr == NULL || p->closing)
    return;
  session_t *s = session_get(p, addr);
  if (s == NULL) {
    p->stats.received[0]++;
    p->stats.dropped[0]++;
    return;
  }
  forward(p, s, 0, buf->base, (size_t)nread);
}

static void listen_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  fl_udp_proxy_t *p = h->data;
  (void)hint;
  buf->base = p->rbuf;
  buf->len = sizeof(p->rbuf);
}

/* Making, configuring, closing. */

static int parse_numeric(const char *s, const char *field, struct sockaddr_storage *out,
                         int need_port, fl_err_t *err) {
  int numeric;
  int rc = fl_addr_parse(s, field, 0, out, &numeric, NULL, NULL, err);
  if (rc == 0 && need_port) {
    const struct sockaddr *sa = (const struct sockaddr *)out;
    int port = sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                         : ((const struct sockaddr_in *)sa)->sin_port;
    if (port == 0)
      return fl_err_set(err, FL_ECONFIG, "field \"%s\": bad port in \"%s\"", field, s);
  }
  return rc;
}

int fl_udp_proxy_new(fl_udp_proxy_t **out, uv_loop_t *loop, const char *name,
                     const char *listen, const char *upstream, fl_err_t *err) {
  struct sockaddr_storage laddr, uaddr;
  char where[80];
  int rc;

  *out = NULL;
  if (name == NULL || name[0] == '\0')
    return fl_err_set(err, FL_ECONFIG,
                      "udp proxy: field \"name\" must be a non-empty string");
  rc = parse_numeric(listen, "listen", &laddr, 0, err);
  if (rc == 0)
    rc = parse_numeric(upstream, "upstream", &uaddr, 1, err);
  if (rc)
    return rc;

  /* Bind by hand first, so that a port in use leaves no handle to close. */
  const struct sockaddr *sa = (const struct sockaddr *)&laddr;
  socklen_t len = fl_addr_len(sa);
  fl_addr_format(sa, where, sizeof(where));
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, sa, len) != 0 ||
      getsockname(fd, (struct sockaddr *)&laddr, &len) != 0) {
    rc = -errno;
    if (fd >= 0)
      close(fd);
    return fl_err_set(err, rc, "udp proxy %s: cannot listen on %s: %s", name, where,
                      fl_strerror(rc));
  }

  /* Large receive buffers: the proxy should lose only what it is told to. */
  int big = UDP_RCVBUF;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));

  fl_udp_proxy_t *p = fl_calloc(1, sizeof(*p));
  p->loop = loop;
  p->name = fl_strdup(name);
  p->upstream = fl_strdup(upstream);
  p->up_addr = uaddr;
  p->idle_ms = 60000;
  p->faults[0].reorder_gap = p->faults[1].reorder_gap = UDP_DEFAULT_GAP;
  fl_prng_seed(&p->rng, fl_seed_for(0, name)); /* until fl_udp_proxy_set_seed */
  fl_addr_format((struct sockaddr *)&laddr, p->listen, sizeof(p->listen));
  uv_udp_init(loop, &p->sock);
  uv_udp_open(&p->sock, fd);
  p->sock.data = p;
  uv_udp_recv_start(&p->sock, listen_alloc, on_client_recv);
  uv_timer_init(loop, &p->delay_timer);
  p->delay_timer.data = p;
  uv_timer_init(loop, &p->sweep_timer);
  p->sweep_timer.data = p;
  p->handles = 3;
  *out = p;
  return 0;
}

const char *fl_udp_proxy_name(const fl_udp_proxy_t *p) {
  return p->name;
}

const char *fl_udp_proxy_listen(const fl_udp_proxy_t *p) {
  return p->listen;
}

const char *fl_udp_proxy_upstream(const fl_udp_proxy_t *p) {
  return p->upstream;
}

int fl_udp_proxy_set_upstream(fl_udp_proxy_t *p, const char *upstream, fl_err_t *err) {
  struct sockaddr_storage a;
  int rc = parse_numeric(upstream, "upstream", &a, 1, err);
  if (rc)
    return rc;
  p->up_addr = a;
  fl_free(p->upstream);
  p->upstream = fl_strdup(upstream);
  return 0;
}

void fl_udp_proxy_set_seed(fl_udp_proxy_t *p, uint64_t seed) {
  fl_prng_seed(&p->rng, seed);
}

void fl_udp_proxy_set_idle_timeout(fl_udp_proxy_t *p, uint64_t ms) {
  p->idle_ms = ms ? ms : 1;
}

static int parse_prob(const json_t *v, const char *key, double *out, fl_err_t *err) {
  double x = json_number_value(v);
  if (!json_is_number(v) || !(x >= 0 && x <= 1))
    return fl_err_set(err, FL_ECONFIG,
                      "udp faults: field \"%s\" must be a number from 0 to 1", key);
  *out = x;
  return 0;
}

static int parse_uint(const json_t *v, const char *key, uint32_t lo, uint32_t hi,
                      uint32_t *out, fl_err_t *err) {
  double x = json_number_value(v);
  if (!json_is_number(v) || x != floor(x) || x < lo || x > hi)
    return fl_err_set(err, FL_ECONFIG,
                      "udp faults: field \"%s\" must be a whole number from %u to %u",
                      key, lo, hi);
  *out = (uint32_t)x;
  return 0;
}

static int parse_faults(fl_udp_faults_t *f, const json_t *spec, fl_err_t *err) {
  const char *key;
  json_t *v;
  int rc = 0;
  if (!json_is_object(spec))
    return fl_err_set(err, FL_ECONFIG, "udp faults: expected a JSON object");
  json_object_foreach((json_t *)spec, key, v) {
    if (strcmp(key, "loss") == 0)
      rc = parse_prob(v, key, &f->loss, err);
    else if (strcmp(key, "duplicate") == 0)
      rc = parse_prob(v, key, &f->duplicate, err);
    else if (strcmp(key, "reorder") == 0)
      rc = parse_prob(v, key, &f->reorder, err);
    else if (strcmp(key, "latency") == 0)
      rc = parse_uint(v, key, 0, INT32_MAX, &f->latency, err);
    else if (strcmp(key, "jitter") == 0)
      rc = parse_uint(v, key, 0, INT32_MAX, &f->jitter, err);
    else if (strcmp(key, "reorder_gap") == 0)
      rc = parse_uint(v, key, 1, 1000, &f->reorder_gap, err);
    else
      rc = fl_err_set(err, FL_ECONFIG,
                      "udp faults: unknown field \"%s\" (known: loss, latency, jitter, "
                      "duplicate, reorder, reorder_gap)",
                      key);
    if (rc)
      return rc;
  }
  return 0;
}

int fl_udp_proxy_set_faults(fl_udp_proxy_t *p, int directions, const json_t *spec,
                            fl_err_t *err) {
  fl_udp_faults_t f[2] = {p->faults[0], p->faults[1]};
  for (int dir = 0; dir < 2; dir++) {
    if (!(directions & (dir == 0 ? FL_UPSTREAM : FL_DOWNSTREAM)))
      continue;
    int rc = parse_faults(&f[dir], spec, err);
    if (rc)
      return rc;
  }
  p->faults[0] = f[0];
  p->faults[1] = f[1];
  return 0;
}

void fl_udp_proxy_get_faults(const fl_udp_proxy_t *p, int direction,
                             fl_udp_faults_t *out) {
  *out = p->faults[direction == FL_UPSTREAM ? 0 : 1];
}

void fl_udp_proxy_clear_faults(fl_udp_proxy_t *p) {
  memset(p->faults, 0, sizeof(p->faults));
  p->faults[0].reorder_gap = p->faults[1].reorder_gap = UDP_DEFAULT_GAP;
  for (session_t *s = p->sessions; s != NULL; s = s->next) {
    for (int dir = 0; dir < 2; dir++) {
      while (s->held[dir] != NULL) {
        pkt_t *k = s->held[dir];
        s->held[dir] = k->next;
        p->queued--;
        transmit(p, k);
      }
    }
  }
  while (p->delayed != NULL) {
    pkt_t *k = p->delayed;
    p->delayed = k->next;
    p->queued--;
    transmit(p, k);
  }
  arm_delay(p);
}

void fl_udp_proxy_partition(fl_udp_proxy_t *p, int directions) {
  p->partition |= directions & FL_BOTH;
}

void fl_udp_proxy_heal(fl_udp_proxy_t *p) {
  p->partition = 0;
}

int fl_udp_proxy_partitioned(const fl_udp_proxy_t *p) {
  return p->partition;
}

static json_t *faults_json(const fl_udp_faults_t *f) {
  return json_pack("{s:f, s:i, s:i, s:f, s:f, s:i}", "loss", f->loss, "latency",
                   (json_int_t)f->latency, "jitter", (json_int_t)f->jitter, "duplicate",
                   f->duplicate, "reorder", f->reorder, "reorder_gap",
                   (json_int_t)f->reorder_gap);
}

json_t *fl_udp_proxy_to_json(const fl_udp_proxy_t *p) {
  static const char *cut[] = {"none", "upstream", "downstream", "both"};
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:o, s:o}}", "name", p->name, "listen",
                   p->listen, "upstream", p->upstream, "protocol", "udp", "partition",
                   cut[p->partition & FL_BOTH], "faults", "upstream",
                   faults_json(&p->faults[0]), "downstream", faults_json(&p->faults[1]));
}

void fl_udp_proxy_stats(const fl_udp_proxy_t *p, fl_udp_stats_t *out) {
  *out = p->stats;
}

static void on_proxy_handle_closed(uv_handle_t *h) {
  fl_udp_proxy_t *p = h->data;
  p->handles--;
  maybe_free(p);
}

void fl_udp_proxy_close(fl_udp_proxy_t *p, void (*cb)(void *arg), void *arg) {
  if (p == NULL || p->closing)
    return;
  p->closing = 1;
  p->close_cb = cb;
  p->close_arg = arg;
  while (p->sessions != NULL)
    session_close(p, p->sessions);
  free_list(p, &p->delayed);
  uv_close((uv_handle_t *)&p->sock, on_proxy_handle_closed);
  uv_close((uv_handle_t *)&p->delay_timer, on_proxy_handle_closed);
  uv_close((uv_handle_t *)&p->sweep_timer, on_proxy_handle_closed);
}
