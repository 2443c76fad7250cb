#include "harness/cmd_agent.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "harness/agent.h"
#include "harness/cli.h"

static const char USAGE[] =
    "usage: faultline agent --run ID [--state DIR]\n"
    "       faultline agent --cleanup [--state DIR] [--dry-run]\n"
    "  the remote side of a run on remote hosts (README: Running on your own\n"
    "  machines): JSON lines on stdin and stdout; when stdin closes it kills\n"
    "  what it started and removes its nftables table. --cleanup removes what\n"
    "  agents that are gone left on this host.\n"
    "\n"
    "  --run ID      the run's id (8 hex digits)\n"
    "  --state DIR   where agents keep their state (default " FL_AGENT_STATE ")\n"
    "  --cleanup     remove dead agents' leftovers\n"
    "  -n, --dry-run with --cleanup: say what would be removed\n";

static const struct option LONGOPTS[] = {
    {"run", required_argument, NULL, 'r'}, {"state", required_argument, NULL, 's'},
    {"cleanup", no_argument, NULL, 'c'},   {"dry-run", no_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
};

static int run_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 16)
    return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return 0;
  return 1;
}

int fl_cmd_agent(int argc, char **argv) {
  const char *run = NULL, *state = FL_AGENT_STATE;
  int cleanup = 0, dry = 0;
  fl_err_t err = {0};
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "nh", LONGOPTS, 0);
  int ch;
  while ((ch = fl_cli_next(&c, &err)) != FL_CLI_END) {
    if (ch == 'r')
      run = c.arg;
    else if (ch == 's')
      state = c.arg;
    else if (ch == 'c')
      cleanup = 1;
    else if (ch == 'n')
      dry = 1;
    else if (ch == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else if (ch == FL_CLI_ARG) {
      fl_err_set(&err, FL_EUSAGE, "unexpected argument \"%s\"", c.arg);
      return fl_cli_usage_error("agent", &err);
    } else {
      return fl_cli_usage_error("agent", &err);
    }
  }
  if (cleanup) {
    if (fl_agent_cleanup(state, dry) == 0)
      printf("faultline agent --cleanup: nothing left behind\n");
    return 0;
  }
  if (run == NULL || !run_id_ok(run)) {
    fl_err_set(&err, FL_EUSAGE, "--run wants the run's id (hex digits)");
    return fl_cli_usage_error("agent", &err);
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = fl_agent_main(&loop, run, state, STDIN_FILENO, STDOUT_FILENO);
  uv_loop_close(&loop);
  return code;
}
