/* `faultline agent --run ID [--state DIR]`: the remote agent (harness/agent.h),
 * started by a run over ssh on each remote host; `faultline agent --cleanup
 * [--state DIR] [--dry-run]` removes what dead agents left on this host. */
#ifndef FL_CMD_AGENT_H
#define FL_CMD_AGENT_H

int fl_cmd_agent(int argc, char **argv);

#endif
