/* The agents of a run on remote hosts (issue 16): on each host, faultline
 * itself in agent mode (harness/agent.h), copied there with scp when
 * missing (as /tmp/faultline-agent/bin/faultline-<version>-<size>-<mtime>:
 * the same build is copied once per host, never through a shared
 * filesystem), started through the host's ssh master and tied to that
 * session: when faultline dies or the connection drops, its stdin closes
 * and it removes everything it started.
 *
 * Every step is a child process on the run's loop. Events the agents send
 * (log lines, exits) go to the run: log lines into logs/<service>.log,
 * time-stamped on this machine's clock (the host's clock minus the offset
 * estimated at hello), exits onto the timeline; a handler may take them
 * too (the services on hosts). */
#ifndef FL_REMOTE_AGENT_H
#define FL_REMOTE_AGENT_H

#include <jansson.h>
#include <uv.h>

#include "base/error.h"
#include "base/timeline.h"
#include "harness/hosts.h"

typedef struct fl_agents_s fl_agents_t;

/* Starts the agents of every host (masters must be open: harness/remote.h),
 * running the loop until each has said hello or failed, within timeout_s.
 * 0 and *out, or FL_ECONFIG with one line per host that failed; the agents
 * that did start are ended again then. tl (may be NULL) gets the agents'
 * exit events. */
int fl_agents_start(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir,
                    const char *run_id, fl_timeline_t *tl, int timeout_s,
                    fl_agents_t **out, fl_err_t *err);

/* What each host's agent said at hello: [{name, address, offset_s, root,
 * cgroup, nft, copied}] (new). offset_s is the host's clock minus ours. */
json_t *fl_agents_describe(const fl_agents_t *a);
/* The clock offset of host i (s), and the index of the host named name
 * (-1 when none). */
double fl_agents_offset(const fl_agents_t *a, size_t i);
int fl_agents_index(const fl_agents_t *a, const char *name);

/* Sends req (borrowed) to the agent of host i. 0, or a negative code when
 * that agent is gone. */
int fl_agents_send(fl_agents_t *a, size_t i, const json_t *req);

/* Every event of every agent is given to fn too (host index, the event,
 * borrowed), after the run's own handling. */
typedef void (*fl_agents_fn)(size_t host, const json_t *ev, void *arg);
void fl_agents_on_event(fl_agents_t *a, fl_agents_fn fn, void *arg);

/* Ends every agent ("bye", then its stdin closed), running the loop until
 * each has gone (at most ~10 s), and frees a. NULL is fine. */
void fl_agents_stop(uv_loop_t *loop, fl_agents_t *a);

#endif
