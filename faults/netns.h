/* The namespace layer: each service in a network namespace of its own, with
 * its own address on a bridge faultline makes, so partitions and bandwidth
 * limits apply to the real packets and services need no proxy in between.
 *
 * Linux only, as root. The kernel is driven through iproute2 (`ip`, `tc`)
 * and `nft`, run as child processes (faults/subproc.h): their netlink
 * protocols are large and version-dependent, libnftables is not in every
 * distribution, and a command line is something a reader can paste into a
 * shell to see what faultline did. Those commands never run on the loop's
 * critical path: a fault is one script, and its callback resumes the task.
 *
 * What one run makes, every name carrying the run's id (8 hex digits), so two
 * runs never collide and leftovers can be found by name:
 *
 *   bridge           fl<id>            the host side gets the subnet's first address
 *   namespace        fl<id>-<n>        one per service, /run/netns/fl<id>-<n>
 *   veth pair        fl<id>v<n>        on the bridge; eth0 inside the namespace
 *   nftables table   bridge fl<id>     partitions as drop rules (faults/nft.h)
 *   state            /run/faultline/run-<id>  (pid and start time: is the run alive?)
 *                    /run/faultline/net-<a.b.c.d>-<len>  (the subnet it holds)
 *
 * This file holds the plan: names, addresses, and the command scripts that
 * make, change and remove them. It runs nothing itself. */
#ifndef FL_NETNS_H
#define FL_NETNS_H

#include <stddef.h>
#include <stdint.h>

#include "faults/subproc.h"
#include "base/error.h"

/* ---- subnets -------------------------------------------------------------- */

typedef struct fl_subnet_s {
  uint32_t net; /* host byte order, host bits zero */
  int len;      /* prefix length, 8..30 */
} fl_subnet_t;

/* Parses "10.77.0.0/24". FL_ECONFIG (message says why) for a malformed one,
 * host bits set, or a prefix outside 8..30. */
int fl_subnet_parse(const char *s, fl_subnet_t *out, fl_err_t *err);
/* "10.77.0.0/24" into buf. */
void fl_subnet_format(const fl_subnet_t *s, char *buf, size_t size);
int fl_subnet_overlaps(const fl_subnet_t *a, const fl_subnet_t *b);
/* Usable addresses (the network and broadcast addresses excluded). */
uint32_t fl_subnet_hosts(const fl_subnet_t *s);
/* The i-th usable address, i from 1 (the host side takes 1). */
uint32_t fl_subnet_addr(const fl_subnet_t *s, uint32_t i);
/* Dotted quad into buf (at least 16 bytes). */
void fl_ip4_format(uint32_t addr, char *buf, size_t size);
int fl_ip4_parse(const char *s, uint32_t *out);

/* Looks through `ip -j -4 route show table all` output (json) for a route
 * whose destination overlaps want (the default route aside). Returns 1 and a
 * description in why ("10.77.0.0/24 dev fl1a2b3c4d"), 0 when none does, or
 * FL_EPARSE when json is not such a list. */
int fl_netns_route_conflict(const char *json, const fl_subnet_t *want, char *why,
                            size_t why_size);

/* ---- a run's network ------------------------------------------------------ */

typedef struct fl_net_s fl_net_t;

/* A service's place on the network. Borrowed from its fl_net_t. */
typedef struct fl_net_ep_s {
  char *name;    /* the service's name */
  int index;     /* n in the names below, from 1 */
  uint32_t addr; /* its address */
  char addr_s[16];
  char ns[32];      /* fl<id>-<n> */
  char ns_path[64]; /* /run/netns/fl<id>-<n> */
  char veth[16];    /* fl<id>v<n>, the host side */
  int attached;     /* its namespace and link exist */
} fl_net_ep_t;

/* Returns new in *out: the plan for run_id (8 lowercase hex digits) on
 * subnet. FL_ECONFIG when the id is not such. */
int fl_net_new(fl_net_t **out, const char *run_id, const fl_subnet_t *subnet,
               fl_err_t *err);
void fl_net_free(fl_net_t *net);

/* Borrowed. */
const char *fl_net_run_id(const fl_net_t *net);
const char *fl_net_bridge(const fl_net_t *net);
const char *fl_net_table(const fl_net_t *net); /* "fl<id>", in family bridge */
const char *fl_net_host_addr(const fl_net_t *net);
const char *fl_net_subnet_str(const fl_net_t *net);
const fl_subnet_t *fl_net_subnet(const fl_net_t *net);

/* The endpoint of name: the one it already has, or (create) a new one with
 * the next free address. Returns borrowed, or NULL with FL_ECONFIG in err
 * when the subnet is full or the name is "host" (the host side's name). */
fl_net_ep_t *fl_net_endpoint(fl_net_t *net, const char *name, int create, fl_err_t *err);
/* The endpoint whose address is addr, or NULL. */
fl_net_ep_t *fl_net_endpoint_by_addr(fl_net_t *net, uint32_t addr);
size_t fl_net_count(const fl_net_t *net);
fl_net_ep_t *fl_net_at(fl_net_t *net, size_t i);

/* Scripts (new; run them with fl_script_run). */
/* The bridge with the host's address, and the nftables table. */
fl_script_t *fl_net_script_create(const fl_net_t *net);
/* ep's namespace, veth pair, address and loopback (no default route: the
 * subnet is all a service reaches). */
fl_script_t *fl_net_script_attach(const fl_net_t *net, const fl_net_ep_t *ep);
/* Returns new: one /bin/sh line that removes everything of run_id by name,
 * for the reaper to run if faultline dies without tearing down. */
char *fl_netns_death_cmd(const char *run_id, const char *subnet_file);

/* Traffic shaping of one direction of an endpoint. */
typedef struct fl_shape_s {
  uint64_t rate_bps; /* bytes per second; 0 = unlimited */
  double delay_ms, jitter_ms;
  double loss_pct, duplicate_pct;
} fl_shape_t;

enum { FL_SHAPE_IN = 1, FL_SHAPE_OUT = 2 }; /* to the service, from it */

/* Does the shape need netem (delay, jitter, loss, duplication)? */
int fl_shape_needs_netem(const fl_shape_t *sh);
/* The qdisc for one direction: tbf for a rate alone, netem (with its own
 * rate) when anything else is asked, removed when nothing is. dir is
 * FL_SHAPE_IN (the host side's egress) or FL_SHAPE_OUT (eth0's, inside). */
void fl_net_script_shape(fl_script_t *s, const fl_net_ep_t *ep, int dir,
                         const fl_shape_t *sh);

/* Parses a rate: a number is KB/s (1 KB = 1000 bytes, as the proxy's
 * bandwidth toxic), a string may carry a unit: "100kbit", "10mbit", "1gbit",
 * "500KB" (bytes), "2MB", "800bit". Returns bytes per second, or 0 with
 * FL_ECONFIG in err. */
uint64_t fl_rate_parse(const char *s, fl_err_t *err);

/* ---- the kernel ----------------------------------------------------------- */

/* Does this process hold CAP_NET_ADMIN and CAP_SYS_ADMIN? 1 yes; 0 with the
 * missing ones named in why ("CAP_NET_ADMIN and CAP_SYS_ADMIN"). */
int fl_netns_privileged(char *why, size_t why_size);

/* What the kernel offers, found by trying it in a scratch namespace. */
typedef struct fl_netns_features_s {
  int tbf;   /* sch_tbf: bandwidth limits */
  int netem; /* sch_netem: latency, jitter, loss, duplication */
  char netem_error[160];
} fl_netns_features_t;

/* Returns new: a /bin/sh script that tries, in a scratch namespace
 * fl<id>-probe with a veth pair, a tbf then a netem qdisc, prints what took
 * and removes the namespace. Parse its stdout with fl_netns_features_parse. */
char *fl_netns_features_cmd(const char *run_id);
void fl_netns_features_parse(const char *out, fl_netns_features_t *f);

/* A socket (socket(2) flags) made inside the namespace at ns_path, for the
 * caller's libuv handle (uv_udp_open, uv_tcp_open): setns on this thread,
 * socket, setns back. Returns 0 and the descriptor in *out_fd, or -errno. */
int fl_netns_socket(const char *ns_path, int domain, int type, int *out_fd);

/* ---- runs, alive and dead (faults/netns_stale.c) ------------------------------ */

/* Where state lives; tests point these at scratch directories. Borrowed. */
typedef struct fl_netns_paths_s {
  const char *state_dir; /* /run/faultline */
  const char *netns_dir; /* /run/netns */
  const char *sys_net;   /* /sys/class/net */
} fl_netns_paths_t;
const fl_netns_paths_t *fl_netns_paths(void);
void fl_netns_set_paths(const fl_netns_paths_t *p);

/* Records that run_id is alive (this process, its start time). */
int fl_netns_run_mark(const char *run_id, fl_err_t *err);
void fl_netns_run_unmark(const char *run_id);
/* 1 when run_id's mark names a live process (same pid, same start time). */
int fl_netns_run_alive(const char *run_id);
/* Takes subnet for run_id (a file created exclusively); a subnet held by a run
 * that is gone is taken over. Returns 0, or UV_EEXIST when a live run holds
 * it. *out_path (new) is the file, for the death command and release. */
int fl_netns_subnet_take(const fl_subnet_t *subnet, const char *run_id, char **out_path);
void fl_netns_subnet_release(const char *path);

/* Is name one of ours ("fl" + 8 hex digits, then the end, "-" or "v")? Writes
 * the id (9 bytes) into id. */
int fl_netns_name_run(const char *name, char id[9]);

/* Ids of runs that left namespaces, links, state files or (when tables is
 * not NULL: `nft list tables` output) nftables tables, and are no longer
 * alive. Returns new: a NULL-ended array (free with fl_netns_ids_free). */
char **fl_netns_stale_runs(const char *tables);
void fl_netns_ids_free(char **ids);
/* How many of the namespaces at paths still hold a process (a scan of /proc). */
size_t fl_netns_busy(const char *const *paths, size_t n);
/* Appends to s the steps that remove everything of run_id (each may fail),
 * and removes its state files when done (the last step). */
void fl_netns_script_remove_run(fl_script_t *s, const char *run_id);
#endif
