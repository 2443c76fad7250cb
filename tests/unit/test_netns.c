/* faults/netns, netns_stale, nft, subproc: the namespace layer's plan, with
 * nothing made in the kernel. Subnets and their errors, the host's routes,
 * addresses and names (15 characters), the command scripts, tbf/netem
 * arguments and rates, nftables text, what a feature probe printed, state
 * files that say a run is alive, finding what dead runs left (in scratch
 * directories standing in for /run/netns, /sys/class/net and /run/faultline),
 * and scripts run through real child processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "faults/netns.h"
#include "faults/nft.h"
#include "faults/subproc.h"
#include "base/alloc.h"

static void test_subnet_parse(void **state) {
  fl_subnet_t s;
  fl_err_t err = {0};
  assert_int_equal(fl_subnet_parse("10.77.0.0/24", &s, &err), 0);
  assert_int_equal(s.len, 24);
  char buf[32];
  fl_subnet_format(&s, buf, sizeof(buf));
  assert_string_equal(buf, "10.77.0.0/24");
  assert_int_equal(fl_subnet_hosts(&s), 254);
  fl_ip4_format(fl_subnet_addr(&s, 1), buf, sizeof(buf));
  assert_string_equal(buf, "10.77.0.1");

  assert_int_equal(fl_subnet_parse("10.77.0.5/24", &s, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "did you mean 10.77.0.0/24"));
  assert_int_equal(fl_subnet_parse("10.77.0.0", &s, &err), FL_ECONFIG);
  assert_int_equal(fl_subnet_parse("10.77.0.0/31", &s, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "between 8 and 30"));
  assert_int_equal(fl_subnet_parse("10.77.0.0/x", &s, &err), FL_ECONFIG);
  assert_int_equal(fl_subnet_parse("nope/24", &s, &err), FL_ECONFIG);
  assert_int_equal(fl_subnet_parse("10.77.0.0/8x", &s, &err), FL_ECONFIG);
}

static void test_overlap(void **state) {
  fl_subnet_t a, b, c;
  fl_subnet_parse("10.77.0.0/24", &a, NULL);
  fl_subnet_parse("10.0.0.0/8", &b, NULL);
  fl_subnet_parse("10.78.0.0/16", &c, NULL);
  assert_true(fl_subnet_overlaps(&a, &b));
  assert_true(fl_subnet_overlaps(&b, &a));
  assert_false(fl_subnet_overlaps(&a, &c));
}

static void test_routes(void **state) {
  const char *json =
      "[{\"dst\":\"default\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth0\"},"
      "{\"dst\":\"192.0.2.0/24\",\"dev\":\"eth0\"},"
      "{\"type\":\"local\",\"dst\":\"192.0.2.2\",\"table\":\"local\",\"dev\":\"eth0\"},"
      "{\"dst\":\"10.77.3.0/24\",\"dev\":\"fl0123abcd\"}]";
  fl_subnet_t s;
  char why[128];
  fl_subnet_parse("10.77.0.0/24", &s, NULL);
  assert_int_equal(fl_netns_route_conflict(json, &s, why, sizeof(why)), 0);
  fl_subnet_parse("10.77.0.0/16", &s, NULL);
  assert_int_equal(fl_netns_route_conflict(json, &s, why, sizeof(why)), 1);
  assert_string_equal(why, "10.77.3.0/24 dev fl0123abcd");
  fl_subnet_parse("192.0.2.0/30", &s, NULL);
  assert_int_equal(fl_netns_route_conflict(json, &s, why, sizeof(why)), 1);
  assert_string_equal(why, "192.0.2.0/24 dev eth0");
  /* The default route overlaps everything and is not a conflict. */
  fl_subnet_parse("172.16.0.0/12", &s, NULL);
  assert_int_equal(fl_netns_route_conflict(json, &s, why, sizeof(why)), 0);
  assert_int_equal(fl_netns_route_conflict("not json", &s, why, sizeof(why)), FL_EPARSE);
  assert_int_equal(fl_netns_route_conflict("{}", &s, why, sizeof(why)), FL_EPARSE);
}

static void test_endpoints(void **state) {
  fl_subnet_t s;
  fl_subnet_parse("10.77.5.0/29", &s, NULL); /* 6 usable: host + 5 services */
  fl_net_t *net;
  fl_err_t err = {0};
  assert_int_equal(fl_net_new(&net, "NOTHEX!!", &s, &err), FL_ECONFIG);
  assert_int_equal(fl_net_new(&net, "0123abcd", &s, &err), 0);
  assert_string_equal(fl_net_bridge(net), "fl0123abcd");
  assert_string_equal(fl_net_host_addr(net), "10.77.5.1");
  assert_string_equal(fl_net_subnet_str(net), "10.77.5.0/29");

  fl_net_ep_t *a = fl_net_endpoint(net, "a", 1, &err);
  assert_non_null(a);
  assert_string_equal(a->addr_s, "10.77.5.2");
  assert_string_equal(a->ns, "fl0123abcd-1");
  assert_string_equal(a->ns_path, "/run/netns/fl0123abcd-1");
  assert_string_equal(a->veth, "fl0123abcdv1");
  assert_true(strlen(a->veth) <= 15);
  assert_ptr_equal(fl_net_endpoint(net, "a", 1, &err), a); /* sticky */
  assert_null(fl_net_endpoint(net, "b", 0, &err));
  assert_null(fl_net_endpoint(net, "host", 1, &err));
  assert_non_null(strstr(err.msg, "faultline's own side"));
  const char *names[] = {"b", "c", "d", "e"};
  for (int i = 0; i < 4; i++)
    assert_non_null(fl_net_endpoint(net, names[i], 1, &err));
  assert_string_equal(fl_net_endpoint(net, "e", 0, NULL)->addr_s, "10.77.5.6");
  assert_null(fl_net_endpoint(net, "f", 1, &err));
  assert_non_null(strstr(err.msg, "no address left for service f"));
  assert_int_equal(fl_net_count(net), 5);
  uint32_t addr;
  fl_ip4_parse("10.77.5.4", &addr);
  assert_string_equal(fl_net_endpoint_by_addr(net, addr)->name, "c");
  fl_net_free(net);
}

static int has_line(const fl_script_t *s, const char *line) {
  for (size_t i = 0; i < fl_script_len(s); i++)
    if (strcmp(fl_script_line(s, i), line) == 0)
      return 1;
  return 0;
}

static void test_scripts(void **state) {
  fl_subnet_t s;
  fl_subnet_parse("10.77.0.0/24", &s, NULL);
  fl_net_t *net;
  fl_net_new(&net, "0123abcd", &s, NULL);
  fl_script_t *c = fl_net_script_create(net);
  assert_true(has_line(c, "ip link add name fl0123abcd type bridge"));
  assert_true(has_line(c, "ip addr add 10.77.0.1/24 dev fl0123abcd"));
  assert_true(has_line(c, "ip link set dev fl0123abcd up"));
  assert_true(has_line(c, "nft -f -"));
  fl_script_free(c);

  fl_net_ep_t *a = fl_net_endpoint(net, "a", 1, NULL);
  fl_script_t *at = fl_net_script_attach(net, a);
  assert_string_equal(fl_script_line(at, 0), "ip netns add fl0123abcd-1");
  assert_true(has_line(at, "ip link add name fl0123abcdv1 type veth peer name eth0 netns "
                           "fl0123abcd-1"));
  assert_true(has_line(at,
                       "ip link set dev fl0123abcdv1 alias faultline master fl0123abcd "
                       "up"));
  assert_true(has_line(at, "ip -n fl0123abcd-1 link set dev lo up"));
  assert_true(has_line(at, "ip -n fl0123abcd-1 addr add 10.77.0.2/24 dev eth0"));
  assert_null(fl_script_line(at, fl_script_len(at)));
  fl_script_free(at);

  fl_shape_t sh = {.rate_bps = 125000};
  fl_script_t *sc = fl_script_new();
  fl_net_script_shape(sc, a, FL_SHAPE_IN, &sh);
  fl_net_script_shape(sc, a, FL_SHAPE_OUT, &sh);
  assert_string_equal(fl_script_line(sc, 0),
                      "tc qdisc replace dev fl0123abcdv1 root tbf rate "
                      "1000000bit burst 15140 latency 100ms");
  assert_string_equal(fl_script_line(sc, 1),
                      "tc -n fl0123abcd-1 qdisc replace dev eth0 root "
                      "tbf rate 1000000bit burst 15140 latency 100ms");
  fl_shape_t net_sh = {.rate_bps = 0, .delay_ms = 100, .jitter_ms = 10, .loss_pct = 1};
  assert_true(fl_shape_needs_netem(&net_sh));
  assert_false(fl_shape_needs_netem(&sh));
  fl_net_script_shape(sc, a, FL_SHAPE_IN, &net_sh);
  assert_string_equal(fl_script_line(sc, 2),
                      "tc qdisc replace dev fl0123abcdv1 root netem "
                      "delay 100.000ms 10.000ms loss 1.0000%");
  fl_shape_t none = {0};
  fl_net_script_shape(sc, a, FL_SHAPE_OUT, &none);
  assert_string_equal(fl_script_line(sc, 3),
                      "tc -n fl0123abcd-1 qdisc del dev eth0 root");
  fl_script_free(sc);

  char *death = fl_netns_death_cmd("0123abcd", "/run/faultline/net-10.77.0.0-24");
  assert_non_null(strstr(death, "id=0123abcd;"));
  assert_non_null(strstr(death, "nft delete table bridge fl$id"));
  assert_non_null(strstr(death, "ip netns del"));
  assert_non_null(strstr(death, "/run/faultline/net-10.77.0.0-24"));
  assert_null(strchr(death, '\n')); /* the reaper's protocol is one line */
  fl_free(death);
  fl_net_free(net);
}

static void test_rates(void **state) {
  fl_err_t err = {0};
  assert_int_equal(fl_rate_parse("100", &err), 100000); /* KB/s */
  assert_int_equal(fl_rate_parse("1.5", &err), 1500);
  assert_int_equal(fl_rate_parse("8mbit", &err), 1000000);
  assert_int_equal(fl_rate_parse("800kbit", &err), 100000);
  assert_int_equal(fl_rate_parse("1gbit", &err), 125000000);
  assert_int_equal(fl_rate_parse("2MB", &err), 2000000);
  assert_int_equal(fl_rate_parse("500 KB", &err), 500000);
  assert_int_equal(fl_rate_parse("64bit", &err), 8);
  assert_int_equal(fl_rate_parse("0", &err), 0);
  assert_int_equal(fl_rate_parse("-5", &err), 0);
  assert_int_equal(fl_rate_parse("fast", &err), 0);
  assert_int_equal(fl_rate_parse("10furlongs", &err), 0);
  assert_non_null(strstr(err.msg, "unknown unit"));
  assert_int_equal(fl_rate_parse("1bit", &err), 0);
  assert_non_null(strstr(err.msg, "below one byte"));
}

static void test_nft_text(void **state) {
  char *t = fl_nft_table_text("fl0123abcd");
  assert_non_null(strstr(t, "table bridge fl0123abcd {"));
  assert_non_null(strstr(t, "type filter hook forward priority -200; policy accept;"));
  assert_non_null(strstr(t, "type filter hook input priority -200"));
  assert_non_null(strstr(t, "type filter hook output priority -200"));
  assert_non_null(strstr(t, "jump cut"));
  fl_free(t);
  fl_nft_cut_t cuts[2];
  fl_ip4_parse("10.77.0.2", &cuts[0].src);
  fl_ip4_parse("10.77.0.3", &cuts[0].dst);
  cuts[1].src = cuts[0].dst;
  cuts[1].dst = cuts[0].src;
  char *c = fl_nft_cut_text("fl0123abcd", cuts, 2);
  assert_string_equal(c, "flush chain bridge fl0123abcd cut\n"
                         "add rule bridge fl0123abcd cut ip saddr 10.77.0.2 ip daddr "
                         "10.77.0.3 drop\n"
                         "add rule bridge fl0123abcd cut ip saddr 10.77.0.3 ip daddr "
                         "10.77.0.2 drop\n");
  fl_free(c);
  c = fl_nft_cut_text("fl0123abcd", NULL, 0);
  assert_string_equal(c, "flush chain bridge fl0123abcd cut\n");
  fl_free(c);
}

static void test_features(void **state) {
  fl_netns_features_t f;
  fl_netns_features_parse("tbf\nnetem-error Error: Specified qdisc kind is unknown.\n",
                          &f);
  assert_true(f.tbf);
  assert_false(f.netem);
  assert_string_equal(f.netem_error, "Error: Specified qdisc kind is unknown.");
  fl_netns_features_parse("tbf\nnetem\n", &f);
  assert_true(f.tbf && f.netem);
  fl_netns_features_parse("", &f);
  assert_false(f.tbf || f.netem);
  assert_string_equal(f.netem_error, "the probe could not run");
  char *cmd = fl_netns_features_cmd("0123abcd");
  assert_non_null(strstr(cmd, "ns=fl0123abcd-probe;"));
  assert_non_null(strstr(cmd, "ip netns del $ns"));
  fl_free(cmd);
}

static void test_names(void **state) {
  char id[9];
  assert_true(fl_netns_name_run("fl0123abcd", id));
  assert_string_equal(id, "0123abcd");
  assert_true(fl_netns_name_run("fl0123abcd-12", id));
  assert_true(fl_netns_name_run("fl0123abcd-probe", id));
  assert_true(fl_netns_name_run("fl0123abcdv7", id));
  assert_false(fl_netns_name_run("fl0123abcdv", id));
  assert_false(fl_netns_name_run("fl0123abcdvx", id));
  assert_false(fl_netns_name_run("fl0123ABCD", id));
  assert_false(fl_netns_name_run("flannel.1", id));
  assert_false(fl_netns_name_run("fl0123abc", id));
  assert_false(fl_netns_name_run("fl0123abcdx", id));
  assert_false(fl_netns_name_run("eth0", id));
}

/* ---- state and leftovers, in scratch directories ------------------------------ */

typedef struct {
  char root[64];
  char state[96], netns[96], sys[96];
} scratch_t;

static void touch(const char *path, const char *content) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  if (content != NULL)
    fputs(content, f);
  fclose(f);
}

static void mklink(scratch_t *s, const char *name, const char *alias) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", s->sys, name);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/%s/ifalias", s->sys, name);
  touch(path, alias);
}

static int setup_scratch(void **state) {
  scratch_t *s = fl_calloc(1, sizeof(*s));
  snprintf(s->root, sizeof(s->root), "/tmp/fl-netns-test.XXXXXX");
  assert_non_null(mkdtemp(s->root));
  snprintf(s->state, sizeof(s->state), "%s/state", s->root);
  snprintf(s->netns, sizeof(s->netns), "%s/netns", s->root);
  snprintf(s->sys, sizeof(s->sys), "%s/sys", s->root);
  mkdir(s->netns, 0755);
  mkdir(s->sys, 0755);
  fl_netns_paths_t p = {.state_dir = s->state, .netns_dir = s->netns, .sys_net = s->sys};
  fl_netns_set_paths(&p);
  *state = s;
  return 0;
}

static int teardown_scratch(void **state) {
  scratch_t *s = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", s->root);
  assert_int_equal(system(cmd), 0);
  fl_netns_paths_t p = {"/run/faultline", "/run/netns", "/sys/class/net"};
  fl_netns_set_paths(&p);
  fl_free(s);
  return 0;
}

static void test_run_marks(void **state) {
  scratch_t *s = *state;
  assert_false(fl_netns_run_alive("0123abcd"));
  assert_int_equal(fl_netns_run_mark("0123abcd", NULL), 0);
  assert_true(fl_netns_run_alive("0123abcd"));
  /* A mark whose pid lives but started at another time is a reused pid. */
  char path[256];
  snprintf(path, sizeof(path), "%s/run-00000001", s->state);
  char content[64];
  snprintf(content, sizeof(content), "%d 1\n", (int)getpid());
  touch(path, content);
  assert_false(fl_netns_run_alive("00000001"));
  snprintf(path, sizeof(path), "%s/run-00000002", s->state);
  touch(path, "999999999 5\n");
  assert_false(fl_netns_run_alive("00000002"));
  fl_netns_run_unmark("0123abcd");
  assert_false(fl_netns_run_alive("0123abcd"));
}

static void test_subnet_take(void **state) {
  fl_subnet_t sn;
  fl_subnet_parse("10.77.9.0/24", &sn, NULL);
  char *path = NULL, *again = NULL;
  fl_netns_run_mark("0123abcd", NULL);
  assert_int_equal(fl_netns_subnet_take(&sn, "0123abcd", &path), 0);
  assert_non_null(strstr(path, "/net-10.77.9.0-24"));
  /* Held by a live run: refused. */
  assert_int_equal(fl_netns_subnet_take(&sn, "00000bad", &again), UV_EEXIST);
  fl_netns_subnet_release(path);
  fl_netns_run_unmark("0123abcd");
  /* The holder dies without releasing (a child that takes it and exits):
   * the kernel drops its lock, and the subnet can be taken over. */
  pid_t pid = fork();
  if (pid == 0) {
    char *p = NULL;
    _exit(fl_netns_subnet_take(&sn, "0000dead", &p) == 0 ? 0 : 1);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(fl_netns_subnet_take(&sn, "00000bad", &again), 0);
  assert_string_equal(again, path);
  fl_netns_subnet_release(again);
  fl_free(path);
  fl_free(again);
}

static void test_stale_runs(void **state) {
  scratch_t *s = *state;
  char path[256];
  /* A dead run with a namespace, its links and a table; a live one (this
   * process); a link named like ours without our alias (not ours); a file
   * that is not a namespace of ours. */
  snprintf(path, sizeof(path), "%s/fl0000dead-1", s->netns);
  touch(path, NULL);
  snprintf(path, sizeof(path), "%s/fl0000dead-probe", s->netns);
  touch(path, NULL);
  snprintf(path, sizeof(path), "%s/other", s->netns);
  touch(path, NULL);
  mklink(s, "fl0000dead", "faultline\n");
  mklink(s, "fl0000deadv1", "faultline\n");
  mklink(s, "fl0000beefv1", "somebody else\n");
  fl_netns_run_mark("00001111", NULL);
  snprintf(path, sizeof(path), "%s/fl00001111-1", s->netns);
  touch(path, NULL);
  char **ids = fl_netns_stale_runs("table inet filter\ntable bridge fl0000cafe\n"
                                   "table bridge fl00001111\n");
  assert_non_null(ids[0]);
  int dead = 0, cafe = 0;
  size_t n = 0;
  for (; ids[n] != NULL; n++) {
    dead += strcmp(ids[n], "0000dead") == 0;
    cafe += strcmp(ids[n], "0000cafe") == 0;
    assert_string_not_equal(ids[n], "00001111");
    assert_string_not_equal(ids[n], "0000beef");
  }
  assert_int_equal(n, 2);
  assert_int_equal(dead, 1);
  assert_int_equal(cafe, 1);
  fl_netns_ids_free(ids);

  fl_script_t *sc = fl_script_new();
  fl_netns_script_remove_run(sc, "0000dead");
  assert_true(has_line(sc, "nft delete table bridge fl0000dead"));
  assert_true(has_line(sc, "ip link del fl0000deadv1"));
  assert_true(has_line(sc, "ip link del fl0000dead"));
  assert_true(has_line(sc, "ip netns del fl0000dead-1"));
  assert_true(has_line(sc, "ip netns del fl0000dead-probe"));
  assert_false(has_line(sc, "ip link del fl0000beefv1"));
  const char *last = fl_script_line(sc, fl_script_len(sc) - 1);
  assert_non_null(strstr(last, "rm -f "));
  assert_non_null(strstr(last, "/run-0000dead"));
  fl_script_free(sc);
  fl_netns_run_unmark("00001111");
}

/* ---- child processes --------------------------------------------------------- */

typedef struct {
  int calls;
  int status;
  char out[256];
  char err[256];
  char line[256];
} seen_t;

static void on_script(const fl_script_result_t *r, void *arg) {
  seen_t *s = arg;
  s->calls++;
  s->status = r->status;
  snprintf(s->line, sizeof(s->line), "%s", r->line ? r->line : "");
  if (r->result != NULL) {
    snprintf(s->out, sizeof(s->out), "%s", r->result->out);
    snprintf(s->err, sizeof(s->err), "%s", r->result->err);
  }
}

static void on_proc(const fl_subproc_result_t *r, void *arg) {
  seen_t *s = arg;
  s->calls++;
  s->status = r->status;
  snprintf(s->out, sizeof(s->out), "%s", r->out);
  snprintf(s->err, sizeof(s->err), "%s", r->err);
}

static void test_subproc(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  seen_t seen = {0};
  const char *argv[] = {"sh", "-c", "cat; echo oops >&2; exit 3", NULL};
  fl_subproc_run(&loop, argv, NULL, "hello", 5000, on_proc, &seen, NULL);
  assert_int_equal(seen.calls, 0); /* never before it returns */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.status, 3);
  assert_string_equal(seen.out, "hello");
  assert_string_equal(seen.err, "oops\n");

  memset(&seen, 0, sizeof(seen));
  const char *missing[] = {"fl-no-such-command", NULL};
  fl_subproc_run(&loop, missing, NULL, NULL, 0, on_proc, &seen, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.status, UV_ENOENT);

  memset(&seen, 0, sizeof(seen));
  const char *slow[] = {"sleep", "10", NULL};
  uint64_t t0 = uv_hrtime();
  fl_subproc_run(&loop, slow, NULL, NULL, 100, on_proc, &seen, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.status, 128 + 9);
  assert_true(uv_hrtime() - t0 < 5000000000ull);

  /* Canceled: the callback never runs, the child is killed and reaped. */
  memset(&seen, 0, sizeof(seen));
  fl_subproc_t *p;
  fl_subproc_run(&loop, slow, NULL, NULL, 0, on_proc, &seen, &p);
  assert_true(fl_subproc_pid(p) > 0);
  fl_subproc_cancel(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 0);

  /* Scripts: in order, stop at the first failure unless told to go on. */
  memset(&seen, 0, sizeof(seen));
  fl_script_t *s = fl_script_new();
  fl_script_addl(s, FL_STEP_IGNORE_FAIL, "false", NULL);
  fl_script_addl(s, 0, "true", NULL);
  fl_script_addl(s, 0, "sh", "-c", "echo bad >&2; exit 4", NULL);
  fl_script_addl(s, 0, "sh", "-c", "echo never", NULL);
  fl_script_run(s, &loop, 5000, on_script, &seen);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.status, 4);
  assert_string_equal(seen.line, "sh -c echo bad >&2; exit 4");
  assert_string_equal(seen.err, "bad\n");

  memset(&seen, 0, sizeof(seen));
  fl_script_run(fl_script_new(), &loop, 0, on_script, &seen);
  assert_int_equal(seen.calls, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.status, 0);
  assert_int_equal(uv_loop_close(&loop), 0);

  char msg[128];
  s = fl_script_new();
  fl_script_addl(s, 0, "sh", "-c", "echo nope >&2; exit 1", NULL);
  assert_int_equal(fl_script_run_sync(s, 5000, msg, sizeof(msg)), 1);
  assert_string_equal(msg, "sh -c echo nope >&2; exit 1: nope");

  assert_true(fl_subproc_have("sh"));
  assert_false(fl_subproc_have("fl-no-such-command"));
  char *sh = fl_subproc_which("sh");
  assert_non_null(sh);
  assert_true(sh[0] == '/');
  fl_free(sh);
}

static void test_privileged(void **state) {
  char why[128] = "";
  int priv = fl_netns_privileged(why, sizeof(why));
  if (geteuid() != 0)
    assert_false(priv);
  if (!priv)
    assert_non_null(strstr(why, "CAP_"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subnet_parse),
      cmocka_unit_test(test_overlap),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_endpoints),
      cmocka_unit_test(test_scripts),
      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_nft_text),
      cmocka_unit_test(test_features),
      cmocka_unit_test(test_names),
      cmocka_unit_test_setup_teardown(test_run_marks, setup_scratch, teardown_scratch),
      cmocka_unit_test_setup_teardown(test_subnet_take, setup_scratch, teardown_scratch),
      cmocka_unit_test_setup_teardown(test_stale_runs, setup_scratch, teardown_scratch),
      cmocka_unit_test(test_subproc),
      cmocka_unit_test(test_privileged),
  };
  return cmocka_run_group_tests_name("netns", tests, NULL, NULL);
}
