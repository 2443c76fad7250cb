/* flproxy: one faultline TCP proxy on its own, for benchmarks.
 *
 *   flproxy LISTEN UPSTREAM [--toxic JSON]... [--no-splice] [--seed N]
 *
 * Prints "listening ADDRESS" once bound, then runs until SIGTERM or SIGINT.
 * bench/proxy_bench.sh builds it against build/libfl_faults.a (the helpers
 * rule of the build links fl_base only). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "faults/proxy.h"

static fl_proxy_t *proxy;
static uv_signal_t sig_term, sig_int;

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  if (proxy != NULL)
    fl_proxy_close(proxy, NULL, NULL);
  proxy = NULL;
  uv_close((uv_handle_t *)&sig_term, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
}

int main(int argc, char **argv) {
  fl_err_t err;
  uv_loop_t *loop = uv_default_loop();
  if (argc < 3) {
    fprintf(stderr, "usage: flproxy LISTEN UPSTREAM [--toxic JSON]... [--no-splice] "
                    "[--seed N]\n");
    return 2;
  }
  if (fl_proxy_new(&proxy, loop, "flproxy", argv[1], argv[2], &err) != 0) {
    fprintf(stderr, "flproxy: %s\n", err.msg);
    return 2;
  }
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--no-splice") == 0) {
      fl_proxy_set_splice(proxy, 0);
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      fl_proxy_set_seed(proxy, strtoull(argv[++i], NULL, 10));
    } else if (strcmp(argv[i], "--toxic") == 0 && i + 1 < argc) {
      json_error_t jerr;
      json_t *spec = json_loads(argv[++i], 0, &jerr);
      if (spec == NULL) {
        fprintf(stderr, "flproxy: --toxic: %s\n", jerr.text);
        return 2;
      }
      int rc = fl_proxy_add_toxic(proxy, spec, &err);
      json_decref(spec);
      if (rc != 0) {
        fprintf(stderr, "flproxy: %s\n", err.msg);
        return 2;
      }
    } else {
      fprintf(stderr, "flproxy: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  printf("listening %s\n", fl_proxy_listen(proxy));
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
