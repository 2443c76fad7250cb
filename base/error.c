#include "base/error.h"

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
    /* libuv's own table, static text: uv_strerror allocates (and never
     * frees) a message for any code it does not know. */
#define FL_UV_CASE(name, msg)                                                            \
  case UV_##name:                                                                        \
    return msg;
    UV_ERRNO_MAP(FL_UV_CASE)
#undef FL_UV_CASE
  default:
    return code < 0 ? strerror(-code) : "unknown error";
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
    /* As in fl_strerror: uv_err_name leaks for unknown codes. */
#define FL_UV_NAME(name, msg)                                                            \
  case UV_##name:                                                                        \
    return #name;
    UV_ERRNO_MAP(FL_UV_NAME)
#undef FL_UV_NAME
  default:
    return "UNKNOWN";
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
