/* The TCP fault proxy's public face: making and closing a proxy, its
 * listening socket, toxics, partitions, enable/disable, JSON and stats.
 * Connections live in proxy_conn.c, directions in proxy_link.c. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults/proxy_int.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "base/log.h"
#include "base/error.h"

#define LISTEN_BACKLOG 511

static void listener_close(fl_proxy_t *p);
static void on_retry(uv_timer_t *t);

/* Listening. */

static void on_listener_closed(uv_handle_t *h) {
  fl_listener_t *ls = h->data;
  fl_proxy_t *owner = ls->proxy;
  fl_free(ls);
  if (owner != NULL) {
    owner->handles--;
    fl_proxy_conn_gone(owner);
  }
}

static void on_accept(uv_poll_t *h, int status, int events) {
  fl_listener_t *ls = h->data;
  fl_proxy_t *p = ls->proxy;
  (void)events;
  if (p == NULL || p->closing || p->listener != ls)
    return;
  if (status < 0) {
    FL_LOG(FL_LOG_WARN, "proxy", "%s: listening socket: %s", p->name,
           fl_strerror(status));
    return;
  }
  /* Accept what is waiting, a bounded number per wakeup so that a flood of
   * connections does not starve the ones already open. */
  for (int i = 0; i < 128; i++) {
    int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EAGAIN)
        break;
      FL_LOG(FL_LOG_WARN, "proxy", "%s: accept: %s; pausing 100 ms", p->name,
             strerror(errno));
      /* Out of descriptors: a level-triggered poll would spin. */
      uv_poll_stop(&ls->poll);
      uv_timer_start(&p->retry, on_retry, 100, 0);
      break;
    }
    fl_conn_start(p, fd);
  }
}

static void on_retry(uv_timer_t *t) {
  fl_proxy_t *p = t->data;
  if (p->listener != NULL && !p->closing)
    uv_poll_start(&p->listener->poll, UV_READABLE, on_accept);
}

/* Binds and listens on addr (the port written back), replacing nothing. */
static int listener_open(fl_proxy_t *p, struct sockaddr_storage *addr,
                         fl_listener_t **out, fl_err_t *err) {
  char where[80];
  const struct sockaddr *sa = (const struct sockaddr *)addr;
  socklen_t len = fl_addr_len(sa);
  int one = 1;
  int rc;

  *out = NULL;
  fl_addr_format(sa, where, sizeof(where));
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
    rc = -errno;
    close(fd);
    goto fail;
  }
  fl_listener_t *ls = fl_calloc(1, sizeof(*ls));
  ls->fd = fd;
  rc = uv_poll_init(p->loop, &ls->poll, fd);
  if (rc != 0) {
    close(fd);
    fl_free(ls);
    goto fail;
  }
  ls->poll.data = ls;
  ls->proxy = p;
  p->handles++;
  uv_poll_start(&ls->poll, UV_READABLE, on_accept);
  *out = ls;
  return 0;

fail:
  return fl_err_set(err, rc, "proxy %s: cannot listen on %s: %s", p->name, where,
                    fl_strerror(rc));
}

static void listener_close(fl_proxy_t *p) {
  fl_listener_t *ls = p->listener;
  if (ls == NULL)
    return;
  p->listener = NULL;
  uv_close((uv_handle_t *)&ls->poll, on_listener_closed);
  close(ls->fd);
}

/* Making and closing. */

static int parse_upstream(fl_proxy_t *p, const char *upstream, fl_err_t *err) {
  struct sockaddr_storage addr;
  int numeric;
  char *host, *port;
  int rc = fl_addr_parse(upstream, "upstream", 1, &addr, &numeric, &host, &port, err);
  if (rc)
    return rc;
  fl_free(p->upstream);
  fl_free(p->up_host);
  fl_free(p->up_port);
  p->upstream = fl_strdup(upstream);
  p->up_addr = addr;
  p->up_numeric = numeric;
  p->up_host = host;
  p->up_port = port;
  return 0;
}

static void proxy_free(fl_proxy_t *p) {
  while (p->toxics != NULL) {
    fl_toxic_t *t = p->toxics;
    p->toxics = t->next;
    fl_toxic_clear(t);
    fl_free(t);
  }
  while (p->http_rules != NULL) {
    fl_http_rule_t *r = p->http_rules;
    p->http_rules = r->next;
    fl_http_rule_free(r);
  }
  fl_chunk_free(&p->pool, p->rbuf);
  fl_pool_clear(&p->pool);
  fl_free(p->name);
  fl_free(p->upstream);
  fl_free(p->up_host);
  fl_free(p->up_port);
  fl_free(p);
}

int fl_proxy_new(fl_proxy_t **out, uv_loop_t *loop, const char *name, const char *listen,
                 const char *upstream, fl_err_t *err) {
  struct sockaddr_storage laddr;
  int numeric;
  int rc;

  *out = NULL;
  if (name == NULL || name[0] == '\0')
    return fl_err_set(err, FL_ECONFIG,
                      "proxy: field \"name\" must be a non-empty string");
  rc = fl_addr_parse(listen, "listen", 0, &laddr, &numeric, NULL, NULL, err);
  if (rc)
    return rc;

  fl_proxy_t *p = fl_calloc(1, sizeof(*p));
  p->loop = loop;
  p->name = fl_strdup(name);
  p->listen_addr = laddr;
  p->seed = fl_seed_for(0, name); /* until fl_proxy_set_seed */
  fl_pool_init(&p->pool);
  const char *sp = getenv("FL_PROXY_SPLICE");
  p->splice = !(sp != NULL && strcmp(sp, "0") == 0);
  rc = parse_upstream(p, upstream, err);
  if (rc == 0)
    rc = listener_open(p, &p->listen_addr, &p->listener, err);
  if (rc) {
    proxy_free(p);
    return rc;
  }
  fl_addr_format((struct sockaddr *)&p->listen_addr, p->listen, sizeof(p->listen));
  p->enabled = 1;
  uv_timer_init(loop, &p->retry);
  p->retry.data = p;
  p->handles++;
  fl_ptimer_init(p);
  p->handles++;

  /* A write to a peer that went away must be an error, not a signal that
   * kills the process (splice has no MSG_NOSIGNAL). Respect a handler the
   * program installed. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  *out = p;
  return 0;
}

void fl_proxy_conn_gone(fl_proxy_t *p) {
  if (!p->closing || p->conns != NULL || p->handles != 0)
    return;
  void (*cb)(void *) = p->close_cb;
  void *arg = p->close_arg;
  proxy_free(p);
  if (cb != NULL)
    cb(arg);
}

static void on_retry_closed(uv_handle_t *h) {
  fl_proxy_t *p = h->data;
  p->handles--;
  fl_proxy_conn_gone(p);
}

static void on_timer_closed(uv_handle_t *h) {
  fl_proxy_t *p = fl_container_of(h, fl_proxy_t, timer);
  p->handles--;
  fl_proxy_conn_gone(p);
}

static void timeline_end(fl_proxy_t *p, int *id) {
  if (p->tl != NULL && *id > 0)
    fl_timeline_fault_end(p->tl, *id);
  *id = 0;
}

void fl_proxy_close(fl_proxy_t *p, void (*cb)(void *arg), void *arg) {
  if (p == NULL || p->closing)
    return;
  p->closing = 1;
  p->close_cb = cb;
  p->close_arg = arg;
  for (fl_toxic_t *t = p->toxics; t != NULL; t = t->next)
    timeline_end(p, &t->fault_id);
  timeline_end(p, &p->fault_partition);
  timeline_end(p, &p->fault_down);
  listener_close(p);
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next)
    fl_conn_close(c, 0);
  /* The retry timer's close callback comes after this call returns, so cb
   * never runs before fl_proxy_close returns. */
  uv_close((uv_handle_t *)&p->retry, on_retry_closed);
  fl_ptimer_close(p, on_timer_closed);
}

/* Accessors. */

const char *fl_proxy_name(const fl_proxy_t *p) {
  return p->name;
}

const char *fl_proxy_listen(const fl_proxy_t *p) {
  return p->listen;
}

const char *fl_proxy_upstream(const fl_proxy_t *p) {
  return p->upstream;
}

int fl_proxy_set_upstream(fl_proxy_t *p, const char *upstream, fl_err_t *err) {
  return parse_upstream(p, upstream, err);
}

int fl_proxy_set_listen(fl_proxy_t *p, const char *listen, fl_err_t *err) {
  struct sockaddr_storage addr;
  int numeric;
  int rc = fl_addr_parse(listen, "listen", 0, &addr, &numeric, NULL, NULL, err);
  if (rc)
    return rc;
  if (p->enabled) {
    fl_listener_t *ls;
    rc = listener_open(p, &addr, &ls, err);
    if (rc)
      return rc;
    listener_close(p);
    p->listener = ls;
  }
  p->listen_addr = addr;
  fl_addr_format((struct sockaddr *)&p->listen_addr, p->listen, sizeof(p->listen));
  return 0;
}

void fl_proxy_set_seed(fl_proxy_t *p, uint64_t seed) {
  p->seed = seed;
}

void fl_proxy_set_splice(fl_proxy_t *p, int on) {
  p->splice = on != 0;
}

void fl_proxy_set_timeline(fl_proxy_t *p, fl_timeline_t *tl) {
  p->tl = tl;
}

void fl_proxy_stats(const fl_proxy_t *p, fl_proxy_stats_t *out) {
  *out = p->stats;
}

/* Enable, disable, partition. */

static void close_all(fl_proxy_t *p) {
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next)
    fl_conn_close(c, 0);
}

int fl_proxy_enable(fl_proxy_t *p, fl_err_t *err) {
  if (p->enabled)
    return 0;
  int rc = listener_open(p, &p->listen_addr, &p->listener, err);
  if (rc)
    return rc;
  p->enabled = 1;
  timeline_end(p, &p->fault_down);
  return 0;
}

void fl_proxy_set_enabled(fl_proxy_t *p, int enabled) {
  if (enabled) {
    fl_err_t err;
    if (fl_proxy_enable(p, &err) != 0)
      FL_LOG(FL_LOG_WARN, "proxy", "%s", err.msg);
    return;
  }
  if (!p->enabled)
    return;
  p->enabled = 0;
  listener_close(p);
  close_all(p);
  if (p->tl != NULL && p->fault_down == 0)
    p->fault_down =
        fl_timeline_fault_begin(p->tl, "down", json_pack("[s]", p->name), NULL);
}

int fl_proxy_enabled(const fl_proxy_t *p) {
  return p->enabled;
}

static void pump_all(fl_proxy_t *p) {
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next) {
    fl_link_pump(&c->link[FL_LINK_UP]);
    fl_link_pump(&c->link[FL_LINK_DOWN]);
    fl_conn_update(c);
  }
}

static const char *dir_name(int dirs) {
  return dirs == FL_BOTH ? "both" : dirs == FL_UPSTREAM ? "upstream" : "downstream";
}

void fl_proxy_partition(fl_proxy_t *p, int directions) {
  directions &= FL_BOTH;
  if (directions == 0 || (p->partition | directions) == p->partition)
    return;
  p->partition |= directions;
  timeline_end(p, &p->fault_partition);
  if (p->tl != NULL)
    p->fault_partition =
        fl_timeline_fault_begin(p->tl, "partition", json_pack("[s]", p->name),
                                json_pack("{s:s}", "direction", dir_name(p->partition)));
  pump_all(p);
}

void fl_proxy_heal(fl_proxy_t *p) {
  if (p->partition == 0)
    return;
  p->partition = 0;
  timeline_end(p, &p->fault_partition);
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next)
    if (c->state == FL_CONN_HELD)
      fl_conn_proceed(c);
  pump_all(p);
}

int fl_proxy_partitioned(const fl_proxy_t *p) {
  return p->partition;
}

/* Toxics. */

static fl_toxic_t *toxic_find(const fl_proxy_t *p, const char *name, fl_toxic_t ***link) {
  fl_toxic_t **pp = (fl_toxic_t **)&p->toxics;
  while (*pp != NULL && strcmp((*pp)->name, name) != 0)
    pp = &(*pp)->next;
  if (link != NULL)
    *link = pp;
  return *pp;
}

static fl_link_t *conn_link(fl_conn_t *c, const fl_toxic_t *t) {
  return &c->link[t->stream == FL_UPSTREAM ? FL_LINK_UP : FL_LINK_DOWN];
}

static void toxic_begin(fl_proxy_t *p, fl_toxic_t *t) {
  if (p->tl == NULL)
    return;
  timeline_end(p, &t->fault_id);
  t->fault_id = fl_timeline_fault_begin(p->tl, "toxic", json_pack("[s]", p->name),
                                        fl_toxic_to_json(t));
}

int fl_proxy_add_toxic(fl_proxy_t *p, const json_t *spec, fl_err_t *err) {
  fl_toxic_t tmp;
  fl_toxic_t **tail;
  int rc = fl_toxic_parse(&tmp, spec, NULL, err);
  if (rc)
    return rc;
  if (toxic_find(p, tmp.name, &tail) != NULL) {
    rc = fl_err_set(err, FL_ECONFIG,
                    "toxic %s: field \"name\": a toxic of that name exists", tmp.name);
    fl_toxic_clear(&tmp);
    return rc;
  }
  fl_toxic_t *t = fl_malloc(sizeof(*t));
  *t = tmp;
  t->serial = ++p->toxic_serial;
  t->next = NULL;
  *tail = t;
  uint64_t now = uv_hrtime();
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next) {
    if (c->state == FL_CONN_CLOSING)
      continue;
    fl_link_add_stage(conn_link(c, t), t, now);
    fl_link_pump(conn_link(c, t));
    fl_conn_update(c);
  }
  toxic_begin(p, t);
  return 0;
}

int fl_proxy_update_toxic(fl_proxy_t *p, const char *name, const json_t *spec,
                          fl_err_t *err) {
  fl_toxic_t tmp;
  fl_toxic_t *t = toxic_find(p, name, NULL);
  if (t == NULL)
    return fl_err_set(err, UV_ENOENT, "toxic %s: toxic not found", name);
  int rc = fl_toxic_parse(&tmp, spec, t, err);
  if (rc)
    return rc;
  memcpy(t->attr, tmp.attr, sizeof(t->attr));
  t->toxicity = tmp.toxicity;
  t->rolls = tmp.rolls;
  fl_toxic_clear(&tmp);
  uint64_t now = uv_hrtime();
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next) {
    if (c->state == FL_CONN_CLOSING)
      continue;
    fl_link_update_stage(conn_link(c, t), t, now);
    fl_link_pump(conn_link(c, t));
    fl_conn_update(c);
  }
  toxic_begin(p, t);
  return 0;
}

static void toxic_remove(fl_proxy_t *p, fl_toxic_t **pp) {
  fl_toxic_t *t = *pp;
  uint64_t now = uv_hrtime();
  for (fl_conn_t *c = p->conns; c != NULL; c = c->next) {
    if (c->state == FL_CONN_CLOSING)
      continue;
    fl_link_remove_stage(conn_link(c, t), t, now);
    fl_link_pump(conn_link(c, t));
    fl_conn_update(c);
  }
  *pp = t->next;
  timeline_end(p, &t->fault_id);
  fl_toxic_clear(t);
  fl_free(t);
}

int fl_proxy_remove_toxic(fl_proxy_t *p, const char *name, fl_err_t *err) {
  fl_toxic_t **pp;
  if (toxic_find(p, name, &pp) == NULL)
    return fl_err_set(err, UV_ENOENT, "toxic %s: toxic not found", name);
  toxic_remove(p, pp);
  return 0;
}

void fl_proxy_remove_all_toxics(fl_proxy_t *p) {
  while (p->toxics != NULL)
    toxic_remove(p, &p->toxics);
}

/* JSON. */

json_t *fl_proxy_toxics_json(const fl_proxy_t *p) {
  json_t *a = json_array();
  for (const fl_toxic_t *t = p->toxics; t != NULL; t = t->next)
    json_array_append_new(a, fl_toxic_to_json(t));
  return a;
}

json_t *fl_proxy_toxic_json(const fl_proxy_t *p, const char *name) {
  const fl_toxic_t *t = toxic_find(p, name, NULL);
  return t ? fl_toxic_to_json(t) : NULL;
}

json_t *fl_proxy_to_json(const fl_proxy_t *p) {
  return json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", p->name, "listen", p->listen,
                   "upstream", p->upstream, "enabled", p->enabled, "toxics",
                   fl_proxy_toxics_json(p));
}
