/* libFuzzer target: the history reader and the checkers behind
 * `faultline check`, on arbitrary bytes. A parse error is fine; a crash, a
 * leak or undefined behaviour is not. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "check/check.h"
#include "check/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t *ops = NULL;
  fl_err_t err = {0};
  if (fl_history_parse(&ops, (const char *)data, size, "fuzz", &err) != 0)
    return 0;
  static const char *const models[] = {"register", "cas-register", "kv", "set",
                                       "counter"};
  fl_check_opts_t o = {.timeout_s = 0.05, .max_memory = 16u << 20};
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
    json_t *out = NULL;
    if (fl_check_ops(ops, models[i], &o, &out, &err) == 0)
      json_decref(out);
  }
  fl_ops_free(ops);
  return 0;
}
