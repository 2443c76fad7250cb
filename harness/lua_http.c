/* fl.http: requests from scenarios, on the shared libcurl multi handle.
 * core.http(method, url, opts) -> {status=, body=, headers=, elapsed=} or
 * nil, "ETIMEDOUT: ...", "ETIMEDOUT", maybe_sent. A request waits (yields)
 * its task.
 *
 * maybe_sent (a boolean, added after the error code so that older callers
 * see no change) is false only when no byte of the request was written to
 * any socket: the server surely never saw it, whatever the error says. It is
 * true when the server may have received the request, even if the final
 * error is a connect error (libcurl retries a request on a fresh connection
 * when a reused one dies before answering). A client mapping may record a
 * definite "fail" only when maybe_sent == false. */
#include <lauxlib.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "base/error.h"

typedef struct {
  fl_task_t *task;
  fl_http_req_t *req;
} lreq_t;

static void req_cancel(void *data) {
  lreq_t *r = data;
  fl_http_cancel(r->req);
  fl_free(r);
}

static void push_headers(lua_State *co, const char *h, size_t len) {
  lua_newtable(co);
  const char *p = h, *end = h + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *colon = memchr(p, ':', (size_t)(le - p));
    if (colon != NULL) {
      /* Names lower-cased, so scenarios need not guess the server's case. */
      luaL_Buffer b;
      luaL_buffinit(co, &b);
      for (const char *c = p; c < colon; c++)
        luaL_addchar(&b, (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c));
      luaL_pushresult(&b);
      const char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = le;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
        ve--;
      lua_pushlstring(co, v, (size_t)(ve - v));
      lua_settable(co, -3);
    }
    p = le + 1;
  }
}

static void on_done(const fl_http_resp_t *resp, void *arg) {
  lreq_t *r = arg;
  fl_task_t *t = r->task;
  fl_free(r);
  lua_State *co = fl_task_thread(t);
  if (resp->status < 0) {
    lua_pushnil(co);
    lua_pushfstring(co, "%s: %s", fl_errname(resp->status), resp->error);
    lua_pushstring(co, fl_errname(resp->status));
    lua_pushboolean(co, resp->maybe_sent);
    fl_task_resume(t, 4);
    return;
  }
  lua_createtable(co, 0, 4);
  lua_pushinteger(co, resp->code);
  lua_setfield(co, -2, "status");
  lua_pushlstring(co, resp->body, resp->body_len);
  lua_setfield(co, -2, "body");
  lua_pushnumber(co, resp->elapsed_s);
  lua_setfield(co, -2, "elapsed");
  push_headers(co, resp->headers, resp->headers_len);
  lua_setfield(co, -2, "headers");
  fl_task_resume(t, 1);
}

static int l_http(lua_State *L) {
  static const char *const keys[] = {"body", "headers", "timeout", "max_body", NULL};
  const char *method = luaL_checkstring(L, 1);
  const char *url = luaL_checkstring(L, 2);
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_task_t *t = fl_task_current(L);
  fl_http_opts_t o = {.method = method, .url = url, .timeout_ms = 10000};
  const char *hdrs[65] = {0};
  if (!lua_isnoneornil(L, 3)) {
    fl_lua_check_keys(L, 3, "fl.http options", keys);
    lua_getfield(L, 3, "body");
    if (!lua_isnil(L, -1))
      o.body = luaL_checklstring(L, -1, &o.body_len);
    lua_getfield(L, 3, "timeout");
    if (!lua_isnil(L, -1))
      o.timeout_ms = (long)(luaL_checknumber(L, -1) * 1000);
    lua_getfield(L, 3, "max_body");
    o.max_body = (size_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "headers");
    if (lua_istable(L, -1)) {
      int n = 0, ht = lua_gettop(L);
      lua_pushnil(L);
      while (n < 64 && lua_next(L, ht) != 0) {
        lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
        hdrs[n++] = lua_tostring(L, -1);
        /* The string stays on the stack, below the key, until curl copies it. */
        lua_insert(L, -3);
        lua_pop(L, 1);
        luaL_checkstack(L, 4, "too many headers");
      }
      o.headers = hdrs;
    }
  }
  lreq_t *r = fl_malloc(sizeof(*r));
  r->task = t;
  int rc = fl_http_request(fl_scenario_http(sc), &o, on_done, r, &r->req);
  if (rc < 0) {
    fl_free(r);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", fl_errname(rc), fl_strerror(rc));
    lua_pushstring(L, fl_errname(rc));
    lua_pushboolean(L, 0); /* refused before anything was started */
    return 4;
  }
  return fl_task_yield(L, t, req_cancel, r);
}

void fl_luaopen_http(lua_State *L) {
  lua_pushcfunction(L, l_http);
  lua_setfield(L, -2, "http");
}
