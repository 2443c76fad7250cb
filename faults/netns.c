#define _GNU_SOURCE
#include "faults/netns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults/nft.h"
#include "base/alloc.h"

/* ---- subnets -------------------------------------------------------------- */

static uint32_t mask_of(int len) {
  return len <= 0 ? 0 : (uint32_t)(0xffffffffull << (32 - len));
}

int fl_ip4_parse(const char *s, uint32_t *out) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1)
    return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

void fl_ip4_format(uint32_t addr, char *buf, size_t size) {
  snprintf(buf, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
           addr & 255);
}

int fl_subnet_parse(const char *s, fl_subnet_t *out, fl_err_t *err) {
  char host[32];
  const char *slash = strchr(s, '/');
  if (slash == NULL || (size_t)(slash - s) >= sizeof(host))
    return fl_err_set(err, FL_ECONFIG,
                      "subnet \"%s\": want an IPv4 prefix like 10.77.0.0/24", s);
  memcpy(host, s, (size_t)(slash - s));
  host[slash - s] = '\0';
  char *end;
  long len = strtol(slash + 1, &end, 10);
  uint32_t a;
  if (*end != '\0' || end == slash + 1 || fl_ip4_parse(host, &a) < 0)
    return fl_err_set(err, FL_ECONFIG,
                      "subnet \"%s\": want an IPv4 prefix like 10.77.0.0/24", s);
  if (len < 8 || len > 30)
    return fl_err_set(err, FL_ECONFIG,
                      "subnet \"%s\": the prefix length must be between 8 and 30", s);
  if ((a & ~mask_of((int)len)) != 0) {
    char net[16];
    fl_ip4_format(a & mask_of((int)len), net, sizeof(net));
    return fl_err_set(err, FL_ECONFIG,
                      "subnet \"%s\": host bits are set (did you mean %s/%ld?)", s, net,
                      len);
  }
  out->net = a;
  out->len = (int)len;
  return 0;
}

void fl_subnet_format(const fl_subnet_t *s, char *buf, size_t size) {
  char a[16];
  fl_ip4_format(s->net, a, sizeof(a));
  snprintf(buf, size, "%s/%d", a, s->len);
}

int fl_subnet_overlaps(const fl_subnet_t *a, const fl_subnet_t *b) {
  int len = a->len < b->len ? a->len : b->len;
  return (a->net & mask_of(len)) == (b->net & mask_of(len));
}

uint32_t fl_subnet_hosts(const fl_subnet_t *s) {
  return (uint32_t)((1ull << (32 - s->len)) - 2);
}

uint32_t fl_subnet_addr(const fl_subnet_t *s, uint32_t i) {
  return s->net + i;
}

int fl_netns_route_conflict(const char *json, const fl_subnet_t *want, char *why,
                            size_t why_size) {
  json_error_t e;
  json_t *routes = json_loads(json, 0, &e);
  if (!json_is_array(routes)) {
    json_decref(routes);
    return FL_EPARSE;
  }
  int found = 0;
  size_t i;
  json_t *r;
  json_array_foreach(routes, i, r) {
    const char *dst = json_string_value(json_object_get(r, "dst"));
    if (dst == NULL || strcmp(dst, "default") == 0)
      continue;
    fl_subnet_t have;
    char buf[64];
    if (strchr(dst, '/') != NULL) {
      snprintf(buf, sizeof(buf), "%s", dst);
      char *slash = strchr(buf, '/');
      *slash = '\0';
      uint32_t a;
      if (fl_ip4_parse(buf, &a) < 0)
        continue;
      have.len = atoi(slash + 1);
      if (have.len < 0 || have.len > 32)
        continue;
      have.net = a & mask_of(have.len);
    } else {
      if (fl_ip4_parse(dst, &have.net) < 0)
        continue;
      have.len = 32;
    }
    if (!fl_subnet_overlaps(&have, want))
      continue;
    const char *dev = json_string_value(json_object_get(r, "dev"));
    const char *table = json_string_value(json_object_get(r, "table"));
    snprintf(why, why_size, "%s%s%s%s%s", dst, dev ? " dev " : "", dev ? dev : "",
             table ? " table " : "", table ? table : "");
    found = 1;
    break;
  }
  json_decref(routes);
  return found;
}

/* ---- a run's network ------------------------------------------------------ */

struct fl_net_s {
  char id[9];
  char bridge[16];
  char subnet_s[24];
  char host_s[16];
  fl_subnet_t subnet;
  fl_net_ep_t **eps;
  size_t n, cap;
};

static int valid_id(const char *id) {
  if (strlen(id) != 8)
    return 0;
  for (int i = 0; i < 8; i++)
    if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
      return 0;
  return 1;
}

int fl_net_new(fl_net_t **out, const char *run_id, const fl_subnet_t *subnet,
               fl_err_t *err) {
  if (run_id == NULL || !valid_id(run_id))
    return fl_err_set(err, FL_ECONFIG, "run id \"%s\" is not 8 lowercase hex digits",
                      run_id ? run_id : "");
  fl_net_t *n = fl_calloc(1, sizeof(*n));
  memcpy(n->id, run_id, 9);
  snprintf(n->bridge, sizeof(n->bridge), "fl%s", run_id);
  n->subnet = *subnet;
  fl_subnet_format(subnet, n->subnet_s, sizeof(n->subnet_s));
  fl_ip4_format(fl_subnet_addr(subnet, 1), n->host_s, sizeof(n->host_s));
  *out = n;
  return 0;
}

void fl_net_free(fl_net_t *net) {
  if (net == NULL)
    return;
  for (size_t i = 0; i < net->n; i++) {
    fl_free(net->eps[i]->name);
    fl_free(net->eps[i]);
  }
  fl_free(net->eps);
  fl_free(net);
}

const char *fl_net_run_id(const fl_net_t *net) {
  return net->id;
}

const char *fl_net_bridge(const fl_net_t *net) {
  return net->bridge;
}

const char *fl_net_table(const fl_net_t *net) {
  return net->bridge;
}

const char *fl_net_host_addr(const fl_net_t *net) {
  return net->host_s;
}

const char *fl_net_subnet_str(const fl_net_t *net) {
  return net->subnet_s;
}

const fl_subnet_t *fl_net_subnet(const fl_net_t *net) {
  return &net->subnet;
}

size_t fl_net_count(const fl_net_t *net) {
  return net->n;
}

fl_net_ep_t *fl_net_at(fl_net_t *net, size_t i) {
  return i < net->n ? net->eps[i] : NULL;
}

fl_net_ep_t *fl_net_endpoint(fl_net_t *net, const char *name, int create, fl_err_t *err) {
  for (size_t i = 0; i < net->n; i++)
    if (strcmp(net->eps[i]->name, name) == 0)
      return net->eps[i];
  if (!create)
    return NULL;
  if (strcmp(name, "host") == 0) {
    fl_err_set(err, FL_ECONFIG,
               "\"host\" names faultline's own side of the network; give the service "
               "another name");
    return NULL;
  }
  /* Address 1 is the host's; the service at index n gets address n + 1. The
   * index also names its links, and veth names hold 15 characters at most:
   * "fl" + 8 + "v" leaves 4 digits. */
  uint32_t index = (uint32_t)net->n + 1;
  if (index + 1 > fl_subnet_hosts(&net->subnet) || index > 9999) {
    fl_err_set(err, FL_ECONFIG, "subnet %s has no address left for service %s",
               net->subnet_s, name);
    return NULL;
  }
  fl_net_ep_t *ep = fl_calloc(1, sizeof(*ep));
  ep->name = fl_strdup(name);
  ep->index = (int)index;
  ep->addr = fl_subnet_addr(&net->subnet, index + 1);
  fl_ip4_format(ep->addr, ep->addr_s, sizeof(ep->addr_s));
  snprintf(ep->ns, sizeof(ep->ns), "fl%s-%u", net->id, index);
  snprintf(ep->ns_path, sizeof(ep->ns_path), "/run/netns/%s", ep->ns);
  snprintf(ep->veth, sizeof(ep->veth), "fl%sv%u", net->id, index);
  if (net->n == net->cap) {
    net->cap = net->cap ? net->cap * 2 : 8;
    net->eps = fl_realloc(net->eps, net->cap * sizeof(*net->eps));
  }
  net->eps[net->n++] = ep;
  return ep;
}

fl_net_ep_t *fl_net_endpoint_by_addr(fl_net_t *net, uint32_t addr) {
  for (size_t i = 0; i < net->n; i++)
    if (net->eps[i]->addr == addr)
      return net->eps[i];
  return NULL;
}

/* An alias on every link we make marks it as faultline's for cleanup. */
#define LINK_ALIAS "faultline"

fl_script_t *fl_net_script_create(const fl_net_t *net) {
  fl_script_t *s = fl_script_new();
  char cidr[32];
  snprintf(cidr, sizeof(cidr), "%s/%d", net->host_s, net->subnet.len);
  /* "name" spelled out: ip reads a bare first word that abbreviates one of
   * its keywords ("a" for address) as that keyword. */
  fl_script_addl(s, 0, "ip", "link", "add", "name", net->bridge, "type", "bridge", NULL);
  fl_script_addl(s, 0, "ip", "link", "set", "dev", net->bridge, "alias", LINK_ALIAS,
                 NULL);
  fl_script_addl(s, 0, "ip", "addr", "add", cidr, "dev", net->bridge, NULL);
  fl_script_addl(s, 0, "ip", "link", "set", "dev", net->bridge, "up", NULL);
  char *table = fl_nft_table_text(net->bridge);
  const char *argv[] = {"nft", "-f", "-", NULL};
  fl_script_add(s, 0, table, argv);
  fl_free(table);
  return s;
}

fl_script_t *fl_net_script_attach(const fl_net_t *net, const fl_net_ep_t *ep) {
  fl_script_t *s = fl_script_new();
  char cidr[32];
  snprintf(cidr, sizeof(cidr), "%s/%d", ep->addr_s, net->subnet.len);
  fl_script_addl(s, 0, "ip", "netns", "add", ep->ns, NULL);
  /* The inner end is made inside the namespace under its final name, so no
   * two runs ever race for an "eth0" on the host. */
  fl_script_addl(s, 0, "ip", "link", "add", "name", ep->veth, "type", "veth", "peer",
                 "name", "eth0", "netns", ep->ns, NULL);
  fl_script_addl(s, 0, "ip", "link", "set", "dev", ep->veth, "alias", LINK_ALIAS,
                 "master", net->bridge, "up", NULL);
  fl_script_addl(s, 0, "ip", "-n", ep->ns, "link", "set", "dev", "lo", "up", NULL);
  fl_script_addl(s, 0, "ip", "-n", ep->ns, "addr", "add", cidr, "dev", "eth0", NULL);
  fl_script_addl(s, 0, "ip", "-n", ep->ns, "link", "set", "dev", "eth0", "up", NULL);
  /* No default route: the subnet (its services and faultline at the host
   * address) is all a service can reach. A name server elsewhere is then
   * unreachable at once, rather than after the resolver's timeouts (a
   * reverse lookup at start, as Python's http.server does, would take 10 s). */
  return s;
}

char *fl_netns_death_cmd(const char *run_id, const char *subnet_file) {
  /* Runs with /bin/sh in the reaper after faultline died; by name, so it
   * also gets what a half-done step made. */
  return fl_asprintf("exec >/dev/null 2>&1; id=%s; nft delete table bridge fl$id; for l "
                     "in /sys/class/net/fl${id}v*; do [ -e \"$l\" ] && ip link del "
                     "\"${l##*/}\"; done; ip link del fl$id; for n in "
                     "/run/netns/fl$id-*; do [ -e \"$n\" ] "
                     "&& ip netns del \"${n##*/}\"; done; rm -f %s/run-$id; f='%s'; "
                     "[ -n \"$f\" ] && flock -n \"$f\" rm -f \"$f\"",
                     run_id, fl_netns_paths()->state_dir, subnet_file ? subnet_file : "");
}

/* ---- shaping -------------------------------------------------------------- */

int fl_shape_needs_netem(const fl_shape_t *sh) {
  return sh->delay_ms > 0 || sh->jitter_ms > 0 || sh->loss_pct > 0 ||
         sh->duplicate_pct > 0;
}

void fl_net_script_shape(fl_script_t *s, const fl_net_ep_t *ep, int dir,
                         const fl_shape_t *sh) {
  const char *dev = dir == FL_SHAPE_IN ? ep->veth : "eth0";
  const char *pre[6];
  size_t np = 0;
  pre[np++] = "tc";
  if (dir == FL_SHAPE_OUT) {
    pre[np++] = "-n";
    pre[np++] = ep->ns;
  }
  const char *argv[40];
  size_t n = 0;
  for (size_t i = 0; i < np; i++)
    argv[n++] = pre[i];
  char rate[32], burst[32], delay[32], jitter[32], loss[32], dup[32];
  if (sh->rate_bps == 0 && !fl_shape_needs_netem(sh)) {
    argv[n++] = "qdisc";
    argv[n++] = "del";
    argv[n++] = "dev";
    argv[n++] = dev;
    argv[n++] = "root";
    argv[n] = NULL;
    /* Nothing to remove is not an error. */
    fl_script_add(s, FL_STEP_IGNORE_FAIL, NULL, argv);
    return;
  }
  argv[n++] = "qdisc";
  argv[n++] = "replace";
  argv[n++] = "dev";
  argv[n++] = dev;
  argv[n++] = "root";
  snprintf(rate, sizeof(rate), "%llubit", (unsigned long long)sh->rate_bps * 8);
  if (!fl_shape_needs_netem(sh)) {
    /* A burst of 20 ms worth (at least ten full frames) keeps the rate
     * accurate over a second without starving a single large segment. */
    uint64_t b = sh->rate_bps / 50;
    if (b < 15140)
      b = 15140;
    snprintf(burst, sizeof(burst), "%llu", (unsigned long long)b);
    argv[n++] = "tbf";
    argv[n++] = "rate";
    argv[n++] = rate;
    argv[n++] = "burst";
    argv[n++] = burst;
    argv[n++] = "latency";
    argv[n++] = "100ms";
  } else {
    argv[n++] = "netem";
    if (sh->delay_ms > 0 || sh->jitter_ms > 0) {
      snprintf(delay, sizeof(delay), "%.3fms", sh->delay_ms);
      argv[n++] = "delay";
      argv[n++] = delay;
      if (sh->jitter_ms > 0) {
        snprintf(jitter, sizeof(jitter), "%.3fms", sh->jitter_ms);
        argv[n++] = jitter;
      }
    }
    if (sh->loss_pct > 0) {
      snprintf(loss, sizeof(loss), "%.4f%%", sh->loss_pct);
      argv[n++] = "loss";
      argv[n++] = loss;
    }
    if (sh->duplicate_pct > 0) {
      snprintf(dup, sizeof(dup), "%.4f%%", sh->duplicate_pct);
      argv[n++] = "duplicate";
      argv[n++] = dup;
    }
    if (sh->rate_bps > 0) {
      argv[n++] = "rate";
      argv[n++] = rate;
    }
  }
  argv[n] = NULL;
  fl_script_add(s, 0, NULL, argv);
}

uint64_t fl_rate_parse(const char *s, fl_err_t *err) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno != 0 || !(v > 0) || !isfinite(v)) {
    fl_err_set(
        err, FL_ECONFIG,
        "rate \"%s\": want a positive number (KB/s) or one with a unit (\"10mbit\", "
        "\"500KB\")",
        s);
    return 0;
  }
  while (*end == ' ')
    end++;
  static const struct {
    const char *unit;
    double bytes; /* per unit */
  } units[] = {
      {"", 1000},        {"bit", 1.0 / 8}, {"kbit", 1000.0 / 8}, {"mbit", 1e6 / 8},
      {"gbit", 1e9 / 8}, {"b", 1},         {"kb", 1000},         {"mb", 1e6},
      {"gb", 1e9},       {"bps", 1},       {"kbps", 1000},       {"mbps", 1e6},
  };
  char u[8];
  size_t ul = strlen(end);
  if (ul >= sizeof(u))
    ul = sizeof(u) - 1;
  for (size_t i = 0; i < ul; i++)
    u[i] = (char)tolower((unsigned char)end[i]);
  u[ul] = '\0';
  for (size_t i = 0; i < FL_ARRAY_SIZE(units); i++) {
    if (strcmp(u, units[i].unit) != 0 || strlen(end) >= sizeof(u))
      continue;
    double bps = v * units[i].bytes;
    if (bps < 1) {
      fl_err_set(err, FL_ECONFIG, "rate \"%s\" is below one byte per second", s);
      return 0;
    }
    return (uint64_t)(bps + 0.5);
  }
  fl_err_set(
      err, FL_ECONFIG,
      "rate \"%s\": unknown unit \"%s\" (known: bit, kbit, mbit, gbit, B, KB, MB, GB; "
      "a plain number is KB/s)",
      s, end);
  return 0;
}

/* ---- the kernel ----------------------------------------------------------- */

int fl_netns_privileged(char *why, size_t why_size) {
  FILE *f = fopen("/proc/self/status", "r");
  unsigned long long eff = 0;
  int found = 0;
  if (f != NULL) {
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL)
      if (sscanf(line, "CapEff: %llx", &eff) == 1) {
        found = 1;
        break;
      }
    fclose(f);
  }
  if (!found) {
    snprintf(why, why_size,
             "cannot read this process's capabilities (/proc/self/status)");
    return 0;
  }
  const int net_admin = 12, sys_admin = 21;
  int has_net = (eff >> net_admin) & 1, has_sys = (eff >> sys_admin) & 1;
  if (has_net && has_sys)
    return 1;
  snprintf(why, why_size, "%s%s%s", has_net ? "" : "CAP_NET_ADMIN",
           !has_net && !has_sys ? " and " : "", has_sys ? "" : "CAP_SYS_ADMIN");
  return 0;
}

char *fl_netns_features_cmd(const char *run_id) {
  return fl_asprintf(
      "ns=fl%s-probe; ip netns add $ns || exit 3; "
      "if ! ip -n $ns link add name a type veth peer name b; then ip netns del $ns; exit "
      "4; fi; "
      "if e=$(tc -n $ns qdisc add dev a root tbf rate 1mbit burst 32kbit latency 50ms "
      "2>&1); "
      "then echo tbf; tc -n $ns qdisc del dev a root; else echo \"tbf-error $e\"; fi; "
      "if e=$(tc -n $ns qdisc add dev a root netem delay 1ms 2>&1); then echo netem; "
      "else echo \"netem-error $e\"; fi; "
      "ip netns del $ns",
      run_id);
}

void fl_netns_features_parse(const char *out, fl_netns_features_t *f) {
  memset(f, 0, sizeof(*f));
  for (const char *line = out; line != NULL && *line;) {
    const char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n == 3 && strncmp(line, "tbf", 3) == 0)
      f->tbf = 1;
    else if (n == 5 && strncmp(line, "netem", 5) == 0)
      f->netem = 1;
    else if (n > 12 && strncmp(line, "netem-error ", 12) == 0)
      snprintf(f->netem_error, sizeof(f->netem_error), "%.*s", (int)(n - 12), line + 12);
    line = nl ? nl + 1 : NULL;
  }
  if (!f->netem && f->netem_error[0] == '\0')
    snprintf(f->netem_error, sizeof(f->netem_error), "the probe could not run");
}

int fl_netns_socket(const char *ns_path, int domain, int type, int *out_fd) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return -errno;
  int target = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = -errno;
    close(self);
    return e;
  }
  int rc = 0;
  if (setns(target, CLONE_NEWNET) != 0) {
    rc = -errno;
  } else {
    int fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
      rc = -errno;
    else
      *out_fd = fd;
    /* Only this thread moved, and it must come back before anything else
     * runs on it: the loop's next socket would land in the service's
     * namespace. Failing that there is no safe way on. */
    if (setns(self, CLONE_NEWNET) != 0) {
      perror("faultline: cannot return to its own network namespace");
      abort();
    }
  }
  close(target);
  close(self);
  return rc;
}
