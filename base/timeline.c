#include "base/timeline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"

struct fl_timeline_s {
  uint64_t origin;
  json_t *events; /* array of event objects */
  json_t *faults; /* array of fault objects, indexed by id - 1 */
  FILE *file;     /* JSONL write-through, may be NULL */
  char *path;     /* of file, for messages */
  int write_err;  /* the first failed write (negative errno); sticky */
  char *err_path; /* the file it failed on, when not ours */
  fl_timeline_cb cb;
  void *cb_arg;
};

int fl_timeline_new(fl_timeline_t **out, const char *path, fl_err_t *err) {
  FILE *f = NULL;
  if (path != NULL) {
    f = fopen(path, "we"); /* close-on-exec: no service inherits it */
    if (f == NULL)
      return fl_err_set(err, -errno, "%s: %s", path, strerror(errno));
  }
  fl_timeline_t *tl = fl_calloc(1, sizeof(*tl));
  tl->origin = uv_hrtime();
  tl->events = json_array();
  tl->faults = json_array();
  tl->file = f;
  tl->path = path != NULL ? fl_strdup(path) : NULL;
  *out = tl;
  return 0;
}

void fl_timeline_free(fl_timeline_t *tl) {
  if (tl == NULL)
    return;
  if (tl->file != NULL)
    fclose(tl->file);
  fl_free(tl->path);
  fl_free(tl->err_path);
  json_decref(tl->events);
  json_decref(tl->faults);
  fl_free(tl);
}

void fl_timeline_note_write_error(fl_timeline_t *tl, const char *path, int code) {
  if (tl == NULL || code >= 0 || tl->write_err != 0)
    return;
  tl->write_err = code;
  fl_free(tl->err_path);
  tl->err_path = fl_strdup(path != NULL ? path : "?");
}

int fl_timeline_write_error(const fl_timeline_t *tl, fl_err_t *err) {
  if (tl == NULL || tl->write_err == 0)
    return 0;
  return fl_err_set(err, tl->write_err, "cannot write %s: %s",
                    tl->err_path ? tl->err_path : tl->path, strerror(-tl->write_err));
}

void fl_timeline_set_listener(fl_timeline_t *tl, fl_timeline_cb cb, void *arg) {
  tl->cb = cb;
  tl->cb_arg = arg;
}

uint64_t fl_timeline_now(const fl_timeline_t *tl) {
  return uv_hrtime() - tl->origin;
}

double fl_timeline_seconds(const fl_timeline_t *tl) {
  return (double)fl_timeline_now(tl) / 1e9;
}

uint64_t fl_timeline_origin(const fl_timeline_t *tl) {
  return tl->origin;
}

/* Seconds rounded to the microsecond, so reports stay readable. */
static json_t *seconds(uint64_t ns) {
  return json_real((double)(ns / 1000) / 1e6);
}

void fl_timeline_event(fl_timeline_t *tl, const char *type, json_t *fields) {
  json_t *ev = fields != NULL ? fields : json_object();
  json_object_set_new(ev, "t", seconds(fl_timeline_now(tl)));
  json_object_set_new(ev, "type", json_string(type));
  json_array_append(tl->events, ev);
  if (tl->file != NULL) {
    /* A line per event, flushed: the run may be killed at any moment. These
     * are a few hundred bytes at a rate of a few per second, to the page
     * cache, so the write does not stall the loop in practice. */
    char *line = json_dumps(ev, JSON_COMPACT);
    if (line != NULL) {
      errno = 0;
      if ((fprintf(tl->file, "%s\n", line) < 0 || fflush(tl->file) != 0) &&
          tl->write_err == 0)
        tl->write_err = errno ? -errno : -EIO;
      free(line);
    }
  }
  if (tl->cb != NULL)
    tl->cb(ev, tl->cb_arg);
  json_decref(ev);
}

void fl_timeline_service(fl_timeline_t *tl, const char *name, const char *state, int pid,
                         const char *detail) {
  json_t *ev = json_pack("{s:s, s:s}", "service", name, "state", state);
  if (pid > 0)
    json_object_set_new(ev, "pid", json_integer(pid));
  if (detail != NULL)
    json_object_set_new(ev, "detail", json_string(detail));
  fl_timeline_event(tl, "service", ev);
}

/* Whether name is among targets (strings, or lists of them: a partition's
 * sides). */
static int has_name(const json_t *targets, const json_t *name) {
  size_t i;
  json_t *x;
  json_array_foreach(targets, i, x) {
    if (json_is_array(x) ? has_name(x, name) : json_equal(x, name))
      return 1;
  }
  return 0;
}

/* Whether the names of targets a and b meet. */
static int targets_meet(const json_t *a, const json_t *b) {
  size_t i;
  json_t *x;
  json_array_foreach(a, i, x) {
    if (json_is_array(x) ? targets_meet(x, b) : has_name(b, x))
      return 1;
  }
  return 0;
}

/* The id of the open group fault (attrs.group true, e.g. fl.fault{kind =
 * "failover"}) that a fault on targets belongs to: the latest one aimed at
 * any of them, or at nothing in particular. 0 when none. */
static json_int_t group_of(const fl_timeline_t *tl, const json_t *targets) {
  json_int_t id = 0;
  size_t i;
  json_t *f;
  json_array_foreach(tl->faults, i, f) {
    json_t *gt = json_object_get(f, "targets");
    if (json_is_true(json_object_get(json_object_get(f, "attrs"), "group")) &&
        json_is_null(json_object_get(f, "end_s")) &&
        (json_array_size(gt) == 0 || targets_meet(targets, gt)))
      id = json_integer_value(json_object_get(f, "id"));
  }
  return id;
}

int fl_timeline_fault_begin(fl_timeline_t *tl, const char *kind, json_t *targets,
                            json_t *attrs) {
  int id = (int)json_array_size(tl->faults) + 1;
  if (targets == NULL)
    targets = json_array();
  if (attrs == NULL)
    attrs = json_object();
  /* A fault that begins inside a group is one of its parts: the checks
   * measure the group, the timeline draws it as the group's. */
  json_int_t group =
      json_is_true(json_object_get(attrs, "group")) ? 0 : group_of(tl, targets);
  if (group > 0)
    json_object_set_new(attrs, "part_of", json_integer(group));
  json_t *fault = json_pack("{s:i, s:s, s:o, s:o, s:o, s:n}", "id", id, "kind", kind,
                            "targets", targets, "attrs", attrs, "start_s",
                            seconds(fl_timeline_now(tl)), "end_s");
  json_array_append(tl->faults, fault);
  json_t *ev = json_deep_copy(fault);
  json_object_del(ev, "end_s");
  json_object_del(ev, "start_s");
  json_object_set_new(ev, "phase", json_string("start"));
  fl_timeline_event(tl, "fault", ev);
  json_decref(fault);
  return id;
}

void fl_timeline_fault_end(fl_timeline_t *tl, int id) {
  json_t *fault = json_array_get(tl->faults, (size_t)(id - 1));
  if (fault == NULL || !json_is_null(json_object_get(fault, "end_s")))
    return;
  json_object_set_new(fault, "end_s", seconds(fl_timeline_now(tl)));
  json_t *ev = json_pack("{s:i, s:O, s:O, s:O, s:s}", "id", id, "kind",
                         json_object_get(fault, "kind"), "targets",
                         json_object_get(fault, "targets"), "attrs",
                         json_object_get(fault, "attrs"), "phase", "end");
  fl_timeline_event(tl, "fault", ev);
}

void fl_timeline_fault_end_all(fl_timeline_t *tl, const char *kind) {
  size_t i;
  json_t *fault;
  json_array_foreach(tl->faults, i, fault) {
    if (kind != NULL && strcmp(json_string_value(json_object_get(fault, "kind")), kind))
      continue;
    fl_timeline_fault_end(tl, (int)json_integer_value(json_object_get(fault, "id")));
  }
}

json_t *fl_timeline_events(const fl_timeline_t *tl) {
  return tl->events;
}

json_t *fl_timeline_faults(const fl_timeline_t *tl) {
  return tl->faults;
}
