/* A run's namespace network on the loop: the open sequence, the queue of
 * kernel changes and the teardown, for any C caller (the Lua binding
 * harness/lua_network.c is one; tests/unit/test_netns_net.c another).
 *
 * Everything that changes the kernel is a script of `ip`/`nft`/`tc` commands
 * (subproc.h) run off the loop. Steps of one network run one at a time, in
 * the order they were asked for, so a partition never races the attach of a
 * service. Each asynchronous call takes a callback that runs exactly once,
 * from the loop, never before the call returns, unless the step is canceled
 * (fl_nsnet_cancel) or the call fails (then it never runs).
 *
 * Opening: mark the run alive; remove what dead runs left; read the host's
 * routes and take a subnet that overlaps none (and that no live run holds);
 * find out what the kernel offers (tbf, netem; once per process); make the
 * bridge and the nftables table. Closing: wait (up to 10 s) for processes to
 * leave the namespaces, then remove everything by name, then the state
 * files. What a killed process leaves is removed by the death command (the
 * caller registers it with whatever runs after a crash) or by the next run. */
#ifndef FL_NETNS_NET_H
#define FL_NETNS_NET_H

#include <stddef.h>
#include <uv.h>

#include "base/error.h"
#include "base/timeline.h"
#include "faults/netns.h"

typedef struct fl_nsnet_s fl_nsnet_t;
typedef struct fl_nsnet_op_s fl_nsnet_op_t;
typedef struct fl_nsnet_probe_s fl_nsnet_probe_t;

/* A step ended: status 0, or a negative code with a one-line msg (borrowed,
 * valid during the call). */
typedef void (*fl_nsnet_cb)(int status, const char *msg, void *arg);

typedef struct fl_nsnet_opts_s {
  const char *run_id; /* the run's id, up to 8 characters (required) */
  const char *subnet; /* "10.1.2.0/24"; NULL: the first free /24 of 10.77.0.0/16 */
  fl_timeline_t *tl;  /* optional: gets a "step" event naming what the kernel offers */
  /* Optional: the shell line that removes everything of this run, to run if
   * the process dies without closing (cmd new to the callee only during the
   * call; NULL once the network is gone and there is nothing to remove). */
  void (*death_cmd)(const char *run_id, const char *cmd, void *arg);
  void *arg;
} fl_nsnet_opts_t;

/* Can this process make namespace networks? 0 yes; FL_ENOSUPPORT with the
 * reason (no root, a missing tool and its Debian package) in err. */
int fl_nsnet_usable(fl_err_t *err);

/* Starts opening a network; returns 0 and the network in *out at once
 * (steps asked for meanwhile wait for the open). cb(arg) when it is open or
 * failed; *op (may be NULL) lets the caller cancel waiting for it. Errors
 * before anything started (a bad subnet, the run cannot be marked): the
 * code, *out NULL, cb never runs. */
int fl_nsnet_open(fl_nsnet_t **out, uv_loop_t *loop, const fl_nsnet_opts_t *opts,
                  fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err);

/* The network's addresses and endpoints (borrowed; NULL until the open chose
 * a subnet). */
fl_net_t *fl_nsnet_net(const fl_nsnet_t *n);
const char *fl_nsnet_run_id(const fl_nsnet_t *n);
/* What the kernel offers (found by the first open of the process; all zero
 * before). */
const fl_netns_features_t *fl_nsnet_features(void);

/* Gives name a namespace of its own on the bridge (made once). Returns 1
 * when it is attached already (cb does not run), 0 when cb will run, or an
 * error (the network is not open, a bad name). */
int fl_nsnet_attach(fl_nsnet_t *n, const char *name, fl_nsnet_cb cb, void *arg,
                    fl_nsnet_op_t **op, fl_err_t *err);
/* Replaces every cut by these: traffic from pairs[i][0] to pairs[i][1] is
 * dropped (names of endpoints, or "host" for this process's address); no
 * pairs heals. Errors: a name not on the network. */
int fl_nsnet_cut(fl_nsnet_t *n, const char *const (*pairs)[2], size_t count,
                 fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err);
/* Shapes name's link in dirs (FL_SHAPE_IN | FL_SHAPE_OUT); a zero shape
 * removes the qdiscs. Errors: name not attached, the kernel lacks the qdisc. */
int fl_nsnet_shape(fl_nsnet_t *n, const char *name, int dirs, const fl_shape_t *sh,
                   fl_nsnet_cb cb, void *arg, fl_nsnet_op_t **op, fl_err_t *err);
/* The caller no longer waits: op's callback will not run. A queued step is
 * dropped; a running one finishes (a half-run script is worse than a late
 * one). */
void fl_nsnet_cancel(fl_nsnet_op_t *op);

/* Do datagrams from a reach b? Sends 5 over secs from a's namespace (or the
 * host) to b's, then cb(received, sent, detail) where detail names the
 * addresses. Errors: a side not attached, sockets that cannot be had. */
typedef void (*fl_nsnet_probe_cb)(int received, int sent, const char *detail, void *arg);
int fl_nsnet_probe(fl_nsnet_t *n, const char *a, const char *b, double secs,
                   fl_nsnet_probe_cb cb, void *arg, fl_nsnet_probe_t **out,
                   fl_err_t *err);
/* Stops a probe; its callback will not run. */
void fl_nsnet_probe_cancel(fl_nsnet_probe_t *p);

/* Closes: queued steps are dropped (their callbacks do not run), a running
 * one finishes, processes get up to 10 s to leave the namespaces, then
 * everything of the run is removed and n freed; done(arg) after (never
 * before this returns). */
void fl_nsnet_close(fl_nsnet_t *n, void (*done)(void *), void *arg);

#endif
