/* `faultline proxy`: a standalone fault proxy that speaks Toxiproxy 2.x's
 * HTTP API (faults/toxiproxy_api.h; faults/PROXY_API.md for users). One
 * libuv loop; SIGINT or SIGTERM closes every proxy and exits 0.
 *
 * toxiproxy-server's own flags are accepted too (-host, -port, -config,
 * -seed, and -proxy-metrics / -runtime-metrics, which change nothing since
 * /metrics is always on), so scripts that start it can start this. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/toxiproxy_api.h"
#include "harness/cmd_proxy.h"

static const char USAGE[] =
    "usage: faultline proxy [--api HOST:PORT] [--config FILE] [--seed N]\n"
    "\n"
    "  --api HOST:PORT  where the HTTP API listens (default 127.0.0.1:8474)\n"
    "  --config FILE    create the proxies of a Toxiproxy config file (a JSON\n"
    "                   list of {name, listen, upstream, enabled, toxics})\n"
    "  --seed N         make toxicity, jitter and slice sizes reproducible\n"
    "  (toxiproxy-server's -host, -port, -config and -seed work too)\n"
    "\n"
    "The API is Toxiproxy 2.x's: GET /proxies, POST /proxies, POST /populate,\n"
    "GET|POST|DELETE /proxies/{proxy}, GET|POST /proxies/{proxy}/toxics,\n"
    "GET|POST|DELETE /proxies/{proxy}/toxics/{toxic}, POST /reset, GET /version;\n"
    "faultline adds GET /metrics, /faultline/udp and /faultline/partition.\n";

typedef struct proxy_cmd_s {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  fl_api_t *api;
  int stopping;
} proxy_cmd_t;

static void on_signal_closed(uv_handle_t *h) {
  (void)h;
}

static void stop(proxy_cmd_t *c) {
  if (c->stopping)
    return;
  c->stopping = 1;
  uv_close((uv_handle_t *)&c->sigint, on_signal_closed);
  uv_close((uv_handle_t *)&c->sigterm, on_signal_closed);
  if (c->api != NULL)
    fl_api_close(c->api, NULL, NULL);
  c->api = NULL;
}

static void on_signal(uv_signal_t *s, int signum) {
  proxy_cmd_t *c = s->data;
  fprintf(stderr, "faultline proxy: %s, closing every proxy\n",
          signum == SIGINT ? "interrupted" : "terminated");
  stop(c);
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "faultline proxy: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", USAGE);
  return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

/* The option's name without its dashes ("--api", "-api" and "--api=x" all
 * give "api"); *inline_val is what followed '=' or NULL. */
static const char *opt_name(const char *a, char *buf, size_t size,
                            const char **inline_val) {
  *inline_val = NULL;
  if (a[0] != '-')
    return NULL;
  a += a[1] == '-' ? 2 : 1;
  const char *eq = strchr(a, '=');
  size_t n = eq ? (size_t)(eq - a) : strlen(a);
  if (n >= size)
    n = size - 1;
  memcpy(buf, a, n);
  buf[n] = '\0';
  if (eq != NULL)
    *inline_val = eq + 1;
  return buf;
}

int fl_cmd_proxy(int argc, char **argv) {
  const char *api_addr = NULL, *host = NULL, *port = NULL, *config = NULL;
  fl_api_opts_t opts = {0};
  char addr[300];
  char name_buf[32];
  fl_err_t err;
  proxy_cmd_t c;
  int rc = 0;

  for (int i = 1; i < argc; i++) {
    const char *val;
    const char *name = opt_name(argv[i], name_buf, sizeof(name_buf), &val);
    if (name == NULL)
      return usage_error("unexpected argument \"%s\"", argv[i]);
    if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (strcmp(name, "proxy-metrics") == 0 || strcmp(name, "runtime-metrics") == 0)
      continue;
    int known = strcmp(name, "api") == 0 || strcmp(name, "config") == 0 ||
                strcmp(name, "seed") == 0 || strcmp(name, "host") == 0 ||
                strcmp(name, "port") == 0;
    if (!known)
      return usage_error("unknown option %s", argv[i]);
    if (val == NULL) {
      if (i + 1 >= argc)
        return usage_error("%s needs a value", argv[i]);
      val = argv[++i];
    }
    if (strcmp(name, "api") == 0)
      api_addr = val;
    else if (strcmp(name, "config") == 0)
      config = val;
    else if (strcmp(name, "host") == 0)
      host = val;
    else if (strcmp(name, "port") == 0)
      port = val;
    else if (parse_u64(val, &opts.seed) != 0)
      return usage_error("--seed wants a non-negative integer, not \"%s\"", val);
    else
      opts.seed_given = 1;
  }
  if (api_addr != NULL && (host != NULL || port != NULL))
    return usage_error("%s", "give --api or -host/-port, not both");
  if (api_addr == NULL) {
    /* toxiproxy-server's defaults: localhost, 8474. */
    const char *h = host ? host : "127.0.0.1";
    snprintf(addr, sizeof(addr), strchr(h, ':') && h[0] != '[' ? "[%s]:%s" : "%s:%s", h,
             port ? port : "8474");
    api_addr = addr;
  }

  /* A client that goes away while its answer is written is an error for
   * that write, not a signal that ends the process. */
  signal(SIGPIPE, SIG_IGN);
  memset(&c, 0, sizeof(c));
  uv_loop_init(&c.loop);
  fl_api_new(&c.api, &c.loop, &opts);
  rc = fl_api_listen(c.api, api_addr, NULL, &err);
  if (rc == 0 && config != NULL)
    rc = fl_api_load_config(c.api, config, &err);
  if (rc != 0) {
    fprintf(stderr, "faultline proxy: %s\n", err.msg);
    fl_api_close(c.api, NULL, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    return 2;
  }
  uv_signal_init(&c.loop, &c.sigint);
  uv_signal_init(&c.loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = &c;
  uv_signal_start(&c.sigint, on_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_signal, SIGTERM);
  printf("faultline proxy: API on http://%s (Toxiproxy %s API)\n", fl_api_address(c.api),
         FL_API_TOXIPROXY_VERSION);
  fflush(stdout);

  uv_run(&c.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&c.loop);
  if (rc != 0)
    fprintf(stderr, "faultline proxy: a handle was left open (%s)\n", uv_strerror(rc));
  return 0;
}
