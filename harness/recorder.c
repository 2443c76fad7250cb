/* The recorder: every client operation of a scenario, stamped on the run's
 * monotonic clock, into history.jsonl (check/history.h's writer), and the
 * op counts and latencies report.json's stats are built from. The Lua side
 * reaches it through harness/lua_history.c; nothing else writes the
 * history. */
#include "base/alloc.h"
#include "check/history.h"
#include "harness/engine_int.h"

uint64_t fl_scenario_record_invoke(fl_scenario_t *sc, int process, const char *f,
                                   const char *key, const json_t *value) {
  uint64_t now = fl_timeline_now(sc->tl);
  fl_history_invoke(sc->history, process, f, key, value, now);
  sc->ops_invoked++;
  return now;
}

static void add_latency(fl_scenario_t *sc, double ms) {
  if (sc->nlat == sc->caplat) {
    sc->caplat = sc->caplat ? sc->caplat * 2 : 1024;
    sc->latencies = fl_realloc(sc->latencies, sc->caplat * sizeof(double));
  }
  sc->latencies[sc->nlat++] = ms;
}

uint64_t fl_scenario_record_complete(fl_scenario_t *sc, int process, const char *type,
                                     const char *f, const char *key, const json_t *value,
                                     const char *error, uint64_t invoked_ns) {
  uint64_t now = fl_timeline_now(sc->tl);
  fl_history_complete(sc->history, process, type, f, key, value, now, error);
  json_t *count = json_object_get(sc->stats_ops, type);
  if (count != NULL)
    json_integer_set(count, json_integer_value(count) + 1);
  if (invoked_ns != (uint64_t)-1 && invoked_ns <= now && type[0] == 'o')
    add_latency(sc, (double)(now - invoked_ns) / 1e6);
  return now;
}

int fl_scenario_next_process(fl_scenario_t *sc) {
  return sc->next_process++;
}
