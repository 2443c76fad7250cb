/* `faultline proxy`: a standalone fault proxy that speaks Toxiproxy 2.x's
 * HTTP API (faults/toxiproxy_api.h; faults/PROXY_API.md for users). One
 * libuv loop; SIGINT or SIGTERM closes every proxy and exits 0.
 *
 * toxiproxy-server's own flags are accepted too (-host, -port, -config,
 * -seed, and -proxy-metrics / -runtime-metrics, which change nothing since
 * /metrics is always on), so scripts that start it can start this. */
#include "harness/cmd_proxy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "faults/toxiproxy_api.h"
#include "harness/cli.h"

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
    "faultline adds GET /metrics, /faultline/udp, /faultline/partition and\n"
    "/faultline/proxies/{proxy}/http_faults (HTTP fault rules; faults/PROXY_API.md).\n";

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

enum { OPT_API = 256, OPT_CONFIG, OPT_SEED, OPT_HOST, OPT_PORT, OPT_METRICS };

/* Parsed with getopt_long_only, so "-api" is "--api" as for Go's flags. */
static const struct option LONGOPTS[] = {
    {"api", required_argument, NULL, OPT_API},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    /* Go's boolean flags may be given "=true"; /metrics is always on. */
    {"proxy-metrics", optional_argument, NULL, OPT_METRICS},
    {"runtime-metrics", optional_argument, NULL, OPT_METRICS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fl_proxy_args_parse(fl_proxy_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  const char *api = NULL, *host = NULL, *port = NULL;
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "h", LONGOPTS, 1);
  int ch;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      return fl_err_set(err, FL_EUSAGE, "unexpected argument \"%s\"", c.arg);
    case OPT_API:
      api = c.arg;
      break;
    case OPT_CONFIG:
      out->config = c.arg;
      break;
    case OPT_HOST:
      host = c.arg;
      break;
    case OPT_PORT:
      port = c.arg;
      break;
    case OPT_SEED:
      if (fl_parse_u64(c.arg, &out->seed) < 0)
        return fl_err_set(err, FL_EUSAGE,
                          "--seed wants a non-negative integer, not \"%s\"", c.arg);
      out->seed_given = 1;
      break;
    case OPT_METRICS:
      break;
    case 'h':
      out->help = 1;
      return 0;
    default:
      return ch;
    }
  }
  if (api != NULL && (host != NULL || port != NULL))
    return fl_err_set(err, FL_EUSAGE, "give --api or -host/-port, not both");
  if (api != NULL) {
    if (strlen(api) >= sizeof(out->api))
      return fl_err_set(err, FL_EUSAGE, "--api: the address is too long");
    snprintf(out->api, sizeof(out->api), "%s", api);
    return 0;
  }
  /* toxiproxy-server's defaults: localhost, 8474. An IPv6 host needs its
   * brackets around it. */
  const char *h = host ? host : "127.0.0.1";
  int n = snprintf(out->api, sizeof(out->api),
                   strchr(h, ':') && h[0] != '[' ? "[%s]:%s" : "%s:%s", h,
                   port ? port : "8474");
  if (n < 0 || (size_t)n >= sizeof(out->api))
    return fl_err_set(err, FL_EUSAGE, "-host/-port: the address is too long");
  return 0;
}

int fl_cmd_proxy(int argc, char **argv) {
  fl_proxy_args_t a;
  fl_err_t err = {0};
  proxy_cmd_t c;
  int rc = 0;
  if (fl_proxy_args_parse(&a, argc, argv, &err) < 0)
    return fl_cli_usage_error("proxy", &err);
  if (a.help) {
    fputs(USAGE, stdout);
    return 0;
  }
  fl_api_opts_t opts = {.seed = a.seed, .seed_given = a.seed_given};

  /* A client that goes away while its answer is written is an error for
   * that write, not a signal that ends the process. */
  signal(SIGPIPE, SIG_IGN);
  memset(&c, 0, sizeof(c));
  uv_loop_init(&c.loop);
  fl_api_new(&c.api, &c.loop, &opts);
  rc = fl_api_listen(c.api, a.api, NULL, &err);
  if (rc == 0 && a.config != NULL)
    rc = fl_api_load_config(c.api, a.config, &err);
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
    fprintf(stderr, "faultline proxy: a handle was left open (%s)\n", fl_strerror(rc));
  return 0;
}
