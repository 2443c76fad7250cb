/* Placeholder until the Toxiproxy-compatible API server lands (issue 8). */
#include <stdio.h>

#include "harness/cmd_proxy.h"

int fl_cmd_proxy(int argc, char **argv) {
  fprintf(stderr, "faultline proxy: not available in this build yet\n");
  return 2;
}
