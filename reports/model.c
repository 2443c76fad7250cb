/* Reading report.json for the writers: accessors that tolerate missing and
 * mistyped fields (a report grows, and one of a run that died is partial),
 * and the small formatting every rendering shares. */
#include "reports/internal.h"
#include "reports/report.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

const char *fl__jstr(const json_t *o, const char *key, const char *def) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : def;
}

double fl__jnum(const json_t *o, const char *key, double def) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v))
    return def;
  double d = json_number_value(v);
  return isfinite(d) ? d : def;
}

int fl__jisnum(const json_t *o, const char *key) {
  return json_is_number(json_object_get(o, key));
}

json_t *fl__jarr(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_array(v) ? v : NULL;
}

json_t *fl__jobj(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_object(v) ? v : NULL;
}

static double maxd(double a, double b) {
  return a > b ? a : b;
}

double fl__report_end(const json_t *report) {
  double end = fl__jnum(report, "duration_s", 0);
  size_t i, j;
  json_t *svc, *st, *f, *c;
  json_array_foreach(fl__jarr(report, "services"), i, svc) {
    json_array_foreach(fl__jarr(svc, "states"), j, st) end =
        maxd(end, fl__jnum(st, "t", 0));
  }
  json_array_foreach(fl__jarr(report, "faults"), i, f) {
    end = maxd(end, fl__jnum(f, "start_s", 0));
    end = maxd(end, fl__jnum(f, "end_s", 0));
  }
  json_array_foreach(fl__jarr(report, "checks"), i, c) end =
      maxd(end, fl__jnum(c, "t", 0));
  return maxd(end, 1e-3);
}

char *fl__rerun_command(const json_t *report) {
  const char *cmd = fl__jstr(report, "command", NULL);
  if (cmd != NULL && cmd[0] != '\0')
    return fl_strdup(cmd);
  fl_buf_t b;
  fl_buf_init(&b, 1 << 16);
  fl_buf_puts(&b, "faultline run ");
  fl_buf_shell_quote(&b, fl__jstr(report, "file", "SCENARIO.lua"));
  json_t *seed = json_object_get(report, "seed");
  if (json_is_integer(seed))
    fl_buf_printf(&b, " --seed %" JSON_INTEGER_FORMAT, json_integer_value(seed));
  const char *name = fl__jstr(report, "scenario", NULL);
  if (name != NULL) {
    fl_buf_puts(&b, " --only ");
    fl_buf_shell_quote(&b, name);
  }
  char *out = fl_strdup(fl_buf_str(&b));
  fl_buf_free(&b);
  return out;
}

char *fl__path_join(const char *dir, const char *rel) {
  if (dir == NULL || dir[0] == '\0' || rel[0] == '/')
    return fl_strdup(rel);
  size_t n = strlen(dir);
  return fl_asprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", rel);
}

/* Returns new: path made absolute (against the working directory) with
 * "." and ".." components and repeated slashes removed. */
static char *normalize(const char *path) {
  char cwd[4096];
  char *full;
  if (path[0] == '/')
    full = fl_strdup(path);
  else if (getcwd(cwd, sizeof(cwd)) != NULL)
    full = fl_asprintf("%s/%s", cwd, path);
  else
    return NULL;
  size_t n = strlen(full);
  char *out = fl_malloc(n + 2);
  size_t len = 0;
  char *save = NULL;
  for (char *part = strtok_r(full, "/", &save); part != NULL;
       part = strtok_r(NULL, "/", &save)) {
    if (strcmp(part, ".") == 0)
      continue;
    if (strcmp(part, "..") == 0) {
      while (len > 0 && out[len - 1] != '/')
        len--;
      if (len > 0)
        len--;
      continue;
    }
    out[len++] = '/';
    size_t k = strlen(part);
    memcpy(out + len, part, k);
    len += k;
  }
  if (len == 0)
    out[len++] = '/';
  out[len] = '\0';
  fl_free(full);
  return out;
}

/* Returns new: to as a path relative to directory from (both normalized). */
static char *relative(const char *from, const char *to) {
  size_t common = 0, i = 0;
  /* The longest common prefix that ends at a component boundary. */
  while (from[i] != '\0' && from[i] == to[i]) {
    i++;
    if (from[i] == '/' || from[i] == '\0')
      common = i;
  }
  if (from[i] != '\0' || (to[i] != '/' && to[i] != '\0'))
    i = common;
  if (strcmp(from, "/") == 0)
    i = 0;
  fl_buf_t b;
  fl_buf_init(&b, 1 << 16);
  for (const char *p = from + i; *p; p++) {
    if (*p == '/')
      fl_buf_puts(&b, "../");
  }
  const char *rest = to + i;
  if (*rest == '/')
    rest++;
  fl_buf_puts(&b, rest);
  char *out = fl_strdup(fl_buf_str(&b));
  fl_buf_free(&b);
  return out;
}

static int exists(const char *dir, const char *rel) {
  char *p = fl__path_join(dir, rel);
  int ok = access(p, F_OK) == 0;
  fl_free(p);
  return ok;
}

char *fl__report_link(const json_t *report, const char *out_path) {
  const char *html = fl__jstr(report, "html", NULL);
  const char *run_dir = fl__jstr(report, "run_dir", NULL);
  if (html == NULL && run_dir == NULL)
    return NULL;
  if (html == NULL)
    html = fl_report_file("html");
  if (html[0] == '/' || run_dir == NULL)
    return fl_strdup(html);
  char *outdir = fl_strdup(out_path);
  char *slash = strrchr(outdir, '/');
  if (slash != NULL)
    *slash = '\0';
  else
    strcpy(outdir, ".");
  if (outdir[0] == '\0')
    strcpy(outdir, "/");
  char *target = fl__path_join(run_dir, html);
  char *from = normalize(outdir);
  char *to = normalize(target);
  char *link = from != NULL && to != NULL ? relative(from, to) : fl_strdup(target);
  if (!exists(outdir, link) && exists(outdir, html)) {
    fl_free(link);
    link = fl_strdup(html);
  }
  fl_free(outdir);
  fl_free(target);
  fl_free(from);
  fl_free(to);
  return link;
}

char *fl__service_log(const json_t *svc, const char *run_dir) {
  const char *log = fl__jstr(svc, "log", NULL);
  if (log != NULL && log[0] != '\0')
    return fl__path_join(run_dir, log);
  const char *name = fl__jstr(svc, "name", "service");
  /* A name is not a path: one with a slash gets no log rather than another file. */
  if (strchr(name, '/') != NULL || strcmp(name, "..") == 0)
    return fl__path_join(run_dir, "logs/.invalid-name");
  char *rel = fl_asprintf("logs/%s.log", name);
  char *path = fl__path_join(run_dir, rel);
  fl_free(rel);
  return path;
}

const char *fl__fmt_bytes(char *out, size_t n, double bytes) {
  if (!isfinite(bytes) || bytes < 0)
    snprintf(out, n, "?");
  else if (bytes < 1024.0 * 1024)
    snprintf(out, n, "%.0f KiB", bytes / 1024);
  else if (bytes < 1024.0 * 1024 * 1024)
    snprintf(out, n, "%.1f MiB", bytes / (1024.0 * 1024));
  else
    snprintf(out, n, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return out;
}

double fl__svc_peak_rss(const json_t *svc) {
  return fl__jnum(svc, "peak_rss_bytes", -1);
}

double fl__svc_cpu_s(const json_t *svc) {
  return fl__jnum(svc, "cpu_s", -1);
}

void fl__svc_resource_text(const json_t *svc, char *rss, char *cpu, size_t n) {
  double r = fl__svc_peak_rss(svc), c = fl__svc_cpu_s(svc);
  if (r >= 0)
    fl__fmt_bytes(rss, n, r);
  else
    snprintf(rss, n, "\xE2\x80\x93"); /* – */
  if (c >= 0)
    snprintf(cpu, n, "%.2f", c);
  else
    snprintf(cpu, n, "\xE2\x80\x93");
}

int fl__report_has_resources(const json_t *report) {
  size_t i;
  json_t *svc;
  json_array_foreach(fl__jarr(report, "services"), i, svc) {
    if (fl__svc_cpu_s(svc) >= 0 || fl__svc_peak_rss(svc) >= 0)
      return 1;
  }
  return 0;
}

const char *fl__fmt_secs(char *out, size_t n, double s) {
  if (!isfinite(s))
    snprintf(out, n, "?");
  else if (fabs(s) < 10)
    snprintf(out, n, "%.2f s", s);
  else if (fabs(s) < 120)
    snprintf(out, n, "%.1f s", s);
  else
    snprintf(out, n, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
  return out;
}

static void targets_rec(fl_buf_t *b, const json_t *targets, int flags, int depth,
                        int *first) {
  size_t i;
  json_t *t;
  json_array_foreach(targets, i, t) {
    if (i >= 32) {
      fl_buf_puts(b, " \xE2\x80\xA6");
      break;
    }
    if (json_is_string(t)) {
      if (!*first)
        fl_buf_puts(b, depth > 1 ? " " : ", ");
      fl_buf_esc(b, json_string_value(t), 80, flags);
      *first = 0;
    } else if (json_is_array(t) && depth < 2) {
      if (!*first)
        fl_buf_puts(b, " | ");
      *first = 1;
      targets_rec(b, t, flags, depth + 1, first);
      *first = 0;
    }
  }
}

void fl__targets_esc(fl_buf_t *b, const json_t *targets, int flags) {
  int first = 1;
  if (json_is_string(targets))
    fl_buf_esc(b, json_string_value(targets), 80, flags);
  else if (json_is_array(targets))
    targets_rec(b, targets, flags, 1, &first);
}

int fl__targets_has(const json_t *targets, const char *name) {
  if (json_is_string(targets))
    return strcmp(json_string_value(targets), name) == 0;
  size_t i;
  json_t *t;
  json_array_foreach(targets, i, t) {
    if (json_is_string(t) && strcmp(json_string_value(t), name) == 0)
      return 1;
    if (json_is_array(t) && fl__targets_has(t, name))
      return 1;
  }
  return 0;
}

/* A partition's sides: attrs.groups, or the targets when they are arrays
 * (borrowed), or NULL; for a one-way cut, NULL with *from and *to set. */
static json_t *fault_sides(const json_t *f, json_t **from, json_t **to) {
  json_t *attrs = fl__jobj(f, "attrs");
  *from = *to = NULL;
  json_t *groups = fl__jarr(attrs, "groups");
  if (json_is_array(json_array_get(groups, 0)))
    return groups;
  if (fl__jarr(attrs, "from") != NULL && fl__jarr(attrs, "to") != NULL) {
    *from = fl__jarr(attrs, "from");
    *to = fl__jarr(attrs, "to");
    return NULL;
  }
  json_t *targets = fl__jarr(f, "targets");
  if (json_is_array(json_array_get(targets, 0)))
    return targets;
  return NULL;
}

void fl__fault_targets_esc(fl_buf_t *b, const json_t *f, int flags) {
  json_t *from, *to;
  json_t *sides = fault_sides(f, &from, &to);
  if (from != NULL) {
    fl__targets_esc(b, from, flags);
    fl_buf_puts(b, " \xE2\x86\x9B "); /* ↛ */
    fl__targets_esc(b, to, flags);
  } else {
    fl__targets_esc(b, sides != NULL ? sides : json_object_get(f, "targets"), flags);
  }
}

int fl__fault_focus(const json_t *f, const char *name) {
  json_t *from, *to;
  json_t *sides = fault_sides(f, &from, &to);
  if (from != NULL)
    sides = json_pack("[O,O]", from, to);
  else if (sides != NULL)
    json_incref(sides);
  if (sides == NULL)
    return fl__targets_has(json_object_get(f, "targets"), name);
  json_t *focus = NULL;
  size_t i;
  json_t *side;
  json_array_foreach(sides, i, side) {
    if (json_is_array(side) &&
        (focus == NULL || json_array_size(side) < json_array_size(focus)))
      focus = side;
  }
  int in = focus != NULL && fl__targets_has(focus, name);
  json_decref(sides);
  return in;
}

/* Appends a JSON value compactly (strings without quotes), escaped, cut. */
static void value_esc(fl_buf_t *b, const json_t *v) {
  if (json_is_string(v)) {
    fl_buf_esc(b, json_string_value(v), 60, FL_ESC_ONELINE);
    return;
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s != NULL)
    fl_buf_esc(b, s, 60, FL_ESC_ONELINE);
  free(s);
}

void fl__op_label_esc(fl_buf_t *b, const json_t *op) {
  const char *f = fl__jstr(op, "f", "op");
  const char *type = fl__jstr(op, "type", "ok");
  json_t *key = json_object_get(op, "key");
  json_t *value = json_object_get(op, "value");
  fl_buf_esc(b, f, 40, FL_ESC_ONELINE);
  if (key != NULL && !json_is_null(key)) {
    fl_buf_puts(b, " ");
    value_esc(b, key);
  }
  int is_read = strcmp(f, "read") == 0 || strcmp(f, "get") == 0;
  if (is_read) {
    if (strcmp(type, "ok") == 0) {
      fl_buf_puts(b, " \xE2\x86\x92 "); /* → */
      if (value == NULL || json_is_null(value))
        fl_buf_puts(b, "nil");
      else
        value_esc(b, value);
    }
  } else if (strcmp(f, "cas") == 0 && json_is_array(value) &&
             json_array_size(value) == 2) {
    fl_buf_puts(b, " ");
    value_esc(b, json_array_get(value, 0));
    fl_buf_puts(b, "\xE2\x86\x92"); /* → */
    value_esc(b, json_array_get(value, 1));
  } else if (value != NULL && !json_is_null(value)) {
    fl_buf_puts(b, " ");
    value_esc(b, value);
  }
}
