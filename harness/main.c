/* faultline: the command line. Placeholder until the CLI lands. */
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "faultline: not built yet\n");
  return 2;
}
