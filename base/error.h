/* Errors: functions return 0 or a negative code. libuv's codes (negative
 * errno) pass through unchanged; faultline's own codes come from the X-macro
 * list below, which also gives fl_strerror. Context (which service, which
 * file:line, which field) is written once, where the error is found, into an
 * optional fl_err_t. */
#ifndef FL_ERROR_H
#define FL_ERROR_H

#include <stddef.h>

/* Own codes sit far below errno's range so they never collide with libuv's. */
#define FL_ERRNO_MAP(X)                                                                  \
  X(EUSAGE, -30001, "bad command-line usage")                                            \
  X(ESCENARIO, -30002, "scenario error")                                                 \
  X(ECONFIG, -30003, "bad configuration")                                                \
  X(ENOTREADY, -30004, "service never became ready")                                     \
  X(EPARSE, -30005, "malformed input")                                                   \
  X(ETIMEOUT, -30006, "time limit reached")                                              \
  X(ECANCELED, -30007, "canceled")                                                       \
  X(ECHECK, -30008, "check failed")                                                      \
  X(EUNKNOWN, -30009, "result unknown within the time budget")                           \
  X(EINTERRUPTED, -30010, "interrupted")                                                 \
  X(ENOSUPPORT, -30011, "not supported here")

enum {
#define FL_ERR_ENUM(name, code, msg) FL_##name = (code),
  FL_ERRNO_MAP(FL_ERR_ENUM)
#undef FL_ERR_ENUM
};

typedef struct fl_err_s {
  int code;
  char msg[1024];
} fl_err_t;

/* Returns borrowed static text for a code, ours or libuv's. */
const char *fl_strerror(int code);
/* Returns the symbolic name ("ECONNREFUSED", "ETIMEOUT"), borrowed. */
const char *fl_errname(int code);

/* Records code and a formatted message into err (which may be NULL) and
 * returns code, so callers can write `return fl_err_set(err, FL_ECONFIG, ...)`. */
int fl_err_set(fl_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fl_err_clear(fl_err_t *err);

#endif
