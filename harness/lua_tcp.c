/* fl.tcp: a raw TCP client for text protocols (Redis's RESP, memcached...)
 * spoken from Lua. Reading runs all the time into a capped buffer; a
 * receive waits (yields) until the buffer holds what it asks for, the peer
 * closes, or its timeout passes. Past the cap, reading stops until the
 * scenario consumes data: back-pressure, not unbounded memory.
 *
 *   local c = assert(fl.tcp.connect("127.0.0.1:6379", { timeout = 2 }))
 *   c:send("PING\r\n")
 *   local line = c:receive_until("\r\n")     -- "+PONG" (delimiter removed)
 *   local bytes = c:receive(5)               -- exactly five bytes
 *   c:close()
 *
 * Errors are nil, "ECONNRESET: ...", "ECONNRESET". c:send adds a fourth
 * value, maybe_sent: false when no byte of this send was written to the
 * socket (the peer surely never saw it), true when some may have been (a
 * timeout or an error after part of it went out). A client mapping may
 * record a definite "fail" only when maybe_sent == false.
 */
#include <lauxlib.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/probe.h"
#include "base/error.h"

static const char TCP_MT[] = "faultline.tcp";
#define BUF_CAP (16u << 20)

enum { WAIT_NONE, WAIT_CONNECT, WAIT_WRITE, WAIT_EXACT, WAIT_UNTIL };

typedef struct ltcp_s {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t conn;
  fl_scenario_t *sc;
  char *buf;
  size_t len, cap;
  int reading;
  int eof; /* the peer closed, or an error: err says which */
  int err;
  int connected;
  int closed; /* :close() or the scenario ended */
  int open;   /* handles open */
  int freed;  /* the userdata was collected */
  int wait;
  size_t want; /* WAIT_EXACT: bytes */
  char *delim; /* WAIT_UNTIL */
  size_t delim_len;
  fl_task_t *task;
  char *addr;
  lua_State *L; /* the scenario's state, for the userdata's reference */
  int ref;      /* anchors the userdata while connecting */
} ltcp_t;

/* The userdata holds a pointer: the connection may outlive the Lua object
 * while its handles close. */
static ltcp_t *check_tcp(lua_State *L, int i) {
  ltcp_t *c = *(ltcp_t **)luaL_checkudata(L, i, TCP_MT);
  if (c == NULL || c->closed)
    luaL_error(L, "attempt to use a closed TCP connection");
  return c;
}

static void maybe_free(ltcp_t *c) {
  if (c->open == 0 && c->freed) {
    fl_free(c->buf);
    fl_free(c->delim);
    fl_free(c->addr);
    fl_free(c);
  }
}

static void handle_closed(uv_handle_t *h) {
  ltcp_t *c = h->data;
  c->open--;
  maybe_free(c);
}

static void finish_wait(ltcp_t *c, int nargs) {
  fl_task_t *t = c->task;
  c->task = NULL;
  c->wait = WAIT_NONE;
  uv_timer_stop(&c->timer);
  fl_task_resume(t, nargs);
}

static void fail_wait(ltcp_t *c, const char *what, int code) {
  lua_State *co = fl_task_thread(c->task);
  if (c->ref != LUA_NOREF) {
    luaL_unref(co, LUA_REGISTRYINDEX, c->ref);
    c->ref = LUA_NOREF;
  }
  lua_pushnil(co);
  /* The peer's close reads as it does when no task waited (l_receive):
   * "EOF: connection closed", one wording. */
  if (code == UV_EOF)
    lua_pushfstring(co, "EOF: %s", what);
  else
    lua_pushfstring(co, "%s: %s (%s)", fl_errname(code), fl_strerror(code), what);
  lua_pushstring(co, fl_errname(code));
  /* A send that waited had handed its bytes to libuv, which may have
   * written some of them before the error or the timeout. */
  if (c->wait == WAIT_WRITE) {
    lua_pushboolean(co, 1);
    finish_wait(c, 4);
    return;
  }
  finish_wait(c, 3);
}

static void close_conn(ltcp_t *c) {
  if (c->closed)
    return;
  c->closed = 1;
  uv_close((uv_handle_t *)&c->tcp, handle_closed);
  uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  ltcp_t *c = h->data;
  if (c->cap - c->len < 64 * 1024) {
    size_t cap = c->cap ? c->cap * 2 : 64 * 1024;
    while (cap - c->len < 64 * 1024)
      cap *= 2;
    c->buf = fl_realloc(c->buf, cap);
    c->cap = cap;
  }
  b->base = c->buf + c->len;
  b->len = c->cap - c->len;
}

static void try_satisfy(ltcp_t *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  ltcp_t *c = s->data;
  if (n < 0) {
    c->eof = 1;
    c->err = n == UV_EOF ? UV_EOF : (int)n;
    uv_read_stop(s);
    c->reading = 0;
  } else {
    c->len += (size_t)n;
    if (c->len >= BUF_CAP) {
      uv_read_stop(s);
      c->reading = 0;
    }
  }
  try_satisfy(c);
}

static void resume_reading(ltcp_t *c) {
  if (!c->reading && !c->eof && !c->closed && c->connected && c->len < BUF_CAP) {
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = 1;
  }
}

static void consume(ltcp_t *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
  resume_reading(c);
}

/* Completes a pending receive if the buffer can. */
static void try_satisfy(ltcp_t *c) {
  if (c->task == NULL)
    return;
  lua_State *co = fl_task_thread(c->task);
  if (c->wait == WAIT_EXACT && c->len >= c->want) {
    lua_pushlstring(co, c->buf, c->want);
    consume(c, c->want);
    finish_wait(c, 1);
  } else if (c->wait == WAIT_UNTIL && c->len >= c->delim_len) {
    for (size_t i = 0; i + c->delim_len <= c->len; i++) {
      if (memcmp(c->buf + i, c->delim, c->delim_len) == 0) {
        lua_pushlstring(co, c->buf, i);
        consume(c, i + c->delim_len);
        finish_wait(c, 1);
        return;
      }
    }
    if (c->len >= BUF_CAP)
      fail_wait(c, "no delimiter within 16 MiB", UV_E2BIG);
    else if (c->eof)
      fail_wait(c, "connection closed before the delimiter", c->err);
  } else if ((c->wait == WAIT_EXACT || c->wait == WAIT_UNTIL) && c->eof) {
    fail_wait(c, "connection closed", c->err);
  }
}

static void on_timeout(uv_timer_t *t) {
  ltcp_t *c = t->data;
  if (c->task == NULL)
    return;
  if (c->wait == WAIT_CONNECT) {
    /* Closing the handle cancels the connect; its callback then sees
     * UV_ECANCELED and leaves the task alone. */
    fail_wait(c, c->addr, UV_ETIMEDOUT);
    close_conn(c);
    return;
  }
  fail_wait(c, "timed out", UV_ETIMEDOUT);
}

static void wait_cancel(void *data) {
  ltcp_t *c = data;
  c->task = NULL;
  c->wait = WAIT_NONE;
  if (!c->closed)
    uv_timer_stop(&c->timer);
}

static int start_wait(lua_State *L, ltcp_t *c, int kind, double timeout_s) {
  if (c->task != NULL)
    return luaL_error(L, "another task is already waiting on this connection");
  c->task = fl_task_current(L);
  c->wait = kind;
  if (timeout_s > 0)
    uv_timer_start(&c->timer, on_timeout, (uint64_t)(timeout_s * 1000), 0);
  return 0;
}

static void on_connect(uv_connect_t *req, int status) {
  ltcp_t *c = req->data;
  if (status == UV_ECANCELED || c->task == NULL)
    return;
  if (status < 0) {
    fail_wait(c, c->addr, status);
    close_conn(c);
    return;
  }
  c->connected = 1;
  resume_reading(c);
  lua_State *co = fl_task_thread(c->task);
  lua_rawgeti(co, LUA_REGISTRYINDEX, c->ref);
  luaL_unref(co, LUA_REGISTRYINDEX, c->ref);
  c->ref = LUA_NOREF;
  finish_wait(c, 1);
}

static double opt_timeout(lua_State *L, int idx, double def) {
  if (lua_isnoneornil(L, idx))
    return def;
  static const char *const keys[] = {"timeout", NULL};
  fl_lua_check_keys(L, idx, "fl.tcp options", keys);
  lua_getfield(L, idx, "timeout");
  double t = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  return t;
}

/* core.tcp_connect(addr, opts) -> conn, or nil, err, code after a wait. The
 * Lua side (faultline.lua) returns the connection once connected. */
static int l_connect(lua_State *L) {
  const char *addr = luaL_checkstring(L, 1);
  double timeout = opt_timeout(L, 2, 5);
  fl_scenario_t *sc = fl_engine_scenario(L);
  struct sockaddr_storage sa;
  fl_err_t err = {0};
  if (fl_parse_addr(addr, &sa, &err) < 0)
    return luaL_error(L, "fl.tcp.connect: %s", err.msg);
  ltcp_t **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
  *ud = NULL;
  luaL_setmetatable(L, TCP_MT);
  ltcp_t *c = fl_calloc(1, sizeof(*c));
  c->sc = sc;
  c->ref = LUA_NOREF;
  c->addr = fl_strdup(addr);
  uv_loop_t *loop = fl_scenario_loop(sc);
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->tcp.data = c->timer.data = c->conn.data = c;
  c->open = 2;
  *ud = c;
  int rc = uv_tcp_connect(&c->conn, &c->tcp, (struct sockaddr *)&sa, on_connect);
  if (rc < 0) {
    close_conn(c);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s (%s)", fl_errname(rc), fl_strerror(rc), addr);
    lua_pushstring(L, fl_errname(rc));
    return 3;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  /* Anchored until connected; on_connect returns it to the caller. */
  lua_pushvalue(L, -1);
  c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  start_wait(L, c, WAIT_CONNECT, timeout);
  return fl_task_yield(L, c->task, wait_cancel, c);
}

typedef struct {
  uv_write_t req;
  ltcp_t *c;
  char data[];
} wreq_t;

static void on_write(uv_write_t *req, int status) {
  wreq_t *w = fl_container_of(req, wreq_t, req);
  ltcp_t *c = w->c;
  fl_free(w);
  if (c->wait != WAIT_WRITE || c->task == NULL)
    return;
  if (status < 0) {
    fail_wait(c, "send", status);
    return;
  }
  lua_pushboolean(fl_task_thread(c->task), 1);
  finish_wait(c, 1);
}

/* The error return of a send that wrote nothing: maybe_sent is false. */
static int send_failed(lua_State *L, int rc) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", fl_errname(rc), fl_strerror(rc));
  lua_pushstring(L, fl_errname(rc));
  lua_pushboolean(L, 0);
  return 4;
}

/* conn:send(data, opts) -> true, or nil, err, code, maybe_sent. The data is
 * first offered to the socket at once (uv_try_write), which tells exactly
 * how much went out: an error there means nothing was sent. What does not
 * fit is queued and the task waits for it; an error or a timeout from then
 * on may come after some bytes went out. */
static int l_send(lua_State *L) {
  ltcp_t *c = check_tcp(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  double timeout = opt_timeout(L, 3, 10);
  if (!c->connected)
    return luaL_error(L, "send on a connection that is not connected");
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n < 0 && n != UV_EAGAIN)
    return send_failed(L, n);
  size_t done = n > 0 ? (size_t)n : 0;
  if (done == len) {
    lua_pushboolean(L, 1);
    return 1;
  }
  wreq_t *w = fl_malloc(sizeof(*w) + len - done);
  w->c = c;
  memcpy(w->data, data + done, len - done);
  b = uv_buf_init(w->data, (unsigned)(len - done));
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc < 0) {
    fl_free(w);
    if (done == 0)
      return send_failed(L, rc);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s (after %d bytes)", fl_errname(rc), fl_strerror(rc),
                    (int)done);
    lua_pushstring(L, fl_errname(rc));
    lua_pushboolean(L, 1);
    return 4;
  }
  start_wait(L, c, WAIT_WRITE, timeout);
  return fl_task_yield(L, c->task, wait_cancel, c);
}

static int l_receive(lua_State *L) {
  ltcp_t *c = check_tcp(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && n <= (lua_Integer)BUF_CAP, 2, "between 0 and 16 MiB");
  double timeout = opt_timeout(L, 3, 10);
  if (c->len >= (size_t)n) {
    lua_pushlstring(L, c->buf, (size_t)n);
    consume(c, (size_t)n);
    return 1;
  }
  if (c->eof) {
    lua_pushnil(L);
    lua_pushstring(L, "EOF: connection closed");
    lua_pushstring(L, "EOF");
    return 3;
  }
  c->want = (size_t)n;
  start_wait(L, c, WAIT_EXACT, timeout);
  return fl_task_yield(L, c->task, wait_cancel, c);
}

static int l_receive_until(lua_State *L) {
  ltcp_t *c = check_tcp(L, 1);
  size_t dlen;
  const char *delim = luaL_checklstring(L, 2, &dlen);
  luaL_argcheck(L, dlen > 0, 2, "empty delimiter");
  double timeout = opt_timeout(L, 3, 10);
  fl_free(c->delim);
  c->delim = fl_strndup(delim, dlen);
  c->delim_len = dlen;
  start_wait(L, c, WAIT_UNTIL, timeout);
  /* Maybe the buffer already holds it: then answer without waiting. */
  fl_task_t *t = c->task;
  for (size_t i = 0; i + dlen <= c->len; i++) {
    if (memcmp(c->buf + i, delim, dlen) == 0) {
      c->task = NULL;
      c->wait = WAIT_NONE;
      uv_timer_stop(&c->timer);
      lua_pushlstring(L, c->buf, i);
      consume(c, i + dlen);
      return 1;
    }
  }
  if (c->eof) {
    c->task = NULL;
    c->wait = WAIT_NONE;
    uv_timer_stop(&c->timer);
    lua_pushnil(L);
    lua_pushstring(L, "EOF: connection closed before the delimiter");
    lua_pushstring(L, "EOF");
    return 3;
  }
  return fl_task_yield(L, t, wait_cancel, c);
}

static int l_close(lua_State *L) {
  ltcp_t *c = *(ltcp_t **)luaL_checkudata(L, 1, TCP_MT);
  if (c != NULL && !c->closed) {
    if (c->task != NULL)
      return luaL_error(L, "close while a task waits on this connection");
    close_conn(c);
  }
  return 0;
}

static int l_gc(lua_State *L) {
  ltcp_t **ud = luaL_checkudata(L, 1, TCP_MT);
  ltcp_t *c = *ud;
  if (c == NULL)
    return 0;
  *ud = NULL;
  c->task = NULL;
  close_conn(c);
  c->freed = 1;
  maybe_free(c);
  return 0;
}

static const luaL_Reg methods[] = {
    {"send", l_send},   {"receive", l_receive}, {"receive_until", l_receive_until},
    {"close", l_close}, {NULL, NULL},
};

void fl_luaopen_tcp(lua_State *L) {
  luaL_newmetatable(L, TCP_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_connect);
  lua_setfield(L, -2, "tcp_connect");
}
