/* Skipping a unit test, with the rule of tests/integration/lib/skip.sh:
 *
 *   FL_SKIP("libfaketime not installed")   cmocka's skip() with the reason
 *       printed; in CI (CI=true, as root, after tools/deps.sh test) nothing
 *       a test needs may be missing, so there it fails with the reason.
 *   FL_SKIP_KERNEL("netem")                the kernel lacks the feature: a
 *       skip everywhere, CI included, naming the feature.
 *
 * Include it after <cmocka.h>. Header-only. */
#ifndef FL_TEST_SKIP_H
#define FL_TEST_SKIP_H

#include <stdlib.h>
#include <string.h>

static inline int fl_test_in_ci(void) {
  const char *ci = getenv("CI");
  return ci != NULL && strcmp(ci, "true") == 0;
}

#define FL_SKIP(reason)                                                                  \
  do {                                                                                   \
    if (fl_test_in_ci())                                                                 \
      fail_msg("skipped in CI (CI=true): %s (tools/deps.sh test installs what tests "    \
               "need)",                                                                  \
               (reason));                                                                \
    print_message("SKIP: %s\n", (reason));                                               \
    skip();                                                                              \
  } while (0)

#define FL_SKIP_KERNEL(feature)                                                          \
  do {                                                                                   \
    print_message("SKIP: the kernel offers no %s\n", (feature));                         \
    skip();                                                                              \
  } while (0)

#endif
