#include "harness/remote.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "faults/subproc.h"
#include "harness/agent.h"

typedef struct {
  int pending;
  fl_buf_t failures; /* one line per host that failed */
} batch_t;

typedef struct {
  batch_t *batch;
  const fl_host_t *host;
} one_t;

/* The last non-empty line of s, into out. */
static void last_line(const char *s, size_t len, char *out, size_t size) {
  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  size_t start = len;
  while (start > 0 && s[start - 1] != '\n')
    start--;
  size_t n = len - start < size - 1 ? len - start : size - 1;
  memcpy(out, s + start, n);
  out[n] = '\0';
}

static void on_done(const fl_subproc_result_t *r, void *arg) {
  one_t *one = arg;
  batch_t *b = one->batch;
  if (r->status != 0) {
    char why[512];
    last_line(r->err, r->err_len, why, sizeof(why));
    if (r->status < 0)
      snprintf(why, sizeof(why), "cannot start ssh: %s", fl_strerror(r->status));
    else if (r->timed_out)
      snprintf(why, sizeof(why), "no answer in time");
    else if (why[0] == '\0')
      snprintf(why, sizeof(why), "ssh exited with status %d", r->status);
    fl_buf_printf(&b->failures, "%shost \"%s\" (%s): %s",
                  fl_buf_str(&b->failures)[0] ? "\n" : "", one->host->name,
                  one->host->address, why);
  }
  b->pending--;
  fl_free(one);
}

/* Starts one ssh per host (argv from make), then runs the loop until all
 * ended. Returns the batch's failures (new, "" when none). */
static char *run_all(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir,
                     int timeout_ms,
                     char **(*make)(const fl_host_t *h, const char *cp, void *arg),
                     void *arg) {
  batch_t b = {0};
  fl_buf_init(&b.failures, 64 * 1024);
  for (size_t i = 0; i < hosts->n; i++) {
    char *cp = fl_ssh_control_path(i);
    char **ssh = make(&hosts->v[i], cp, arg);
    size_t n = 0;
    while (ssh[n] != NULL)
      n++;
    /* env -C: ssh starts in the run directory, where the relative control
     * path resolves. */
    const char **argv = fl_calloc(n + 4, sizeof(char *));
    argv[0] = "env";
    argv[1] = "-C";
    argv[2] = run_dir;
    memcpy(argv + 3, ssh, n * sizeof(char *));
    one_t *one = fl_calloc(1, sizeof(*one));
    one->batch = &b;
    one->host = &hosts->v[i];
    b.pending++;
    fl_subproc_run(loop, argv, NULL, NULL, timeout_ms, on_done, one, NULL);
    fl_free(argv);
    fl_ssh_argv_free(ssh);
    fl_free(cp);
  }
  while (b.pending > 0)
    uv_run(loop, UV_RUN_ONCE);
  char *out = fl_strdup(fl_buf_str(&b.failures));
  fl_buf_free(&b.failures);
  return out;
}

static char **make_connect(const fl_host_t *h, const char *cp, void *arg) {
  static const char *const cmd[] = {"true", NULL};
  int connect_s = *(int *)arg;
  /* The master outlives an idle run by at most this long if faultline is
   * killed before it closes it. */
  return fl_ssh_argv(h, cp, connect_s, 30, cmd);
}

static char **make_exit(const fl_host_t *h, const char *cp, void *arg) {
  return fl_ssh_exit_argv(h, cp);
}

int fl_remote_connect(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir,
                      int connect_s, fl_err_t *err) {
  char *dir = fl_asprintf("%s/ssh", run_dir);
  int made = mkdir(dir, 0700);
  fl_free(dir);
  if (made != 0 && errno != EEXIST)
    return fl_err_set(err, FL_ECONFIG, "cannot create %s/ssh: %s", run_dir,
                      strerror(errno));
  char *failures =
      run_all(loop, hosts, run_dir, (connect_s + 5) * 1000, make_connect, &connect_s);
  int rc = 0;
  if (failures[0] != '\0') {
    rc = fl_err_set(err, FL_ECONFIG, "cannot reach every host:\n%s", failures);
    fl_remote_disconnect(loop, hosts, run_dir);
  }
  fl_free(failures);
  return rc;
}

void fl_remote_disconnect(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir) {
  /* A host without a master (it never connected) fails here: that is fine. */
  char *failures = run_all(loop, hosts, run_dir, 10000, make_exit, NULL);
  fl_free(failures);
}

typedef struct {
  const fl_host_t *host;
  int *pending, *code;
} sweep_t;

static void on_swept(const fl_subproc_result_t *r, void *arg) {
  sweep_t *sw = arg;
  const char *p = r->out;
  while (p != NULL && *p != '\0') {
    const char *nl = strchr(p, '\n');
    int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
    printf("%s: %.*s\n", sw->host->name, n, p);
    p = nl != NULL ? nl + 1 : NULL;
  }
  if (r->status != 0) {
    char why[512];
    last_line(r->err, r->err_len, why, sizeof(why));
    fprintf(stderr, "faultline cleanup: host \"%s\" (%s): %s\n", sw->host->name,
            sw->host->address, why[0] ? why : "the cleanup failed");
    *sw->code = 2;
  }
  (*sw->pending)--;
  fl_free(sw);
}

int fl_remote_cleanup(const fl_hosts_t *hosts, int dry) {
  char dir[] = "/tmp/fl-cleanup-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "faultline cleanup: cannot make a scratch directory: %s\n",
            strerror(errno));
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_err_t err = {0};
  int code = 0;
  if (fl_remote_connect(&loop, hosts, dir, 5, &err) < 0) {
    fprintf(stderr, "faultline cleanup: %s\n", err.msg);
    code = 2;
  } else {
    /* Whichever build a run copied there; none: no run ever started an
     * agent on this host, so nothing of one is left. */
    char *sh = fl_asprintf(
        "found=; for b in %s/bin/faultline-*; do [ -x \"$b\" ] || continue; found=1; "
        "\"$b\" agent --cleanup%s; break; done; "
        "[ -n \"$found\" ] || echo no faultline agent ever ran here",
        FL_AGENT_STATE, dry ? " --dry-run" : "");
    int pending = 0;
    for (size_t i = 0; i < hosts->n; i++) {
      char *cp = fl_ssh_control_path(i);
      char *full =
          hosts->v[i].sudo ? fl_asprintf("sudo -n sh -c '%s'", sh) : fl_strdup(sh);
      const char *cmd[] = {full, NULL};
      char **ssh = fl_ssh_argv(&hosts->v[i], cp, 5, 30, cmd);
      size_t n = 0;
      while (ssh[n] != NULL)
        n++;
      const char **argv = fl_calloc(n + 4, sizeof(char *));
      argv[0] = "env";
      argv[1] = "-C";
      argv[2] = dir;
      memcpy(argv + 3, ssh, n * sizeof(char *));
      sweep_t *sw = fl_calloc(1, sizeof(*sw));
      sw->host = &hosts->v[i];
      sw->pending = &pending;
      sw->code = &code;
      pending++;
      fl_subproc_run(&loop, argv, NULL, NULL, 60000, on_swept, sw, NULL);
      fl_free(argv);
      fl_ssh_argv_free(ssh);
      fl_free(full);
      fl_free(cp);
    }
    while (pending > 0)
      uv_run(&loop, UV_RUN_ONCE);
    fl_free(sh);
    fl_remote_disconnect(&loop, hosts, dir);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  char *ssh_dir = fl_asprintf("%s/ssh", dir);
  rmdir(ssh_dir);
  fl_free(ssh_dir);
  rmdir(dir);
  return code;
}
