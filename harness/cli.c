#include "harness/cli.h"

#include <stdio.h>
#include <string.h>

void fl_cli_init(fl_cli_t *c, int argc, char **argv, const char *shortopts,
                 const struct option *longopts, int long_only) {
  memset(c, 0, sizeof(*c));
  c->argc = argc;
  c->argv = argv;
  c->longopts = longopts;
  c->long_only = long_only;
  /* '-': arguments come back in order (argv is not permuted, and an option
   * after a file name still counts); ':': a missing value is told apart
   * from an unknown option. */
  snprintf(c->shortopts, sizeof(c->shortopts), "-:%s", shortopts ? shortopts : "");
  /* 0, not 1: glibc then forgets everything of an earlier parse. */
  optind = 0;
  opterr = 0;
}

/* The option as the user typed it, without "=value". */
static void typed(const char *a, char *buf, size_t size) {
  size_t n = strcspn(a, "=");
  if (n >= size)
    n = size - 1;
  memcpy(buf, a, n);
  buf[n] = '\0';
}

/* Whether argv[optind - 1] was typed as a short option ("-x", "-qx"). */
static int typed_short(const fl_cli_t *c) {
  const char *a = c->argv[optind - 1];
  return !c->long_only && a[0] == '-' && a[1] != '-';
}

/* Why getopt refused an option: an unknown short option, a long option
 * given a value it does not take, an unknown long option, or an ambiguous
 * prefix of several. */
static int refused(const fl_cli_t *c, fl_err_t *err) {
  char opt[64];
  int is_short_char = optopt > 0 && optopt < 256 && optopt != ':' && optopt != '-';
  if (is_short_char && strchr(c->shortopts, optopt) == NULL)
    return fl_err_set(err, FL_EUSAGE, "unknown option -%c", optopt);
  typed(c->argv[optind - 1], opt, sizeof(opt));
  if (optopt != 0) /* a known option, so it was --name=value */
    return fl_err_set(err, FL_EUSAGE, "%s takes no value", opt);
  const char *name = opt + strspn(opt, "-");
  size_t len = strlen(name);
  char matches[256] = "";
  int n = 0;
  for (const struct option *o = c->longopts; o && o->name; o++) {
    if (len == 0 || strncmp(o->name, name, len) != 0)
      continue;
    size_t used = strlen(matches);
    snprintf(matches + used, sizeof(matches) - used, "%s--%s", n ? ", " : "", o->name);
    n++;
  }
  if (n > 1)
    return fl_err_set(err, FL_EUSAGE, "%s is ambiguous: %s", opt, matches);
  return fl_err_set(err, FL_EUSAGE, "unknown option %s", opt);
}

int fl_cli_next(fl_cli_t *c, fl_err_t *err) {
  c->arg = NULL;
  if (c->rest > 0) {
    if (c->rest >= c->argc)
      return FL_CLI_END;
    c->arg = c->argv[c->rest++];
    return c->arg[0] ? FL_CLI_ARG
                     : fl_err_set(err, FL_EUSAGE, "an empty argument (\"\")");
  }
  /* getopt_long's prototype takes char *const argv[] but promises not to
   * permute it with a leading '-' in shortopts. */
  int idx = -1;
  int ch = c->long_only
               ? getopt_long_only(c->argc, c->argv, c->shortopts, c->longopts, &idx)
               : getopt_long(c->argc, c->argv, c->shortopts, c->longopts, &idx);
  switch (ch) {
  case -1:
    /* "--" ends the options; what follows is plain arguments. */
    c->rest = optind > 0 ? optind : 1;
    return fl_cli_next(c, err);
  case 1:
    /* An empty path or name is never meant: "" would become "/" or "." */
    if (optarg[0] == '\0')
      return fl_err_set(err, FL_EUSAGE, "an empty argument (\"\")");
    c->arg = optarg;
    return FL_CLI_ARG;
  case ':': {
    if (typed_short(c))
      return fl_err_set(err, FL_EUSAGE, "-%c needs a value", optopt);
    char opt[64];
    typed(c->argv[optind - 1], opt, sizeof(opt));
    return fl_err_set(err, FL_EUSAGE, "%s needs a value", opt);
  }
  case '?':
    return refused(c, err);
  default:
    if (optarg != NULL && optarg[0] == '\0') {
      if (idx >= 0)
        return fl_err_set(err, FL_EUSAGE, "--%s needs a value, not an empty one",
                          c->longopts[idx].name);
      return fl_err_set(err, FL_EUSAGE, "-%c needs a value, not an empty one", ch);
    }
    c->arg = optarg;
    return ch;
  }
}

int fl_cli_usage_error(const char *cmd, const fl_err_t *err) {
  fprintf(stderr, "faultline %s: %s\n(see `faultline %s --help`)\n", cmd, err->msg, cmd);
  return 2;
}
