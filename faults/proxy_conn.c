/* A proxied connection: the accepted client socket, the socket to the
 * upstream (resolved and connected without blocking), one uv_poll per
 * socket, and the close. Toxic deadlines go to the proxy's timer heap
 * (proxy_timer.c).
 *
 * Closing: fl_conn_close closes both descriptors at once (after draining
 * what the peers sent, so that a graceful close is a FIN and not an RST) and
 * the handles; the connection is freed in the last close callback. Nothing
 * that runs from a callback frees the connection under its caller. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults/proxy_int.h"
#include "faults/proxy_http.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/error.h"

typedef struct fl_resolve_s {
  uv_getaddrinfo_t req;
  fl_conn_t *conn; /* NULL once the connection went */
} fl_resolve_t;

/* How much a graceful close reads and discards from a socket first. */
#define DRAIN_MAX (1024 * 1024)

static void on_poll(uv_poll_t *h, int status, int events);

static void set_nodelay(int fd) {
  int one = 1;
  /* A proxy must not add Nagle's delay to what its peers chose to send. */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int sock_error(int fd) {
  int e = 0;
  socklen_t len = sizeof(e);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
    return -errno;
  return -e;
}

static void conn_free(fl_conn_t *c) {
  fl_proxy_t *p = c->proxy;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    p->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  fl_phttp_free(c->http);
  fl_free(c);
  if (p->conns == NULL) {
    fl_pool_clear_pipes(&p->pool);
    fl_proxy_conn_gone(p);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  fl_conn_t *c = h->data;
  if (--c->handles == 0)
    conn_free(c);
}

/* Reads and discards what the peer sent and we did not forward, so that
 * close(2) sends a FIN: closing with unread data makes the kernel send RST. */
static void drain(fl_proxy_t *p, int fd) {
  if (p->rbuf == NULL)
    p->rbuf = fl_chunk_new(&p->pool, FL_CHUNK_MAX);
  for (size_t total = 0; total < DRAIN_MAX;) {
    ssize_t n = recv(fd, p->rbuf->data, p->rbuf->cap, MSG_DONTWAIT);
    if (n <= 0)
      break;
    total += (size_t)n;
  }
}

static void set_linger0(int fd) {
  struct linger lg = {1, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void fl_conn_close(fl_conn_t *c, int reset) {
  fl_proxy_t *p = c->proxy;
  if (c->state == FL_CONN_CLOSING)
    return;
  c->state = FL_CONN_CLOSING;
  p->stats.connections_open--;
  for (int side = 0; side < 2; side++) {
    int fd = c->fd[side];
    if (fd < 0)
      continue;
    if (reset)
      set_linger0(fd);
    else
      drain(p, fd);
    if (c->mask[side] >= 0)
      uv_close((uv_handle_t *)&c->poll[side], on_handle_closed);
    /* uv_close stopped the poll, so the descriptor can go now. */
    close(fd);
    c->fd[side] = -1;
  }
  fl_ptimer_set(p, c, 0);
  fl_link_clear(&c->link[FL_LINK_UP]);
  fl_link_clear(&c->link[FL_LINK_DOWN]);
  if (c->resolve != NULL) {
    c->resolve->conn = NULL;
    uv_cancel((uv_req_t *)&c->resolve->req);
    c->resolve = NULL;
  }
}

static void connect_failed(fl_conn_t *c, int err) {
  fl_proxy_t *p = c->proxy;
  FL_LOG(FL_LOG_DEBUG, "proxy", "%s: connection %llu: upstream %s: %s", p->name,
         (unsigned long long)c->serial, p->upstream, fl_strerror(err));
  p->stats.connect_errors++;
  /* An upstream that refused (or could not be reached) gives the client a
   * plain close (FIN), as from Toxiproxy. One that accepted and reset before
   * the proxy saw the connect complete reset a connection that existed: the
   * client gets the reset, as it would from a direct connection. */
  fl_conn_close(c, err == UV_ECONNRESET || err == UV_EPIPE);
}

void fl_conn_update(fl_conn_t *c) {
  if (c->state == FL_CONN_CLOSING)
    return;
  for (int side = 0; side < 2; side++) {
    int want = 0;
    if (c->mask[side] < 0)
      continue;
    if (c->state == FL_CONN_OPEN) {
      /* This side is the source of link[side] and the destination of the
       * other link. */
      const fl_link_t *in = &c->link[side];
      const fl_link_t *out = &c->link[1 - side];
      if (fl_link_want_read(in))
        want |= UV_READABLE;
      if (out->blocked && !fl_link_cut(out))
        want |= UV_WRITABLE;
    } else if (c->state == FL_CONN_CONNECTING && side == FL_SIDE_SERVER) {
      want = UV_WRITABLE;
    }
    if (want == c->mask[side])
      continue;
    if (want != 0)
      uv_poll_start(&c->poll[side], want, on_poll);
    else
      uv_poll_stop(&c->poll[side]);
    c->mask[side] = want;
  }

  uint64_t due = 0;
  if (c->state == FL_CONN_OPEN) {
    for (int i = 0; i < 2; i++) {
      uint64_t d = c->link[i].deadline;
      if (d != 0 && (due == 0 || d < due))
        due = d;
    }
  }
  fl_ptimer_set(c->proxy, c, due);
}

static void on_connected(fl_conn_t *c) {
  c->state = FL_CONN_OPEN;
  fl_link_pump(&c->link[FL_LINK_UP]);
  fl_link_pump(&c->link[FL_LINK_DOWN]);
  fl_conn_update(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  fl_conn_t *c = h->data;
  int side = h == &c->poll[FL_SIDE_SERVER] ? FL_SIDE_SERVER : FL_SIDE_CLIENT;

  if (c->state == FL_CONN_CLOSING)
    return;
  if (status < 0)
    c->mask[side] = 0; /* libuv stopped the poll on POLLERR */
  if (c->state == FL_CONN_CONNECTING) {
    if (side != FL_SIDE_SERVER)
      return;
    int err = sock_error(c->fd[side]);
    if (err == 0 && status < 0)
      err = UV_ECONNREFUSED;
    if (err != 0)
      connect_failed(c, err);
    else if (events & UV_WRITABLE)
      on_connected(c);
    return;
  }
  if (status < 0) {
    int err = sock_error(c->fd[side]);
    FL_LOG(FL_LOG_DEBUG, "proxy", "%s: connection %llu: %s side: %s", c->proxy->name,
           (unsigned long long)c->serial, side == FL_SIDE_CLIENT ? "client" : "server",
           fl_strerror(err ? err : status));
    fl_conn_close(c, 1);
    return;
  }
  if (events & UV_WRITABLE)
    fl_link_on_writable(&c->link[1 - side]);
  if ((events & UV_READABLE) && c->state == FL_CONN_OPEN)
    fl_link_on_readable(&c->link[side]);
  fl_conn_update(c);
}

static void conn_connect(fl_conn_t *c, const struct sockaddr *sa) {
  fl_proxy_t *p = c->proxy;
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    connect_failed(c, -errno);
    return;
  }
  set_nodelay(fd);
  c->fd[FL_SIDE_SERVER] = fd;
  int rc = uv_poll_init(p->loop, &c->poll[FL_SIDE_SERVER], fd);
  if (rc != 0) {
    connect_failed(c, rc);
    return;
  }
  c->poll[FL_SIDE_SERVER].data = c;
  c->mask[FL_SIDE_SERVER] = 0;
  c->handles++;
  c->state = FL_CONN_CONNECTING;
  do
    rc = connect(fd, sa, fl_addr_len(sa));
  while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    on_connected(c);
    return;
  }
  if (errno != EINPROGRESS) {
    connect_failed(c, -errno);
    return;
  }
  fl_conn_update(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  fl_resolve_t *r = fl_container_of(req, fl_resolve_t, req);
  fl_conn_t *c = r->conn;
  if (c != NULL) {
    c->resolve = NULL;
    if (status < 0 || res == NULL)
      connect_failed(c, status < 0 ? status : UV_EAI_NONAME);
    else
      conn_connect(c, res->ai_addr);
  }
  uv_freeaddrinfo(res);
  fl_free(r);
}

void fl_conn_start(fl_proxy_t *p, int fd) {
  fl_conn_t *c = fl_calloc(1, sizeof(*c));
  c->proxy = p;
  c->serial = ++p->conn_serial;
  c->seed = p->seed;
  c->fd[FL_SIDE_CLIENT] = fd;
  c->fd[FL_SIDE_SERVER] = -1;
  c->mask[FL_SIDE_CLIENT] = c->mask[FL_SIDE_SERVER] = -1;
  fl_link_init(&c->link[FL_LINK_UP], c, FL_LINK_UP);
  fl_link_init(&c->link[FL_LINK_DOWN], c, FL_LINK_DOWN);
  c->next = p->conns;
  if (p->conns != NULL)
    p->conns->prev = c;
  p->conns = c;
  p->stats.connections_total++;
  p->stats.connections_open++;

  c->state = FL_CONN_CONNECTING;
  if (uv_poll_init(p->loop, &c->poll[FL_SIDE_CLIENT], fd) != 0) {
    /* Nothing of it reached the loop: undo by hand. */
    close(fd);
    p->stats.connections_open--;
    conn_free(c);
    return;
  }
  c->poll[FL_SIDE_CLIENT].data = c;
  c->mask[FL_SIDE_CLIENT] = 0;
  c->handles = 1;
  set_nodelay(fd);

  if (p->http_rules != NULL)
    fl_link_http_start(c);
  uint64_t now = uv_hrtime();
  for (fl_toxic_t *t = p->toxics; t != NULL; t = t->next)
    fl_link_add_stage(&c->link[t->stream == FL_UPSTREAM ? FL_LINK_UP : FL_LINK_DOWN], t,
                      now);

  /* A partition cuts the handshake too: the upstream learns of the
   * connection only after the heal. */
  if (p->partition) {
    c->state = FL_CONN_HELD;
    return;
  }
  fl_conn_proceed(c);
}

void fl_conn_proceed(fl_conn_t *c) {
  fl_proxy_t *p = c->proxy;
  if (p->up_numeric) {
    conn_connect(c, (const struct sockaddr *)&p->up_addr);
    return;
  }
  fl_resolve_t *r = fl_calloc(1, sizeof(*r));
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  r->conn = c;
  c->resolve = r;
  c->state = FL_CONN_RESOLVING;
  int rc = uv_getaddrinfo(p->loop, &r->req, on_resolved, p->up_host, p->up_port, &hints);
  if (rc != 0) {
    c->resolve = NULL;
    fl_free(r);
    connect_failed(c, rc);
  }
}
