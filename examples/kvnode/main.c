/* kvnode's command line, start-up and shutdown.
 *
 *   kvnode --id I --listen HOST:PORT --data DIR --peer J=HOST:PORT [--peer ...]
 *          [--unsafe] [--timeout-ms N]
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when it cannot start (port in use,
 * unusable data directory) or cannot write its log, 2 on bad arguments. */
#include "examples/kvnode/kvnode.h"

#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: kvnode --id I --listen HOST:PORT --data DIR --peer J=HOST:PORT "
    "[--peer K=HOST:PORT ...] [--unsafe] [--timeout-ms N]\n"
    "Node 0 is the leader; --peer J=ADDR is the address this node uses to reach "
    "node J.\n";

static void die_usage(const char *fmt, const char *arg) {
  fputs("kvnode: ", stderr);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  fputs(usage, stderr);
  exit(2);
}

static long parse_num(const char *s, long lo, long hi, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi)
    die_usage(what, s);
  return v;
}

/* Resolves "HOST:PORT" (HOST may be a name, an address or [v6]). Returns 0 or
 * -1 with a message printed. */
static int resolve(const char *hostport, struct sockaddr_storage *out) {
  char host[256];
  const char *colon = strrchr(hostport, ':');
  struct addrinfo hints, *res;
  size_t hlen = colon ? (size_t)(colon - hostport) : 0;
  if (!colon || hlen == 0 || hlen >= sizeof(host) || !colon[1])
    return -1;
  memcpy(host, hostport, hlen);
  host[hlen] = '\0';
  if (host[0] == '[' && host[hlen - 1] == ']') {
    memmove(host, host + 1, hlen - 2);
    host[hlen - 2] = '\0';
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
    return -1;
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static kv_node_t node;
static uv_signal_t sigterm, sigint;

static void close_any(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Answers what is waiting with 503, cancels requests in flight, closes every
 * handle; the loop then ends by itself. */
static void on_signal(uv_signal_t *s, int signum) {
  if (node.stopping)
    return;
  kv_node_stop(&node);
  kv_http_client_shutdown();
  kv_http_server_close(&node.server);
  uv_close((uv_handle_t *)&node.tick, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  uv_close((uv_handle_t *)&sigint, NULL);
}

/* What the command line gives beside the node's own fields. */
typedef struct {
  const char *listen, *data;
  int have_id;
} opts_t;

/* Adds the peer of one "--peer J=HOST:PORT" value to n; exits 2 when bad. */
static void add_peer(kv_node_t *n, const char *val) {
  const char *peq = strchr(val, '=');
  char idbuf[8];
  if (!peq || peq == val || (size_t)(peq - val) >= sizeof(idbuf))
    die_usage("bad --peer %s (want J=HOST:PORT)", val);
  if (n->npeers == KV_MAX_PEERS)
    die_usage("too many peers at %s", val);
  memcpy(idbuf, val, (size_t)(peq - val));
  idbuf[peq - val] = '\0';
  kv_peer_t *p = &n->peers[n->npeers++];
  p->node = n;
  p->id = (int)parse_num(idbuf, 0, KV_MAX_PEERS, "bad peer id %s (0..15)");
  if (strlen(peq + 1) >= sizeof(p->addr) || resolve(peq + 1, &p->pool.addr) != 0)
    die_usage("bad peer address %s (want HOST:PORT)", peq + 1);
  snprintf(p->addr, sizeof(p->addr), "%s", peq + 1);
  p->pool.loop = n->loop;
}

/* Reads the options into n and o; exits 2 on a bad one. Returns 1 when
 * --help printed the usage (the caller exits 0), else 0. */
static int parse_args(kv_node_t *n, opts_t *o, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *val = NULL, *eq = strchr(arg, '=');
    char opt[32];
    size_t olen = eq && strncmp(arg, "--", 2) == 0 ? (size_t)(eq - arg) : strlen(arg);
    if (olen >= sizeof(opt))
      die_usage("unknown option %s", arg);
    memcpy(opt, arg, olen);
    opt[olen] = '\0';
    if (strcmp(opt, "--unsafe") == 0 && olen == strlen(arg)) {
      n->unsafe = 1;
      continue;
    }
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      fputs(usage, stdout);
      return 1;
    }
    if (strcmp(opt, "--id") && strcmp(opt, "--listen") && strcmp(opt, "--data") &&
        strcmp(opt, "--peer") && strcmp(opt, "--timeout-ms"))
      die_usage("unknown option %s", arg);
    if (olen < strlen(arg))
      val = arg + olen + 1;
    else if (i + 1 < argc)
      val = argv[++i];
    else
      die_usage("%s needs a value", opt);
    if (strcmp(opt, "--id") == 0) {
      n->id = (int)parse_num(val, 0, KV_MAX_PEERS, "bad --id %s (0..15)");
      o->have_id = 1;
    } else if (strcmp(opt, "--listen") == 0) {
      o->listen = val;
    } else if (strcmp(opt, "--data") == 0) {
      o->data = val;
    } else if (strcmp(opt, "--timeout-ms") == 0) {
      n->timeout_ms = (uint64_t)parse_num(val, 1, 3600000, "bad --timeout-ms %s");
    } else {
      add_peer(n, val);
    }
  }
  return 0;
}

/* Checks the peers (not this node, no node twice, the leader known to a
 * follower), then sets the leader and the cluster's size; exits 2 when bad. */
static void check_peers(kv_node_t *n) {
  int have_leader = 0;
  for (int i = 0; i < n->npeers; i++) {
    char id[16];
    snprintf(id, sizeof(id), "%d", n->peers[i].id);
    if (n->peers[i].id == n->id)
      die_usage("--peer %s= names this node itself", id);
    for (int j = 0; j < i; j++)
      if (n->peers[j].id == n->peers[i].id)
        die_usage("two --peer flags for node %s", id);
    if (n->peers[i].id == 0) {
      have_leader = 1;
      n->leader = &n->peers[i];
    }
  }
  if (n->id != 0 && !have_leader)
    die_usage("%s", "a follower needs --peer 0=HOST:PORT (node 0 is the leader)");
  n->size = n->npeers + 1;
  n->majority = n->size / 2 + 1;
}

/* Opens the store, listens on laddr, starts the node and the signal
 * handlers. Returns 0, or 1 with a message printed. */
static int start(kv_node_t *n, const opts_t *o, const struct sockaddr_storage *laddr) {
  char err[512];
  signal(SIGPIPE, SIG_IGN);
  if (kv_store_open(&n->store, o->data, err, sizeof(err)) != 0) {
    fprintf(stderr, "kvnode: %s\n", err);
    return 1;
  }
  int rc = kv_http_listen(&n->server, n->loop, (const struct sockaddr *)laddr,
                          kv_node_handle, kv_node_body_limit, n);
  if (rc != 0) {
    fprintf(stderr, "kvnode: cannot listen on %s: %s\n", o->listen, uv_strerror(rc));
    return 1;
  }
  kv_node_start(n);
  uv_signal_init(n->loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_init(n->loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  return 0;
}

/* Prints the "listening on" line (with the port bound) and logs the start. */
static void announce(kv_node_t *n, const opts_t *o) {
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  int port = 0;
  uv_tcp_getsockname(&n->server.tcp, (struct sockaddr *)&bound, &blen);
  if (bound.ss_family == AF_INET)
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  else if (bound.ss_family == AF_INET6)
    port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  printf("kvnode %d listening on %.*s:%d\n", n->id,
         (int)(strrchr(o->listen, ':') - o->listen), o->listen, port);
  fflush(stdout);
  kv_log("node %d of %d (%s%s), data in %s, log holds %llu entries", n->id, n->size,
         n->id == 0 ? "leader" : "follower", n->unsafe ? ", unsafe reads" : "", o->data,
         (unsigned long long)n->store.last);
}

int main(int argc, char **argv) {
  opts_t o = {0};
  struct sockaddr_storage laddr;
  kv_node_t *n = &node;

  n->loop = uv_default_loop();
  n->timeout_ms = 1000;
  if (parse_args(n, &o, argc, argv))
    return 0;
  if (!o.have_id || !o.listen || !o.data)
    die_usage("%s", "--id, --listen and --data are required");
  if (resolve(o.listen, &laddr) != 0)
    die_usage("bad --listen %s (want HOST:PORT)", o.listen);
  check_peers(n);
  if (start(n, &o, &laddr) != 0)
    return 1;
  announce(n, &o);

  uv_run(n->loop, UV_RUN_DEFAULT);
  /* Anything still open (there should be nothing) is closed here. */
  uv_walk(n->loop, close_any, NULL);
  uv_run(n->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(n->loop);
  kv_store_close(&n->store);
  if (rc != 0)
    kv_log("loop did not close cleanly: %s", uv_strerror(rc));
  return 0;
}
