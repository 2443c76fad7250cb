/* One direction of a proxied connection (a link): its toxic chain, its out
 * queue, and the two ways bytes cross it.
 *
 * - The fast path, while the link has no toxic that this connection drew and
 *   nothing is queued: splice(2) from the source socket into a pipe and from
 *   the pipe into the destination socket, so the bytes never enter user
 *   space. Where splice is unavailable, read into a spare buffer and send it
 *   straight from there, copying only what the destination would not take.
 * - The toxic path: chunks read from the source go through the chain (one
 *   stage per toxic, in the order added) into the out queue, which is written
 *   with sendmsg.
 *
 * Order is kept across the switch by three rules: the pipe is filled only
 *   while nothing is queued, the source is not read while the pipe holds
 *   bytes, and the pipe is written before the out queue. Back-pressure: the
 *   source is not read while the out queue is over FL_PROXY_WRITE_HWM or the
 *   chain holds more than FL_PROXY_HOLD_CAP, or while the direction is cut. */
#define _GNU_SOURCE /* splice */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "faults/proxy_int.h"
#include "faults/proxy_http.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/error.h"

#define IOV_BATCH 64

static int src_fd(const fl_link_t *l) {
  return l->conn->fd[l->index == FL_LINK_UP ? FL_SIDE_CLIENT : FL_SIDE_SERVER];
}

static int dst_fd(const fl_link_t *l) {
  return l->conn->fd[l->index == FL_LINK_UP ? FL_SIDE_SERVER : FL_SIDE_CLIENT];
}

static fl_proxy_t *proxy_of(const fl_link_t *l) {
  return l->conn->proxy;
}

int fl_link_cut(const fl_link_t *l) {
  int dir = l->index == FL_LINK_UP ? FL_UPSTREAM : FL_DOWNSTREAM;
  return (proxy_of(l)->partition & dir) != 0;
}

static void count_out(fl_link_t *l, size_t n) {
  fl_proxy_stats_t *s = &proxy_of(l)->stats;
  if (l->index == FL_LINK_UP)
    s->bytes_upstream += n;
  else
    s->bytes_downstream += n;
}

static void count_in(fl_link_t *l, size_t n) {
  fl_proxy_stats_t *s = &proxy_of(l)->stats;
  if (l->index == FL_LINK_UP)
    s->bytes_read_upstream += n;
  else
    s->bytes_read_downstream += n;
}

static size_t held(const fl_link_t *l) {
  size_t n = l->out.bytes + l->pipe_bytes;
  if (l->conn->http != NULL)
    n += fl_phttp_held(l->conn->http, l->index);
  for (const fl_stage_t *st = l->stages; st != NULL; st = st->next)
    n += st->in.bytes;
  return n;
}

int fl_link_want_read(const fl_link_t *l) {
  if (l->conn->state != FL_CONN_OPEN || l->src_eof || l->pipe_bytes > 0 || fl_link_cut(l))
    return 0;
  if (l->out.bytes >= FL_PROXY_WRITE_HWM)
    return 0;
  return (l->nactive == 0 && l->conn->http == NULL) || held(l) < FL_PROXY_HOLD_CAP;
}

/* Nothing queued and no toxic drawn: bytes may skip the chain. */
static int link_clear(const fl_link_t *l) {
  return l->conn->http == NULL && l->nactive == 0 && l->out.head == NULL &&
         l->out_end == FL_END_NONE && l->pipe_bytes == 0;
}

void fl_link_init(fl_link_t *l, fl_conn_t *c, int index) {
  memset(l, 0, sizeof(*l));
  l->conn = c;
  l->index = index;
}

static void stage_free(fl_pool_t *pool, fl_stage_t *st) {
  fl_chunkq_clear(&st->in, pool);
  fl_free(st);
}

void fl_link_clear(fl_link_t *l) {
  fl_pool_t *pool = &proxy_of(l)->pool;
  while (l->stages != NULL) {
    fl_stage_t *st = l->stages;
    l->stages = st->next;
    stage_free(pool, st);
  }
  l->nactive = 0;
  fl_chunkq_clear(&l->out, pool);
  /* A pipe that may still hold bytes cannot be reused. */
  if (l->pipe != NULL) {
    if (l->pipe_bytes > 0)
      fl_pipe_close(l->pipe);
    else
      fl_pipe_put(pool, l->pipe);
  }
  l->pipe = NULL;
  l->pipe_bytes = 0;
}

/* Stage helpers used by the kinds. */

fl_pool_t *fl_stage_pool(fl_stage_t *st) {
  return &proxy_of(st->link)->pool;
}

void fl_stage_emit(fl_stage_t *st, fl_chunk_t *c, uint64_t now) {
  if (st->ended) {
    fl_chunk_free(fl_stage_pool(st), c);
    return;
  }
  c->t = now;
  c->due = 0;
  fl_chunkq_push(st->next ? &st->next->in : &st->link->out, c);
}

void fl_stage_emit_head(fl_stage_t *st, size_t n, uint64_t now) {
  fl_chunk_t *c = st->in.head;
  if (c == NULL)
    return;
  if (n >= c->len) {
    fl_stage_emit(st, fl_chunkq_pop(&st->in), now);
    return;
  }
  fl_chunk_t *piece = fl_chunk_split(fl_stage_pool(st), c, n);
  fl_chunkq_consumed(&st->in, n);
  c->due = 0;
  fl_stage_emit(st, piece, now);
}

void fl_stage_end(fl_stage_t *st, int end, uint64_t now) {
  (void)now;
  if (st->ended)
    return;
  st->ended = 1;
  st->in_end = FL_END_NONE;
  fl_stage_drop_all(st);
  if (st->next != NULL) {
    if (st->next->in_end != FL_END_CLOSE)
      st->next->in_end = end;
  } else if (st->link->out_end != FL_END_CLOSE) {
    st->link->out_end = end;
  }
}

void fl_stage_pass_all(fl_stage_t *st, uint64_t now) {
  if (st->ended) {
    fl_stage_drop_all(st);
    return;
  }
  while (st->in.head != NULL)
    fl_stage_emit(st, fl_chunkq_pop(&st->in), now);
  if (st->in_end)
    fl_stage_end(st, st->in_end, now);
}

void fl_stage_drop_all(fl_stage_t *st) {
  fl_chunkq_clear(&st->in, fl_stage_pool(st));
}

size_t fl_stage_room(const fl_stage_t *st) {
  size_t count = st->next ? st->next->in.count : st->link->out.count;
  if (count >= FL_PROXY_QUEUE_CHUNKS) {
    st->link->starved = 1;
    return 0;
  }
  return FL_PROXY_QUEUE_CHUNKS - count;
}

void fl_stage_reset_conn(fl_stage_t *st) {
  st->link->conn->reset_req = 1;
}

/* The chain. */

static void stage_activate(fl_stage_t *st, int active, uint64_t now) {
  if (active == st->active)
    return;
  if (!active)
    fl_stage_pass_all(st, now); /* keeps what it held flowing, in order */
  st->active = active;
  st->link->nactive += active ? 1 : -1;
  memset(st->state, 0, sizeof(st->state));
  if (active && st->toxic->kind->start != NULL)
    st->toxic->kind->start(st, now);
}

void fl_link_add_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now) {
  fl_conn_t *c = l->conn;
  fl_stage_t *st = fl_calloc(1, sizeof(*st));
  st->link = l;
  st->toxic = t;
  fl_prng_seed(&st->rng,
               fl_mix64(c->seed ^ fl_mix64(c->serial * 2 + (uint64_t)l->index)) ^
                   fl_mix64(t->serial));
  fl_stage_t **pp = &l->stages;
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = st;
  stage_activate(st, fl_toxic_roll(c->seed, c->serial, t), now);
}

void fl_link_remove_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now) {
  fl_stage_t **pp = &l->stages;
  while (*pp != NULL && (*pp)->toxic != t)
    pp = &(*pp)->next;
  fl_stage_t *st = *pp;
  if (st == NULL)
    return;
  if (st->active && st->toxic->kind->stop != NULL)
    st->toxic->kind->stop(st, now);
  else
    fl_stage_pass_all(st, now);
  *pp = st->next;
  if (st->active)
    l->nactive--;
  stage_free(&proxy_of(l)->pool, st);
}

void fl_link_update_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now) {
  fl_stage_t *st = l->stages;
  while (st != NULL && st->toxic != t)
    st = st->next;
  if (st == NULL)
    return;
  int active = fl_toxic_roll(l->conn->seed, l->conn->serial, t);
  if (active != st->active)
    stage_activate(st, active, now);
  else if (active && t->kind->update != NULL)
    t->kind->update(st, now);
}

static void link_run(fl_link_t *l, uint64_t now) {
  l->deadline = 0;
  if (l->conn->http != NULL)
    l->deadline = fl_phttp_run(l->conn->http, l->index, now);
  for (fl_stage_t *st = l->stages; st != NULL; st = st->next) {
    st->deadline = 0;
    if (st->ended)
      fl_stage_drop_all(st);
    else if (!st->active)
      fl_stage_pass_all(st, now);
    else
      st->toxic->kind->run(st, now);
    if (st->deadline != 0 && (l->deadline == 0 || st->deadline < l->deadline))
      l->deadline = st->deadline;
  }
}

/* Writes the pipe, then the out queue, then the end marker. Returns 0 or a
 * negative errno from the destination (the connection must then go). */
static int link_flush(fl_link_t *l) {
  fl_proxy_t *p = proxy_of(l);
  int fd = dst_fd(l);

  if (l->blocked || l->shut || fl_link_cut(l))
    return 0;
  while (l->pipe_bytes > 0) {
    ssize_t n = splice(l->pipe->rfd, NULL, fd, NULL, l->pipe_bytes,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      l->pipe_bytes -= (size_t)n;
      count_out(l, (size_t)n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      l->blocked = 1;
      return 0;
    } else {
      return n < 0 ? -errno : UV_EPIPE;
    }
  }
  if (l->pipe != NULL) {
    fl_pipe_put(&p->pool, l->pipe);
    l->pipe = NULL;
  }

  while (l->out.head != NULL) {
    struct iovec iov[IOV_BATCH];
    struct msghdr msg;
    size_t want = 0;
    int n = 0;
    for (fl_chunk_t *c = l->out.head; c != NULL && n < IOV_BATCH; c = c->next) {
      /* A slice is written on its own, so the peer sees it as a segment. */
      if ((c->flags & FL_CHUNK_ALONE) && n > 0)
        break;
      iov[n].iov_base = c->data + c->off;
      iov[n].iov_len = c->len;
      want += c->len;
      n++;
      if (c->flags & FL_CHUNK_ALONE)
        break;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        l->blocked = 1;
        return 0;
      }
      return -errno;
    }
    count_out(l, (size_t)w);
    size_t left = (size_t)w;
    while (left > 0) {
      fl_chunk_t *c = l->out.head;
      if (left >= c->len) {
        left -= c->len;
        fl_chunk_free(&p->pool, fl_chunkq_pop(&l->out));
      } else {
        c->off += (uint32_t)left;
        c->len -= (uint32_t)left;
        fl_chunkq_consumed(&l->out, left);
        left = 0;
      }
    }
    if ((size_t)w < want) { /* the socket buffer is full */
      l->blocked = 1;
      return 0;
    }
  }

  if (l->out_end == FL_END_EOF && !l->shut) {
    /* Half-close passes through: the destination reads EOF and may still
     * answer on the other link. */
    shutdown(fd, SHUT_WR);
    l->shut = 1;
  }
  return 0;
}

static void link_pump(fl_link_t *l);

void fl_link_pump(fl_link_t *l) {
  fl_conn_t *c = l->conn;
  link_pump(l);
  /* The HTTP layer answered a request itself: the answer goes out on the
   * other link, after the responses before it. */
  while (c->http_kick && c->state == FL_CONN_OPEN) {
    c->http_kick = 0;
    link_pump(&c->link[FL_LINK_DOWN]);
  }
}

static void link_pump(fl_link_t *l) {
  fl_conn_t *c = l->conn;
  /* A slicer may stop for room in the out queue; when the writer emptied
   * it, run the chain again rather than wait for a timer. */
  for (int round = 0; round < 8 && c->state == FL_CONN_OPEN; round++) {
    l->starved = 0;
    link_run(l, uv_hrtime());
    if (c->reset_req) {
      fl_conn_close(c, 1);
      return;
    }
    int rc = link_flush(l);
    if (rc < 0) {
      FL_LOG(FL_LOG_DEBUG, "proxy", "%s: connection %llu: write: %s", c->proxy->name,
             (unsigned long long)c->serial, fl_strerror(rc));
      fl_conn_close(c, 1);
      return;
    }
    if (!fl_link_cut(l) && l->out_end == FL_END_CLOSE && l->out.head == NULL &&
        l->pipe_bytes == 0) {
      fl_conn_close(c, 0);
      return;
    }
    if (c->link[FL_LINK_UP].shut && c->link[FL_LINK_DOWN].shut) {
      fl_conn_close(c, 0);
      return;
    }
    if (!l->starved || l->blocked || l->out.count >= FL_PROXY_QUEUE_CHUNKS)
      return;
  }
  /* Still more to slice after a fair share: go on at the next timer tick. */
  if (c->state == FL_CONN_OPEN && l->starved && !l->blocked)
    l->deadline = uv_hrtime();
}

void fl_link_on_writable(fl_link_t *l) {
  l->blocked = 0;
  fl_link_pump(l);
}

/* The source's EOF enters the chain behind the data read before it. */
static void link_eof(fl_link_t *l) {
  l->src_eof = 1;
  if (l->conn->http != NULL) {
    fl_phttp_eof(l->conn->http, l->index);
    return;
  }
  if (l->stages != NULL) {
    if (l->stages->in_end == FL_END_NONE && !l->stages->ended)
      l->stages->in_end = FL_END_EOF;
  } else if (l->out_end == FL_END_NONE) {
    l->out_end = FL_END_EOF;
  }
}

/* n bytes were read into the proxy's spare buffer: send them on at once when
 * nothing is in the way, else queue them (copied when small, the buffer
 * itself when large). Returns 0 or a negative errno of the destination. */
static int link_input(fl_link_t *l, size_t n) {
  fl_proxy_t *p = proxy_of(l);
  fl_chunk_t *rb = p->rbuf;
  size_t off = 0;

  if (link_clear(l) && !l->blocked && !fl_link_cut(l)) {
    ssize_t w = send(dst_fd(l), rb->data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR)
        return -errno;
      w = 0;
    }
    count_out(l, (size_t)w);
    if ((size_t)w == n)
      return 0;
    off = (size_t)w;
    l->blocked = 1;
  }
  fl_chunk_t *c;
  if (n - off <= FL_CHUNK_MEDIUM - sizeof(fl_chunk_t)) {
    c = fl_chunk_copy(&p->pool, rb->data + off, n - off);
  } else {
    c = rb;
    c->off = (uint32_t)off;
    c->len = (uint32_t)(n - off);
    p->rbuf = NULL;
  }
  c->t = uv_hrtime();
  c->due = 0;
  c->flags = 0;
  if (l->conn->http != NULL)
    fl_phttp_push(l->conn->http, l->index, c);
  else if (l->stages != NULL)
    fl_chunkq_push(&l->stages->in, c);
  else
    fl_chunkq_push(&l->out, c);
  return 0;
}

/* Splices once from the source into the link's pipe and on into the
 * destination; *asked is how much it asked for. Returns bytes read (> 0), 0 at EOF,
 * -EAGAIN when the source is empty, UV_ENOSYS when splice cannot be used here, or another
 * negative errno. */
static ssize_t link_splice(fl_link_t *l, size_t *asked) {
  fl_proxy_t *p = proxy_of(l);
  if (l->pipe == NULL && (l->pipe = fl_pipe_get(&p->pool)) == NULL)
    return UV_ENOSYS;
  ssize_t n;
  *asked = l->pipe->cap;
  do
    n = splice(src_fd(l), NULL, l->pipe->wfd, NULL, l->pipe->cap,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    if (l->pipe_bytes == 0) {
      fl_pipe_put(&p->pool, l->pipe);
      l->pipe = NULL;
    }
    if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP)
      return UV_ENOSYS;
    return -e;
  }
  if (n == 0) {
    fl_pipe_put(&p->pool, l->pipe);
    l->pipe = NULL;
    return 0;
  }
  l->pipe_bytes += (size_t)n;
  int rc = link_flush(l);
  return rc < 0 ? rc : n;
}

void fl_link_on_readable(fl_link_t *l) {
  fl_conn_t *c = l->conn;
  fl_proxy_t *p = proxy_of(l);
  size_t budget = FL_PROXY_READ_BUDGET;
  size_t asked = 0;
  ssize_t n = 0;

  while (budget > 0 && fl_link_want_read(l)) {
    /* Splice only while the direction carries bulk: for a small message
     * recv+send are as many calls and cheaper than moving pages through a
     * pipe. A read that fills the buffer switches to splice, a short
     * splice back (as HAProxy's splice-auto does). */
    if (p->splice && l->bulk && link_clear(l) && !l->blocked) {
      n = link_splice(l, &asked);
      if (n > 0 && (size_t)n < FL_PROXY_SPLICE_MIN)
        l->bulk = 0;
      if (n == UV_ENOSYS) {
        FL_LOG(FL_LOG_INFO, "proxy", "%s: splice unavailable, using read/write", p->name);
        p->splice = 0;
        continue;
      }
    } else {
      if (p->rbuf == NULL)
        p->rbuf = fl_chunk_new(&p->pool, FL_CHUNK_MAX);
      asked = p->rbuf->cap;
      do
        n = recv(src_fd(l), p->rbuf->data, p->rbuf->cap, 0);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        n = -errno;
      else if (n > 0) {
        if ((size_t)n == asked)
          l->bulk = 1;
        int rc = link_input(l, (size_t)n);
        if (rc < 0)
          n = rc; /* the destination failed */
      }
    }
    if (n > 0) {
      count_in(l, (size_t)n);
      budget -= (size_t)n < budget ? (size_t)n : budget;
      /* A short read drained the socket: asking again would only return
       * EAGAIN, a wasted system call per message (the poll is level
       * triggered and says when more comes). */
      if ((size_t)n < asked)
        break;
      continue;
    }
    if (n == 0) {
      link_eof(l);
      break;
    }
    if (n == -EAGAIN)
      break;
    FL_LOG(FL_LOG_DEBUG, "proxy", "%s: connection %llu: %s", p->name,
           (unsigned long long)c->serial, fl_strerror((int)n));
    fl_conn_close(c, 1); /* mirror the failure: the other peer sees a reset */
    return;
  }
  fl_link_pump(l);
}

/* The HTTP layer's output: into the link's chain, as a read would go. */

static void http_emit(void *arg, int dir, fl_chunk_t *ch) {
  fl_link_t *l = &((fl_conn_t *)arg)->link[dir];
  ch->t = uv_hrtime();
  ch->due = 0;
  if (l->stages != NULL)
    fl_chunkq_push(&l->stages->in, ch);
  else
    fl_chunkq_push(&l->out, ch);
}

static void http_end(void *arg, int dir, int end) {
  fl_link_t *l = &((fl_conn_t *)arg)->link[dir];
  if (l->stages != NULL) {
    if (l->stages->in_end != FL_END_CLOSE && !l->stages->ended)
      l->stages->in_end = end;
  } else if (l->out_end != FL_END_CLOSE) {
    l->out_end = end;
  }
}

static void http_reset(void *arg) {
  ((fl_conn_t *)arg)->reset_req = 1;
}

static void http_kick(void *arg, int dir) {
  (void)dir;
  ((fl_conn_t *)arg)->http_kick = 1;
}

void fl_link_http_start(fl_conn_t *c) {
  fl_proxy_t *p = c->proxy;
  fl_phttp_io_t io = {.pool = &p->pool,
                      .rules = &p->http_rules,
                      .stats = &p->stats,
                      .emit = http_emit,
                      .end = http_end,
                      .reset = http_reset,
                      .kick = http_kick,
                      .arg = c};
  c->http = fl_phttp_new(&io);
}
