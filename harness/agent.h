/* The remote agent (issue 16): `faultline agent --run ID`, started over ssh
 * on each remote host of a run, tied to its ssh session. It reads JSON lines
 * on stdin and writes JSON lines on stdout, one object each:
 *
 *   in  {"op":"hello"}
 *   out {"ev":"hello","t":T,"pid":P,"root":B,"cgroup":"v2"|null,"nft":B,
 *        "table":"flr<run>","version":V}
 *   in  {"op":"start","name":N,"cmd":[...],"env":["K=V",...],"cwd":DIR}
 *        (no cwd: STATE/<run>/<name>, made for it, removed at the end)
 *   out {"ev":"started","name":N,"pid":P,"cgroup":B,"t":T}
 *   out {"ev":"log","name":N,"stream":"stdout"|"stderr","t":T,"line":L}
 *   out {"ev":"exit","name":N,"status":S,"signal":G,"t":T}
 *   in  {"op":"signal","name":N,"sig":9} | {"op":"pause"|"resume","name":N}
 *   out {"ev":"ok","op":OP,"name":N,"t":T}
 *   in  {"op":"nft","script":"..."}   (`nft -f -`; the table is "table")
 *   out {"ev":"nft","ok":B,"msg":M,"t":T}
 *   in  {"op":"reach","addr":A,"port":P,"timeout":S}  (a TCP connect from here)
 *   out {"ev":"reach","ok":B,"msg":M,"t":T}
 *   in  {"op":"exec","argv":[...],"timeout":S}  (a command on the host)
 *   out {"ev":"exec","status":N,"out":O,"err":E,"t":T}
 *   in  {"op":"undo","argv":[...]}  (run when the agent ends, or by --cleanup)
 *   out {"ev":"ok","op":"undo","t":T}
 *   in  {"op":"bye"}
 *   out {"ev":"error","op":OP,"name":N,"msg":M,"t":T} for a request it
 *        could not do
 * Every request may carry "seq"; its answer carries the same. T is the
 * host's wall clock (seconds since the epoch), for the run's timeline.
 *
 * A service runs through the exec shim (`faultline __exec AGENT_PID ...`,
 * harness/reaper.h: it dies with the agent) in a process group of its own,
 * and in a cgroup of its own when the host has them and the agent is root
 * (faults/cgroup.h, parent ROOT/faultline-<agent pid>-<run>).
 *
 * When stdin closes (faultline died, SIGKILL included, or the connection
 * dropped), on "bye", SIGTERM or SIGHUP, the agent kills everything it
 * started, deletes its nftables table and its state directory, and exits.
 * The state directory (STATE/<run>/agent: its pid and start time, the table,
 * the process groups) lets `faultline agent --cleanup` remove what an agent
 * that could not clean up (killed with -9 itself) left. */
#ifndef FL_AGENT_H
#define FL_AGENT_H

#include <uv.h>

/* The default state root on a host. */
#define FL_AGENT_STATE "/tmp/faultline-agent"

/* The nftables table (family inet) of run run_id on a host: "flr<run_id>",
 * into out. */
void fl_agent_table(const char *run_id, char *out, size_t size);

/* Runs the agent on loop with in_fd / out_fd as its channel until it ends;
 * returns the exit code (0, or 2 when its state cannot be made). */
int fl_agent_main(uv_loop_t *loop, const char *run_id, const char *state_root, int in_fd,
                  int out_fd);

/* Removes what dead agents under state_root left: their process groups,
 * cgroups, nftables tables, state. Prints one line per thing removed (or
 * that would be, with dry). Returns how many runs it found. */
int fl_agent_cleanup(const char *state_root, int dry);

#endif
