#include "harness/schedule.h"

#include <math.h>

#include "base/alloc.h"

static double jnum(const json_t *o, const char *key) {
  json_t *x = json_object_get(o, key);
  return json_is_number(x) ? json_number_value(x) : 0;
}

void fl_schedule_add_to_report(json_t *report, const char *dir, double duration_s) {
  char *path = fl_asprintf("%s/schedule.json", dir);
  json_t *j = json_load_file(path, 0, NULL);
  fl_free(path);
  json_t *list = json_object_get(j, "schedule");
  if (json_is_object(list) && json_object_size(list) == 0) {
    /* a nemesis that drew nothing: Lua's empty table came out as {} */
    json_object_set_new(report, "schedule", json_array());
    json_decref(j);
    return;
  }
  if (!json_is_array(list)) {
    json_decref(j);
    return;
  }
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!json_is_number(json_object_get(e, "end_s"))) {
      /* still held when the run ended */
      double end = round(duration_s * 1000) / 1000;
      json_object_set_new(e, "end_s", json_real(end));
      json_object_set_new(e, "held_s",
                          json_real(round((end - jnum(e, "start_s")) * 1000) / 1000));
    }
  }
  json_object_set(report, "schedule", list);
  json_decref(j);
}
