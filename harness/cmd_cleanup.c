#include "harness/cmd_cleanup.h"

#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "base/alloc.h"
#include "faults/clock.h"
#include "faults/cgroup.h"
#include "faults/netns.h"
#include "faults/subproc.h"
#include "harness/cli.h"
#include "harness/hosts.h"
#include "harness/remote.h"

typedef struct {
  int done;
  char *out;
} capture_t;

static void on_tables(const fl_subproc_result_t *r, void *arg) {
  capture_t *c = arg;
  c->done = 1;
  c->out = r->status == 0 ? fl_strdup(r->out) : NULL;
}

/* `nft list tables`, or NULL when nft is missing or fails. New. */
static char *list_tables(void) {
  if (!fl_subproc_have("nft"))
    return NULL;
  uv_loop_t loop;
  uv_loop_init(&loop);
  capture_t c = {0, NULL};
  const char *argv[] = {"nft", "list", "tables", NULL};
  fl_subproc_run(&loop, argv, NULL, NULL, 30000, on_tables, &c, NULL);
  while (!c.done)
    uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return c.out;
}

static const char USAGE[] =
    "usage: faultline cleanup [--dry-run] [--hosts FILE]\n"
    "  removes what faultline runs that are no longer alive left behind:\n"
    "  network namespaces fl<id>-<n>, links fl<id> and fl<id>v<n>, nftables\n"
    "  tables fl<id>, /run/faultline state, libfaketime's /dev/shm leftovers,\n"
    "  cgroups faultline-<pid>-<run> (containment, and the cpu, cpuacct and\n"
    "  memory hierarchies of a v1 or hybrid machine)\n"
    "\n"
    "  -n, --dry-run  say what would be removed, remove nothing\n"
    "  --hosts FILE   instead: what lost runs left on those remote hosts (their\n"
    "                 agents' services, nftables tables, cgroups, state)\n";

static const struct option LONGOPTS[] = {
    {"dry-run", no_argument, NULL, 'n'},
    {"hosts", required_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fl_cleanup_args_parse(fl_cleanup_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "nh", LONGOPTS, 0);
  int ch;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      return fl_err_set(err, FL_EUSAGE, "unexpected argument \"%s\"", c.arg);
    case 'n':
      out->dry_run = 1;
      break;
    case 'H':
      out->hosts_file = c.arg;
      break;
    case 'h':
      out->help = 1;
      return 0;
    default:
      return ch;
    }
  }
  return 0;
}

static void said_cgroup(const char *path, void *arg) {
  printf("cgroup %s: its faultline is gone; %s\n", path,
         *(int *)arg ? "would remove" : "removed");
}

/* Services' cgroups a dead run left (faults/cgroup.h): the reaper removes
 * them when faultline dies, this when the reaper could not. */
static int sweep_cgroups(int dry) {
  fl_cg_sys_t sys;
  if (fl_cgroup_detect(&sys, "/sys/fs/cgroup", NULL) != 0)
    return 0;
  int n = fl_cgroup_cleanup(&sys, dry ? FL_CG_DRY_RUN : 0, said_cgroup, &dry);
  return n > 0 ? n : 0;
}

int fl_cmd_cleanup(int argc, char **argv) {
  fl_cleanup_args_t a;
  fl_err_t err = {0};
  if (fl_cleanup_args_parse(&a, argc, argv, &err) < 0)
    return fl_cli_usage_error("cleanup", &err);
  if (a.help) {
    fputs(USAGE, stdout);
    return 0;
  }
  if (a.hosts_file != NULL) {
    fl_hosts_t hosts;
    if (fl_hosts_load_file(a.hosts_file, &hosts, &err) < 0) {
      fprintf(stderr, "faultline cleanup: %s\n", err.msg);
      return 2;
    }
    int code = fl_remote_cleanup(&hosts, a.dry_run);
    fl_hosts_free(&hosts);
    return code;
  }
  int dry = a.dry_run;
  char why[256];
  if (!fl_netns_privileged(why, sizeof(why))) {
    fprintf(stderr,
            "faultline cleanup: removing network namespaces, links and nftables "
            "tables needs root (%s), which this process does not have\n",
            why);
    return 2;
  }
  if (!fl_subproc_have("ip")) {
    fprintf(stderr, "faultline cleanup: `ip` (iproute2) is not installed\n");
    return 2;
  }
  int n = 0, code = 0;
  /* Rounds: a run killed a moment ago may still have a namespace step of its
   * own finishing (or another run's `ip netns add` racing a delete), so what
   * one round removes can reappear or resist; a second look settles it. */
  for (int round = 0; round < (dry ? 1 : 3); round++) {
    char *tables = list_tables();
    char **ids = fl_netns_stale_runs(tables);
    int found = 0;
    for (size_t i = 0; ids[i] != NULL; i++, n++, found++) {
      fl_script_t *s = fl_script_new();
      fl_netns_script_remove_run(s, ids[i]);
      printf("run %s is gone; %s:\n", ids[i], dry ? "would remove" : "removing");
      for (size_t k = 0; k < fl_script_len(s); k++)
        printf("  %s\n", fl_script_line(s, k));
      if (dry) {
        fl_script_free(s);
        continue;
      }
      char msg[512];
      fl_script_run_sync(s, 30000, msg, sizeof(msg));
    }
    fl_netns_ids_free(ids);
    fl_free(tables);
    if (found == 0)
      break;
    if (!dry)
      usleep(300 * 1000);
  }
  if (!dry && n > 0) {
    /* Whatever is still there could not be removed. */
    char *tables = list_tables();
    char **ids = fl_netns_stale_runs(tables);
    for (size_t i = 0; ids[i] != NULL; i++) {
      fprintf(stderr,
              "faultline cleanup: run %s: something could not be removed (see `ip "
              "netns list`, `ip link`, `nft list tables`)\n",
              ids[i]);
      code = 2;
    }
    fl_netns_ids_free(ids);
    fl_free(tables);
  }
  n += sweep_cgroups(dry);
  int shm = dry ? 0 : fl_clock_sweep_shm();
  if (shm > 0)
    printf("removed %d libfaketime shared-memory file(s) of processes that are gone\n",
           shm);
  if (n == 0 && shm == 0)
    printf("faultline cleanup: nothing left behind\n");
  return code;
}
