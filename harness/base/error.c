#include "harness/base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

const char *fl_strerror(int code) {
  switch (code) {
#define FL_ERR_CASE(name, c, msg)                                                        \
  case c:                                                                                \
    return msg;
    FL_ERRNO_MAP(FL_ERR_CASE)
#undef FL_ERR_CASE
  case 0:
    return "success";
  default:
    return uv_strerror(code);
  }
}

const char *fl_errname(int code) {
  switch (code) {
#define FL_ERR_NAME(name, c, msg)                                                        \
  case c:                                                                                \
    return #name;
    FL_ERRNO_MAP(FL_ERR_NAME)
#undef FL_ERR_NAME
  case 0:
    return "OK";
  default:
    return uv_err_name(code);
  }
}

int fl_err_set(fl_err_t *err, int code, const char *fmt, ...) {
  if (err == NULL)
    return code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return code;
}

void fl_err_clear(fl_err_t *err) {
  if (err == NULL)
    return;
  err->code = 0;
  err->msg[0] = '\0';
}
