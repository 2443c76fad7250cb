#include "harness/schedule.h"

#include <math.h>

#include "base/alloc.h"

void fl_schedule_add_to_report(json_t *report, const char *dir, double duration_s) {
  char *path = fl_asprintf("%s/schedule.json", dir);
  json_t *j = json_load_file(path, 0, NULL);
  fl_free(path);
  json_t *list = json_object_get(j, "schedule");
  if (!json_is_array(list)) {
    json_decref(j);
    return;
  }
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!json_is_number(json_object_get(e, "end_s")))
      json_object_set_new(e, "end_s", json_real(round(duration_s * 1000) / 1000));
  }
  json_object_set(report, "schedule", list);
  json_decref(j);
}
