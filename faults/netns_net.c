/* A run's namespace network on the loop (netns_net.h): the queue of steps,
 * the open sequence, the isolation probe and the teardown. The pieces it
 * drives (subnets, endpoints, scripts, state files) are in netns.c,
 * netns_stale.c and nft.c. */
#include "faults/netns_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "faults/clock.h"
#include "faults/nft.h"
#include "faults/subproc.h"
#include "base/error.h"

#define STEP_TIMEOUT_MS 30000
#define DRAIN_TICK_MS 100
#define DRAIN_TICKS 100 /* 10 s for processes to leave their namespaces */

typedef enum { OP_OPEN, OP_SCRIPT } op_kind_t;

struct fl_nsnet_op_s {
  op_kind_t kind;
  fl_nsnet_t *n;
  fl_nsnet_cb cb; /* NULL once canceled */
  void *arg;
  fl_script_t *script; /* OP_SCRIPT: run it (taken when started) */
  fl_net_ep_t *attach; /* OP_SCRIPT: marked attached when it succeeds */
  int stage;           /* OP_OPEN */
  struct fl_nsnet_op_s *next;
};

struct fl_nsnet_s {
  uv_loop_t *loop;
  fl_net_t *net; /* NULL until a subnet is chosen */
  char run_id[9];
  char *want_subnet;
  char *subnet_file;
  fl_timeline_t *tl;
  void (*death_cmd)(const char *run_id, const char *cmd, void *arg);
  void *death_arg;
  int marked;
  fl_nsnet_op_t *queue, *running;
  int closing;
  void (*done)(void *);
  void *done_arg;
  uv_timer_t timer;
  int ticks;
};

/* What the kernel offers, found once per process. */
static fl_netns_features_t features;
static int have_features;

const fl_netns_features_t *fl_nsnet_features(void) {
  return &features;
}

fl_net_t *fl_nsnet_net(const fl_nsnet_t *n) {
  return n->net;
}

const char *fl_nsnet_run_id(const fl_nsnet_t *n) {
  return n->run_id;
}

int fl_nsnet_usable(fl_err_t *err) {
  char why[256];
  if (!fl_netns_privileged(why, sizeof(why)))
    return fl_err_set(err, FL_ENOSUPPORT,
                      "needs root (%s) to make network namespaces, links and nftables "
                      "rules, and this process does not have it",
                      why);
  static const char *const tools[] = {"ip", "nft", "tc"};
  static const char *const pkgs[] = {"iproute2", "nftables", "iproute2"};
  for (size_t i = 0; i < FL_ARRAY_SIZE(tools); i++)
    if (!fl_subproc_have(tools[i]))
      return fl_err_set(err, FL_ENOSUPPORT,
                        "`%s` is not installed (Debian: apt-get install %s)", tools[i],
                        pkgs[i]);
  return 0;
}

static void tell_death_cmd(fl_nsnet_t *n, int gone) {
  if (n->death_cmd == NULL)
    return;
  char *cmd = gone ? NULL : fl_netns_death_cmd(n->run_id, n->subnet_file);
  n->death_cmd(n->run_id, cmd, n->death_arg);
  fl_free(cmd);
}

/* ---- the queue ---------------------------------------------------------------- */

static void op_start(fl_nsnet_op_t *op);
static void close_continue(fl_nsnet_t *n);

static void kick(fl_nsnet_t *n) {
  if (n->running != NULL || n->queue == NULL)
    return;
  fl_nsnet_op_t *op = n->queue;
  n->queue = op->next;
  n->running = op;
  op_start(op);
}

/* Ends the running op and tells its caller, unless it stopped waiting. */
static void op_complete(fl_nsnet_op_t *op, int status, const char *msg) {
  fl_nsnet_t *n = op->n;
  n->running = NULL;
  fl_nsnet_cb cb = op->cb;
  void *arg = op->arg;
  fl_script_free(op->script);
  fl_free(op);
  if (n->closing) {
    close_continue(n);
    return;
  }
  if (cb != NULL)
    cb(status, status ? msg : NULL, arg);
  kick(n);
}

void fl_nsnet_cancel(fl_nsnet_op_t *op) {
  if (op == NULL)
    return;
  op->cb = NULL;
  fl_nsnet_t *n = op->n;
  if (n->running == op)
    return; /* it finishes on its own: a half-run script is worse than a late one */
  for (fl_nsnet_op_t **pp = &n->queue; *pp != NULL; pp = &(*pp)->next)
    if (*pp == op) {
      *pp = op->next;
      fl_script_free(op->script);
      fl_free(op);
      return;
    }
}

static void submit(fl_nsnet_t *n, fl_nsnet_op_t *op, fl_nsnet_cb cb, void *arg,
                   fl_nsnet_op_t **out) {
  op->n = n;
  op->cb = cb;
  op->arg = arg;
  if (out != NULL)
    *out = op;
  fl_nsnet_op_t **pp = &n->queue;
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = op;
  /* Every step runs a script or a child process, whose callbacks come from
   * the loop (an empty script too), so cb never runs before this returns. */
  kick(n);
}

/* A failed script as one line: the command and the first line it printed. */
static char *script_error(const fl_script_result_t *r) {
  const char *e = r->result && r->result->err_len ? r->result->err : "";
  size_t len = strcspn(e, "\n");
  if (len == 0 && r->result && r->result->out_len) {
    e = r->result->out;
    len = strcspn(e, "\n");
  }
  return fl_asprintf("`%s` failed (exit %d)%s%.*s", r->line, r->status, len ? ": " : "",
                     (int)len, e);
}

static void on_script(const fl_script_result_t *r, void *arg) {
  fl_nsnet_op_t *op = arg;
  op->script = NULL; /* the script frees itself */
  if (r->status != 0) {
    char *msg = script_error(r);
    op_complete(op, r->status < 0 ? r->status : FL_ECONFIG, msg);
    fl_free(msg);
    return;
  }
  if (op->attach != NULL)
    op->attach->attached = 1;
  op_complete(op, 0, NULL);
}

/* ---- opening ---------------------------------------------------------------- */

static void open_next(fl_nsnet_op_t *op);

static void on_open_script(const fl_script_result_t *r, void *arg) {
  fl_nsnet_op_t *op = arg;
  op->script = NULL;
  if (op->stage == 4 && r->status != 0) {
    char *msg = script_error(r);
    char *full = fl_asprintf("cannot make the bridge and table: %s", msg);
    op_complete(op, FL_ECONFIG, full);
    fl_free(full);
    fl_free(msg);
    return;
  }
  open_next(op);
}

/* Takes the subnet asked for, or the first free /24 of 10.77.0.0/16. Returns
 * new: the reason it could not, or NULL. */
static char *take_subnet(fl_nsnet_t *n, const char *routes, fl_subnet_t *sn) {
  fl_err_t err = {0};
  char why[256];
  if (n->want_subnet != NULL) {
    if (fl_subnet_parse(n->want_subnet, sn, &err) < 0)
      return fl_strdup(err.msg);
    if (fl_netns_route_conflict(routes, sn, why, sizeof(why)) == 1)
      return fl_asprintf("subnet %s overlaps the host's route %s; choose another "
                         "subnet (or leave it out: faultline picks a free one)",
                         n->want_subnet, why);
    if (fl_netns_subnet_take(sn, n->run_id, &n->subnet_file) < 0)
      return fl_asprintf("subnet %s is held by another faultline run that is still "
                         "alive; choose another",
                         n->want_subnet);
    return NULL;
  }
  for (uint32_t i = 0; i < 256; i++) {
    sn->net = (10u << 24) | (77u << 16) | (i << 8);
    sn->len = 24;
    if (fl_netns_route_conflict(routes, sn, why, sizeof(why)) != 0)
      continue;
    if (fl_netns_subnet_take(sn, n->run_id, &n->subnet_file) == 0)
      return NULL;
  }
  return fl_strdup("no free /24 in 10.77.0.0/16 (every one overlaps a host route or is "
                   "held by a live run); give subnet = \"...\"");
}

static void choose_subnet(fl_nsnet_op_t *op, const char *routes) {
  fl_nsnet_t *n = op->n;
  fl_subnet_t sn;
  fl_err_t err = {0};
  char *msg = take_subnet(n, routes, &sn);
  if (msg == NULL && fl_net_new(&n->net, n->run_id, &sn, &err) < 0)
    msg = fl_strdup(err.msg);
  if (msg != NULL) {
    op_complete(op, FL_ECONFIG, msg);
    fl_free(msg);
    return;
  }
  tell_death_cmd(n, 0); /* now with the subnet's file too */
  open_next(op);
}

static void on_routes(const fl_subproc_result_t *r, void *arg) {
  fl_nsnet_op_t *op = arg;
  if (r->status != 0) {
    char *msg = fl_asprintf("cannot read the host's routes (ip -j route): %.*s",
                            (int)strcspn(r->err, "\n"), r->err);
    op_complete(op, r->status < 0 ? r->status : FL_ECONFIG, msg);
    fl_free(msg);
    return;
  }
  choose_subnet(op, r->out);
}

static void on_features(const fl_subproc_result_t *r, void *arg) {
  fl_nsnet_op_t *op = arg;
  fl_netns_features_parse(r->out, &features);
  have_features = 1;
  open_next(op);
}

/* One line on what this kernel offers, and what it does not. */
static void note_features(fl_nsnet_t *n) {
  char *line = fl_asprintf(
      "netns: subnet %s on bridge %s (faultline at %s); the kernel offers "
      "nftables%s%s%s%s",
      fl_net_subnet_str(n->net), fl_net_bridge(n->net), fl_net_host_addr(n->net),
      features.tbf ? ", tbf" : "; no tbf (bandwidth limits unavailable)",
      features.netem ? ", netem" : "; no netem (",
      features.netem ? "" : features.netem_error,
      features.netem ? ""
                     : "): latency, jitter, loss and duplication are not available in "
                       "this layer (use a proxy's toxics)");
  FL_LOG(FL_LOG_INFO, "netns", "%s", line);
  if (n->tl != NULL)
    fl_timeline_event(n->tl, "step", json_pack("{s:s}", "message", line));
  fl_free(line);
}

static void open_next(fl_nsnet_op_t *op) {
  fl_nsnet_t *n = op->n;
  if (n->closing) {
    op_complete(op, FL_ECANCELED, "canceled");
    return;
  }
  switch (op->stage++) {
  case 0: {
    /* What runs that are gone left behind. */
    char **ids = fl_netns_stale_runs(NULL);
    fl_script_t *s = fl_script_new();
    for (size_t i = 0; ids[i] != NULL; i++) {
      FL_LOG(FL_LOG_INFO, "netns", "removing what run %s left behind", ids[i]);
      fl_netns_script_remove_run(s, ids[i]);
    }
    fl_netns_ids_free(ids);
    fl_clock_sweep_shm(); /* as `faultline cleanup` does */
    fl_script_run(s, n->loop, STEP_TIMEOUT_MS, on_open_script, op);
    return;
  }
  case 1: {
    const char *argv[] = {"ip", "-j", "-4", "route", "show", "table", "all", NULL};
    fl_subproc_run(n->loop, argv, NULL, NULL, STEP_TIMEOUT_MS, on_routes, op, NULL);
    return;
  }
  case 2:
    if (!have_features) {
      char *cmd = fl_netns_features_cmd(n->run_id);
      const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
      fl_subproc_run(n->loop, argv, NULL, NULL, STEP_TIMEOUT_MS, on_features, op, NULL);
      fl_free(cmd);
      return;
    }
    open_next(op);
    return;
  case 3:
    fl_script_run(fl_net_script_create(n->net), n->loop, STEP_TIMEOUT_MS, on_open_script,
                  op);
    return;
  default:
    note_features(n);
    op_complete(op, 0, NULL);
    return;
  }
}

static void op_start(fl_nsnet_op_t *op) {
  if (op->kind == OP_OPEN) {
    open_next(op);
    return;
  }
  fl_script_t *s = op->script;
  op->script = NULL;
  fl_script_run(s, op->n->loop, STEP_TIMEOUT_MS, on_script, op);
}

int fl_nsnet_open(fl_nsnet_t **out, uv_loop_t *loop, const fl_nsnet_opts_t *opts,
                  fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err) {
  *out = NULL;
  if (opts->subnet != NULL) {
    fl_subnet_t sn;
    int rc = fl_subnet_parse(opts->subnet, &sn, err);
    if (rc < 0)
      return rc;
  }
  int rc = fl_netns_run_mark(opts->run_id, err);
  if (rc < 0)
    return rc;
  fl_nsnet_t *n = fl_calloc(1, sizeof(*n));
  n->loop = loop;
  snprintf(n->run_id, sizeof(n->run_id), "%s", opts->run_id);
  n->want_subnet = opts->subnet ? fl_strdup(opts->subnet) : NULL;
  n->tl = opts->tl;
  n->death_cmd = opts->death_cmd;
  n->death_arg = opts->arg;
  n->marked = 1;
  uv_timer_init(loop, &n->timer);
  n->timer.data = n;
  /* From here on nothing may be left behind even if the process is killed. */
  tell_death_cmd(n, 0);
  fl_nsnet_op_t *o = fl_calloc(1, sizeof(*o));
  o->kind = OP_OPEN;
  submit(n, o, cb, arg, op);
  *out = n;
  return 0;
}

/* ---- steps ---------------------------------------------------------------------- */

static int not_open(fl_nsnet_t *n, fl_err_t *err) {
  if (n->closing)
    return fl_err_set(err, FL_ECANCELED, "the network is closing");
  if (n->net == NULL)
    return fl_err_set(err, FL_ENOTREADY, "the network is not ready");
  return 0;
}

int fl_nsnet_attach(fl_nsnet_t *n, const char *name, fl_nsnet_cb cb, void *arg,
                    fl_nsnet_op_t **op, fl_err_t *err) {
  int rc = not_open(n, err);
  if (rc)
    return rc;
  fl_net_ep_t *ep = fl_net_endpoint(n->net, name, 1, err);
  if (ep == NULL)
    return err != NULL && err->code ? err->code : FL_ECONFIG;
  if (ep->attached)
    return 1;
  fl_nsnet_op_t *o = fl_calloc(1, sizeof(*o));
  o->kind = OP_SCRIPT;
  o->script = fl_net_script_attach(n->net, ep);
  o->attach = ep;
  submit(n, o, cb, arg, op);
  return 0;
}

/* The address of an endpoint called name, or of this process for "host". */
static int side_addr(fl_nsnet_t *n, const char *name, uint32_t *addr) {
  if (name != NULL && strcmp(name, "host") == 0)
    return fl_ip4_parse(fl_net_host_addr(n->net), addr);
  fl_net_ep_t *ep = name ? fl_net_endpoint(n->net, name, 0, NULL) : NULL;
  if (ep == NULL)
    return -1;
  *addr = ep->addr;
  return 0;
}

int fl_nsnet_cut(fl_nsnet_t *n, const char *const (*pairs)[2], size_t count,
                 fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err) {
  int rc = not_open(n, err);
  if (rc)
    return rc;
  fl_nft_cut_t *cuts = fl_calloc(count + 1, sizeof(*cuts));
  for (size_t i = 0; i < count; i++) {
    for (int j = 0; j < 2; j++) {
      uint32_t addr = 0;
      if (side_addr(n, pairs[i][j], &addr) != 0) {
        fl_free(cuts);
        return fl_err_set(err, FL_ECONFIG,
                          "%s is not on the network (declare it after fl.network)",
                          pairs[i][j] ? pairs[i][j] : "?");
      }
      if (j == 0)
        cuts[i].src = addr;
      else
        cuts[i].dst = addr;
    }
  }
  char *text = fl_nft_cut_text(fl_net_table(n->net), cuts, count);
  fl_free(cuts);
  fl_nsnet_op_t *o = fl_calloc(1, sizeof(*o));
  o->kind = OP_SCRIPT;
  o->script = fl_script_new();
  const char *argv[] = {"nft", "-f", "-", NULL};
  fl_script_add(o->script, 0, text, argv);
  fl_free(text);
  submit(n, o, cb, arg, op);
  return 0;
}

int fl_nsnet_shape(fl_nsnet_t *n, const char *name, int dirs, const fl_shape_t *sh,
                   fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err) {
  int rc = not_open(n, err);
  if (rc)
    return rc;
  fl_net_ep_t *ep = fl_net_endpoint(n->net, name, 0, NULL);
  if (ep == NULL || !ep->attached)
    return fl_err_set(err, FL_ECONFIG, "%s is not in a network namespace", name);
  if (fl_shape_needs_netem(sh) && !features.netem)
    return fl_err_set(err, FL_ENOSUPPORT,
                      "this kernel has no netem qdisc (%s): latency, jitter, loss and "
                      "duplication cannot be had in the namespace layer; use a proxy's "
                      "toxics for them",
                      features.netem_error);
  if (sh->rate_bps > 0 && !fl_shape_needs_netem(sh) && !features.tbf)
    return fl_err_set(err, FL_ENOSUPPORT,
                      "this kernel has no tbf qdisc: bandwidth limits cannot be had in "
                      "the namespace layer; use a proxy's bandwidth toxic");
  fl_nsnet_op_t *o = fl_calloc(1, sizeof(*o));
  o->kind = OP_SCRIPT;
  o->script = fl_script_new();
  if (dirs & FL_SHAPE_IN)
    fl_net_script_shape(o->script, ep, FL_SHAPE_IN, sh);
  if (dirs & FL_SHAPE_OUT)
    fl_net_script_shape(o->script, ep, FL_SHAPE_OUT, sh);
  submit(n, o, cb, arg, op);
  return 0;
}

/* ---- the isolation probe ---------------------------------------------------------- */

struct fl_nsnet_probe_s {
  uv_udp_t rx, tx;
  uv_timer_t timer;
  struct sockaddr_in to;
  fl_nsnet_probe_cb cb;
  void *arg;
  int open;
  int sent, received, ticks, nticks;
  char detail[160];
};

static void probe_closed(uv_handle_t *h) {
  fl_nsnet_probe_t *p = h->data;
  if (--p->open == 0)
    fl_free(p);
}

void fl_nsnet_probe_cancel(fl_nsnet_probe_t *p) {
  uv_handle_t *hs[] = {(uv_handle_t *)&p->rx, (uv_handle_t *)&p->tx,
                       (uv_handle_t *)&p->timer};
  for (size_t i = 0; i < FL_ARRAY_SIZE(hs); i++)
    if (hs[i]->data == p && !uv_is_closing(hs[i]))
      uv_close(hs[i], probe_closed);
}

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[2048];
  (void)h;
  (void)suggested;
  buf->base = chunk;
  buf->len = sizeof(chunk);
}

static void probe_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                       const struct sockaddr *from, unsigned flags) {
  fl_nsnet_probe_t *p = u->data;
  (void)buf;
  (void)from;
  (void)flags;
  if (nread > 0)
    p->received++;
}

static void probe_tick(uv_timer_t *t) {
  fl_nsnet_probe_t *p = t->data;
  if (p->ticks++ < p->nticks) {
    static char msg[] = "faultline isolation probe";
    uv_buf_t b = uv_buf_init(msg, sizeof(msg) - 1);
    if (uv_udp_try_send(&p->tx, &b, 1, (const struct sockaddr *)&p->to) >= 0)
      p->sent++;
    return;
  }
  fl_nsnet_probe_cb cb = p->cb;
  void *arg = p->arg;
  int received = p->received, sent = p->sent;
  char detail[sizeof(p->detail)];
  memcpy(detail, p->detail, sizeof(detail));
  fl_nsnet_probe_cancel(p);
  cb(received, sent, detail, arg);
}

/* A UDP socket of the side called name: in its namespace, or this process's
 * own for "host". Returns the fd and its address. */
static int side_socket(fl_nsnet_t *n, const char *name, uint32_t *addr, int *fd) {
  if (strcmp(name, "host") == 0) {
    fl_ip4_parse(fl_net_host_addr(n->net), addr);
    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return *fd < 0 ? UV_EINVAL : 0;
  }
  fl_net_ep_t *ep = fl_net_endpoint(n->net, name, 0, NULL);
  if (ep == NULL || !ep->attached)
    return UV_ENOENT;
  *addr = ep->addr;
  return fl_netns_socket(ep->ns_path, AF_INET, SOCK_DGRAM, fd);
}

/* Binds b's socket (any port) and a's, opens them on p's handles. */
static int probe_bind(fl_nsnet_probe_t *p, int afd, uint32_t a_addr, int bfd,
                      uint32_t b_addr) {
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(b_addr);
  struct sockaddr_in ta = sa;
  ta.sin_addr.s_addr = htonl(a_addr);
  socklen_t len = sizeof(sa);
  if (bind(bfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      bind(afd, (struct sockaddr *)&ta, sizeof(ta)) != 0 ||
      getsockname(bfd, (struct sockaddr *)&sa, &len) != 0 || uv_udp_open(&p->rx, bfd) < 0)
    return -1;
  bfd = -1;
  if (uv_udp_open(&p->tx, afd) < 0)
    return -2;
  p->to = sa;
  return 0;
}

int fl_nsnet_probe(fl_nsnet_t *n, const char *a, const char *b, double secs,
                   fl_nsnet_probe_cb cb, void *arg, fl_nsnet_probe_t **out,
                   fl_err_t *err) {
  uint32_t a_addr, b_addr;
  int afd = -1, bfd = -1;
  int rc = not_open(n, err);
  if (rc)
    return rc;
  rc = side_socket(n, a, &a_addr, &afd);
  if (rc == 0)
    rc = side_socket(n, b, &b_addr, &bfd);
  if (rc < 0) {
    if (afd >= 0)
      close(afd);
    return fl_err_set(err, rc, "cannot open a socket as %s: %s", afd < 0 ? a : b,
                      fl_strerror(rc));
  }
  fl_nsnet_probe_t *p = fl_calloc(1, sizeof(*p));
  p->cb = cb;
  p->arg = arg;
  p->nticks = 5;
  uv_udp_init(n->loop, &p->rx);
  uv_udp_init(n->loop, &p->tx);
  uv_timer_init(n->loop, &p->timer);
  p->rx.data = p->tx.data = p->timer.data = p;
  p->open = 3;
  char as[16], bs[16];
  fl_ip4_format(a_addr, as, sizeof(as));
  fl_ip4_format(b_addr, bs, sizeof(bs));
  rc = probe_bind(p, afd, a_addr, bfd, b_addr);
  if (rc < 0) {
    close(afd);
    if (rc == -1)
      close(bfd);
    fl_nsnet_probe_cancel(p);
    return fl_err_set(err, FL_ECONFIG, "cannot bind the probe's sockets (%s, %s)", as,
                      bs);
  }
  snprintf(p->detail, sizeof(p->detail), "UDP from %s (%s) to %s (%s:%d)", a, as, b, bs,
           ntohs(p->to.sin_port));
  uv_udp_recv_start(&p->rx, probe_alloc, probe_recv);
  uint64_t every = (uint64_t)(secs * 1000 / p->nticks);
  uv_timer_start(&p->timer, probe_tick, 0, every ? every : 1);
  if (out != NULL)
    *out = p;
  return 0;
}

/* ---- closing ---------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h) {
  fl_nsnet_t *n = h->data;
  void (*done)(void *) = n->done;
  void *done_arg = n->done_arg;
  fl_net_free(n->net);
  fl_free(n->want_subnet);
  fl_free(n->subnet_file);
  fl_free(n);
  if (done != NULL)
    done(done_arg);
}

static void on_teardown(const fl_script_result_t *r, void *arg) {
  fl_nsnet_t *n = arg;
  (void)r;
  if (n->marked)
    fl_netns_run_unmark(n->run_id);
  fl_netns_subnet_release(n->subnet_file);
  tell_death_cmd(n, 1);
  if (n->net != NULL)
    FL_LOG(FL_LOG_INFO, "netns",
           "removed bridge %s, table bridge %s and %zu namespace(s)",
           fl_net_bridge(n->net), fl_net_table(n->net), fl_net_count(n->net));
  uv_close((uv_handle_t *)&n->timer, timer_closed);
}

static void teardown(fl_nsnet_t *n) {
  /* By name, so it also removes what a step cut short made. */
  fl_script_t *s = fl_script_new();
  fl_netns_script_remove_run(s, n->run_id);
  fl_script_run(s, n->loop, STEP_TIMEOUT_MS, on_teardown, n);
}

/* Waits for the processes to leave (their owners are stopping them), so a
 * service shutting down still has its network. */
static void on_drain_tick(uv_timer_t *t) {
  fl_nsnet_t *n = t->data;
  const char *paths[256];
  size_t k = 0;
  for (size_t i = 0; n->net && i < fl_net_count(n->net) && k < FL_ARRAY_SIZE(paths);
       i++) {
    fl_net_ep_t *ep = fl_net_at(n->net, i);
    if (ep->attached)
      paths[k++] = ep->ns_path;
  }
  if (fl_netns_busy(paths, k) == 0 || ++n->ticks >= DRAIN_TICKS) {
    uv_timer_stop(t);
    teardown(n);
  }
}

static void close_continue(fl_nsnet_t *n) {
  /* Queued steps belong to callers that stopped waiting: drop them. */
  while (n->queue != NULL) {
    fl_nsnet_op_t *op = n->queue;
    n->queue = op->next;
    fl_script_free(op->script);
    fl_free(op);
  }
  if (n->running != NULL) {
    n->running->cb = NULL;
    return; /* op_complete calls back here */
  }
  uv_timer_start(&n->timer, on_drain_tick, 0, DRAIN_TICK_MS);
}

void fl_nsnet_close(fl_nsnet_t *n, void (*done)(void *), void *arg) {
  if (n == NULL || n->closing)
    return;
  n->closing = 1;
  n->done = done;
  n->done_arg = arg;
  close_continue(n);
}
