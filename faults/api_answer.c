/* Answers in Toxiproxy's formats: JSON, apiError (as Go's http.Error sends
 * it) and empty. Part of the toolbox every api_*.c file may call
 * (api_int.h); it calls only api_json.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "faults/api_int.h"

void api_json(fl_api_res_t *res, int status, json_t *v) {
  fl_free(res->body);
  res->status = status;
  res->content_type = "application/json";
  res->body = api_dump(v, &res->body_len);
  json_decref(v);
}

void api_error(fl_api_res_t *res, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_t *v = json_pack("{s:s, s:i}", "error", msg, "status", status);
  if (v == NULL) /* msg was not UTF-8 */
    v = json_pack("{s:s, s:i}", "error", "error", "status", status);
  size_t n;
  char *s = api_dump(v, &n);
  json_decref(v);
  fl_free(res->body);
  res->body = fl_malloc(n + 2);
  memcpy(res->body, s, n);
  res->body[n] = '\n';
  res->body[n + 1] = '\0';
  res->body_len = n + 1;
  fl_free(s);
  res->status = status;
  res->content_type = "text/plain; charset=utf-8";
  size_t len = strlen(res->headers);
  snprintf(res->headers + len, sizeof(res->headers) - len,
           "X-Content-Type-Options: nosniff\r\n");
}

void api_empty(fl_api_res_t *res, int status) {
  fl_free(res->body);
  res->body = NULL;
  res->body_len = 0;
  res->status = status;
  res->content_type = NULL;
}
