/* `faultline proxy`: a standalone fault proxy speaking Toxiproxy's HTTP API. */
#ifndef FL_CMD_PROXY_H
#define FL_CMD_PROXY_H

#include <stdint.h>

#include "base/error.h"

typedef struct fl_proxy_args_s {
  char api[300];      /* HOST:PORT the API listens on (default 127.0.0.1:8474) */
  const char *config; /* a Toxiproxy config file (borrowed), or NULL */
  uint64_t seed;
  int seed_given;
  int help;
} fl_proxy_args_t;

/* Parses proxy's arguments (argv[0] is "proxy"), faultline's and
 * toxiproxy-server's (-host, -port, -config, -seed; -proxy-metrics and
 * -runtime-metrics change nothing), into *out with no side effect. Returns
 * 0, or FL_EUSAGE with one message in err. */
int fl_proxy_args_parse(fl_proxy_args_t *out, int argc, char **argv, fl_err_t *err);

/* argv[0] is "proxy". Returns the exit code. */
int fl_cmd_proxy(int argc, char **argv);

#endif
