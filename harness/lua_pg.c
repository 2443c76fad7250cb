/* fl.pg: a PostgreSQL client on the event loop (libpq's asynchronous API).
 *
 *   local c = assert(fl.pg.connect("host=127.0.0.1 port=5432 user=postgres"))
 *   local rows, tag, n = c:query("SELECT v FROM t WHERE k = $1", 3)
 *   -- rows = { {v = "1,2"} }, tag = "SELECT 1", n = 1
 *   c:close()
 *
 * Nothing here blocks the loop: the connection is made with
 * PQconnectStart/PQconnectPoll, a query is sent with PQsendQueryParams and
 * PQflush, and its answer read with PQconsumeInput/PQisBusy/PQgetResult
 * whenever a uv_poll_t on PQsocket says the socket is ready; the calling
 * task yields in between. (A host *name* in the conninfo is resolved by
 * libpq with getaddrinfo before it returns: use an address or a socket
 * directory.)
 *
 * Errors are nil, message, kind, sqlstate. The kind tells a client mapping
 * whether the statement surely had no effect:
 *   definite  "serialization" (40001), "deadlock" (40P01), "sql" (any other
 *             error the server answered with, e.g. 42P01), "connect" (the
 *             connection was never made: refused, authentication ...),
 *             "closed" (the connection was already broken or timed out:
 *             nothing was sent);
 *   unknown   "server" (the server ended the session: SQLSTATE class 08,
 *             53, 57, 58 or XX), "lost" (the connection broke while the
 *             statement was in flight), "timeout".
 * After a "lost", "server" or "timeout" the connection is closed; a COMMIT
 * that ends that way may or may not have committed ("info"), while any
 * statement before COMMIT rolls the transaction back with the session.
 */
#include <lauxlib.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/lua_core.h"

static const char PG_MT[] = "faultline.pg_conn";
#define MAX_PARAMS 256

enum { ST_CONNECTING, ST_READY, ST_BUSY, ST_BROKEN, ST_CLOSED };

typedef struct lpg_s {
  PGconn *pg;
  uv_poll_t *poll; /* on PQsocket; its own allocation (libpq may switch sockets) */
  int poll_fd;
  int poll_events;
  uv_timer_t timer;
  uv_loop_t *loop;
  int state;
  int connect_poll;  /* the last PQconnectPoll answer while connecting */
  int flushing;      /* PQflush said more to send */
  PGresult *err_res; /* the first error result of the query in flight */
  PGresult *last;    /* its last ok result */
  fl_task_t *task;
  double query_timeout;
  int timer_open;
  int freed;
  int ref; /* anchors the userdata while connecting */
} lpg_t;

static lpg_t *check_conn(lua_State *L, int i) {
  lpg_t *c = *(lpg_t **)luaL_checkudata(L, i, PG_MT);
  if (c == NULL || c->state == ST_CLOSED)
    luaL_error(L, "attempt to use a closed pg connection");
  return c;
}

static void poll_closed(uv_handle_t *h) {
  fl_free(h);
}

/* Stops watching the socket. libpq may close it (PQconnectPoll trying the
 * next address, PQfinish), so the poll handle goes first: libuv must never
 * watch a descriptor that was closed under it. */
static void poll_drop(lpg_t *c) {
  if (c->poll != NULL) {
    uv_close((uv_handle_t *)c->poll, poll_closed);
    c->poll = NULL;
  }
  c->poll_fd = -1;
  c->poll_events = 0;
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Watches PQsocket for `events`, making a new handle if the socket changed. */
static void poll_watch(lpg_t *c, int events) {
  int fd = PQsocket(c->pg);
  if (fd < 0) {
    poll_drop(c);
    return;
  }
  if (c->poll != NULL && c->poll_fd != fd)
    poll_drop(c);
  if (c->poll == NULL) {
    c->poll = fl_calloc(1, sizeof(*c->poll));
    if (uv_poll_init_socket(c->loop, c->poll, fd) < 0) {
      fl_free(c->poll);
      c->poll = NULL;
      return;
    }
    c->poll->data = c;
    c->poll_fd = fd;
  }
  if (events != c->poll_events) {
    uv_poll_start(c->poll, events, on_poll);
    c->poll_events = events;
  }
}

static void clear_results(lpg_t *c) {
  PQclear(c->err_res);
  PQclear(c->last);
  c->err_res = c->last = NULL;
}

static void maybe_free(lpg_t *c) {
  if (c->freed && !c->timer_open) {
    clear_results(c);
    fl_free(c);
  }
}

static void timer_closed(uv_handle_t *h) {
  lpg_t *c = h->data;
  c->timer_open = 0;
  maybe_free(c);
}

/* Ends the session: the poll handle first, then PQfinish (which, the
 * connection being non-blocking, sends its Terminate without waiting). */
static void finish_pg(lpg_t *c, int state) {
  poll_drop(c);
  if (c->pg != NULL) {
    PQfinish(c->pg);
    c->pg = NULL;
  }
  c->flushing = 0;
  c->state = state;
}

static void close_all(lpg_t *c) {
  if (c->state == ST_CLOSED)
    return;
  finish_pg(c, ST_CLOSED);
  uv_close((uv_handle_t *)&c->timer, timer_closed);
}

/* Pushes libpq's message on one line: its newlines and tabs (a hint on
 * the next line, a trailing newline) become single spaces. */
static void push_message(lua_State *L, const char *msg) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int space = 0;
  for (const char *p = msg; *p; p++) {
    if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
      space = 1;
      continue;
    }
    if (space && luaL_bufflen(&b) > 0)
      luaL_addchar(&b, ' ');
    space = 0;
    luaL_addchar(&b, *p);
  }
  luaL_pushresult(&b);
}

/* Resumes the waiting task with nil, msg, kind, sqlstate. */
static void resume_error(lpg_t *c, const char *msg, const char *kind, const char *state) {
  fl_task_t *t = c->task;
  c->task = NULL;
  uv_timer_stop(&c->timer);
  lua_State *co = fl_task_thread(t);
  if (c->ref != LUA_NOREF) {
    luaL_unref(co, LUA_REGISTRYINDEX, c->ref);
    c->ref = LUA_NOREF;
  }
  lua_pushnil(co);
  push_message(co, msg);
  if (state != NULL) {
    lua_pushfstring(co, "%s: %s", state, lua_tostring(co, -1));
    lua_remove(co, -2);
  }
  lua_pushstring(co, kind);
  if (state != NULL)
    lua_pushstring(co, state);
  else
    lua_pushnil(co);
  fl_task_resume(t, 4);
}

/* The kind of a server's error: see the header comment. */
static const char *kind_of(const char *state) {
  if (state == NULL)
    return "lost";
  if (strcmp(state, "40001") == 0)
    return "serialization";
  if (strcmp(state, "40P01") == 0)
    return "deadlock";
  static const char *const ended[] = {"08", "53", "57", "58", "XX"};
  for (size_t i = 0; i < sizeof(ended) / sizeof(ended[0]); i++)
    if (strncmp(state, ended[i], 2) == 0)
      return "server";
  return "sql";
}

/* ---- connecting ---------------------------------------------------------- */

static void connect_step(lpg_t *c) {
  /* The poll handle goes before PQconnectPoll: it may close the socket. */
  poll_drop(c);
  PostgresPollingStatusType st = PQconnectPoll(c->pg);
  if (st == PGRES_POLLING_FAILED) {
    char *msg = fl_strdup(PQerrorMessage(c->pg));
    finish_pg(c, ST_BROKEN);
    resume_error(c, msg, "connect", NULL);
    fl_free(msg);
    return;
  }
  if (st == PGRES_POLLING_OK) {
    c->state = ST_READY;
    poll_watch(c, UV_READABLE);
    fl_task_t *t = c->task;
    c->task = NULL;
    uv_timer_stop(&c->timer);
    lua_State *co = fl_task_thread(t);
    lua_rawgeti(co, LUA_REGISTRYINDEX, c->ref);
    luaL_unref(co, LUA_REGISTRYINDEX, c->ref);
    c->ref = LUA_NOREF;
    fl_task_resume(t, 1);
    return;
  }
  c->connect_poll = st;
  poll_watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE);
}

/* ---- a query in flight --------------------------------------------------- */

static void query_done(lpg_t *c);

/* Reads what arrived; completes the query when libpq has all of it. */
static void query_read(lpg_t *c) {
  if (!PQconsumeInput(c->pg)) {
    char *msg = fl_strdup(PQerrorMessage(c->pg));
    finish_pg(c, ST_BROKEN);
    resume_error(c, msg, "lost", NULL);
    fl_free(msg);
    return;
  }
  while (!PQisBusy(c->pg)) {
    PGresult *r = PQgetResult(c->pg);
    if (r == NULL) {
      query_done(c);
      return;
    }
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
      if (c->err_res == NULL)
        c->err_res = r;
      else
        PQclear(r);
    } else {
      PQclear(c->last);
      c->last = r;
    }
  }
}

static void query_flush(lpg_t *c) {
  int f = PQflush(c->pg);
  if (f < 0) {
    char *msg = fl_strdup(PQerrorMessage(c->pg));
    finish_pg(c, ST_BROKEN);
    resume_error(c, msg, "lost", NULL);
    fl_free(msg);
    return;
  }
  c->flushing = f == 1;
  poll_watch(c, UV_READABLE | (c->flushing ? UV_WRITABLE : 0));
}

static void on_poll(uv_poll_t *p, int status, int events) {
  lpg_t *c = p->data;
  if (c->task == NULL) {
    /* Nobody waits (an idle connection): a notice or the server's goodbye.
     * Read it so a closed socket does not wake the loop forever. */
    if (c->state == ST_READY &&
        (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)) {
      finish_pg(c, ST_BROKEN);
    } else if (c->state == ST_READY) {
      PGnotify *n;
      while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    }
    return;
  }
  if (c->state == ST_CONNECTING) {
    connect_step(c);
    return;
  }
  if (c->flushing && (events & UV_WRITABLE || status < 0)) {
    query_flush(c);
    if (c->task == NULL)
      return;
  }
  if (events & UV_READABLE || status < 0)
    query_read(c);
}

/* Pushes rows (an array of {column = text | fl.json.null}), tag, affected. */
static int push_result(lua_State *L, PGresult *r) {
  int nrows = r ? PQntuples(r) : 0, ncols = r ? PQnfields(r) : 0;
  lua_createtable(L, nrows, 0);
  for (int i = 0; i < nrows; i++) {
    lua_createtable(L, 0, ncols);
    for (int j = 0; j < ncols; j++) {
      if (PQgetisnull(r, i, j))
        lua_pushlightuserdata(L, NULL); /* fl.json.null */
      else
        lua_pushlstring(L, PQgetvalue(r, i, j), (size_t)PQgetlength(r, i, j));
      lua_setfield(L, -2, PQfname(r, j));
    }
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushstring(L, r ? PQcmdStatus(r) : "");
  const char *n = r ? PQcmdTuples(r) : "";
  if (*n)
    lua_pushinteger(L, strtoll(n, NULL, 10));
  else
    lua_pushnil(L);
  return 3;
}

static void query_done(lpg_t *c) {
  c->state = ST_READY;
  poll_watch(c, UV_READABLE);
  if (c->err_res != NULL) {
    PGresult *e = c->err_res;
    c->err_res = NULL;
    const char *state = PQresultErrorField(e, PG_DIAG_SQLSTATE);
    const char *kind = kind_of(state);
    if (strcmp(kind, "server") == 0)
      finish_pg(c, ST_BROKEN);
    const char *primary = PQresultErrorField(e, PG_DIAG_MESSAGE_PRIMARY);
    resume_error(c, primary ? primary : PQresultErrorMessage(e), kind, state);
    PQclear(e);
    clear_results(c);
    return;
  }
  fl_task_t *t = c->task;
  c->task = NULL;
  uv_timer_stop(&c->timer);
  push_result(fl_task_thread(t), c->last);
  clear_results(c);
  fl_task_resume(t, 3);
}

static void on_timeout(uv_timer_t *tm) {
  lpg_t *c = tm->data;
  if (c->task == NULL)
    return;
  /* The session is given up: a statement may still be running on the
   * server, and the next one could not be told from its answer. */
  int connecting = c->state == ST_CONNECTING;
  finish_pg(c, ST_BROKEN);
  clear_results(c);
  resume_error(c,
               connecting ? "timed out connecting" : "timed out waiting for the answer",
               connecting ? "connect" : "timeout", NULL);
}

static void wait_cancel(void *data) {
  lpg_t *c = data;
  c->task = NULL;
  if (c->state != ST_CLOSED)
    uv_timer_stop(&c->timer);
  /* A query in flight is abandoned with its session. */
  if (c->state == ST_CONNECTING || c->state == ST_BUSY)
    finish_pg(c, ST_BROKEN);
}

/* ---- the Lua calls ------------------------------------------------------- */

static void quiet_notice(void *arg, const char *msg) {
}

static double opt_number(lua_State *L, int idx, const char *key, double def) {
  lua_getfield(L, idx, key);
  double v = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  if (!(v > 0))
    fl_lua_error(L, "fl.pg.connect: '%s' must be a positive number of seconds", key);
  return v;
}

/* core.pg_connect(conninfo [, {timeout=, query_timeout=}]) -> conn, or nil,
 * err, "connect", nil once it failed. Raises for a conninfo libpq cannot
 * parse and for unknown options. */
static int l_connect(lua_State *L) {
  const char *info = luaL_checkstring(L, 1);
  double timeout = 5, qtimeout = 10;
  if (!lua_isnoneornil(L, 2)) {
    static const char *const keys[] = {"timeout", "query_timeout", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    fl_lua_check_keys(L, 2, "fl.pg.connect", keys);
    timeout = opt_number(L, 2, "timeout", timeout);
    qtimeout = opt_number(L, 2, "query_timeout", qtimeout);
  }
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(info, &perr);
  if (opts == NULL) {
    lua_pushstring(L, perr ? perr : "out of memory");
    PQfreemem(perr);
    return fl_lua_error(L, "fl.pg.connect: bad conninfo: %s", lua_tostring(L, -1));
  }
  PQconninfoFree(opts);
  fl_scenario_t *sc = fl_engine_scenario(L);
  lpg_t **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
  *ud = NULL;
  luaL_setmetatable(L, PG_MT);
  lpg_t *c = fl_calloc(1, sizeof(*c));
  c->loop = fl_scenario_loop(sc);
  c->poll_fd = -1;
  c->ref = LUA_NOREF;
  c->query_timeout = qtimeout;
  uv_timer_init(c->loop, &c->timer);
  c->timer.data = c;
  c->timer_open = 1;
  *ud = c;
  c->pg = PQconnectStart(info);
  if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
    lua_pushnil(L);
    push_message(L, c->pg ? PQerrorMessage(c->pg) : "out of memory");
    lua_pushstring(L, "connect");
    lua_pushnil(L);
    close_all(c);
    return 4;
  }
  PQsetnonblocking(c->pg, 1);
  PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
  c->state = ST_CONNECTING;
  lua_pushvalue(L, -1);
  c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c->task = fl_task_current(L);
  uv_timer_start(&c->timer, on_timeout, (uint64_t)(timeout * 1000), 0);
  /* Before the first PQconnectPoll, libpq's loop waits for writability.
   * PQconnectStart made the socket (a refusal it saw at once is
   * CONNECTION_BAD above). */
  poll_watch(c, UV_WRITABLE);
  if (c->poll == NULL) {
    c->task = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
    c->ref = LUA_NOREF;
    close_all(c);
    lua_pushnil(L);
    lua_pushstring(L, "libpq gave no socket to watch");
    lua_pushstring(L, "connect");
    lua_pushnil(L);
    return 4;
  }
  return fl_task_yield(L, c->task, wait_cancel, c);
}

/* A parameter as text, or NULL for nil / fl.json.null. */
static const char *param_text(lua_State *L, int i) {
  switch (lua_type(L, i)) {
  case LUA_TNIL:
    return NULL;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, i) == NULL)
      return NULL;
    break;
  case LUA_TBOOLEAN:
    return lua_toboolean(L, i) ? "true" : "false";
  case LUA_TNUMBER:
  case LUA_TSTRING:
    return lua_tostring(L, i);
  default:
    break;
  }
  fl_lua_error(L,
               "conn:query: parameter %d is a %s (a string, number, boolean or nil "
               "expected)",
               i - 2, luaL_typename(L, i));
  return NULL;
}

/* conn:query(sql, p1, p2, ...) -> rows, tag, affected | nil, err, kind, sqlstate. */
static int l_query(lua_State *L) {
  lpg_t *c = check_conn(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  int n = lua_gettop(L) - 2;
  if (n > MAX_PARAMS)
    return fl_lua_error(L, "conn:query: more than %d parameters", MAX_PARAMS);
  if (c->task != NULL)
    return fl_lua_error(L,
                        "conn:query: another task is already waiting on this connection");
  if (c->state == ST_READY && PQstatus(c->pg) == CONNECTION_BAD)
    finish_pg(c, ST_BROKEN);
  if (c->state != ST_READY) {
    lua_pushnil(L);
    lua_pushstring(L, "the connection is broken (a lost connection, a timeout or "
                      "the server's end of the session): nothing was sent");
    lua_pushstring(L, "closed");
    lua_pushnil(L);
    return 4;
  }
  const char *vals[MAX_PARAMS > 0 ? MAX_PARAMS : 1];
  for (int i = 0; i < n; i++)
    vals[i] = param_text(L, i + 3); /* converted in place: stays on the stack */
  if (!PQsendQueryParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0)) {
    lua_pushnil(L);
    push_message(L, PQerrorMessage(c->pg));
    finish_pg(c, ST_BROKEN);
    lua_pushstring(L, "closed");
    lua_pushnil(L);
    return 4;
  }
  /* The first flush here, so that a failure is answered without a wait. */
  int f = PQflush(c->pg);
  if (f < 0) {
    lua_pushnil(L);
    push_message(L, PQerrorMessage(c->pg));
    finish_pg(c, ST_BROKEN);
    lua_pushstring(L, "lost");
    lua_pushnil(L);
    return 4;
  }
  c->flushing = f == 1;
  poll_watch(c, UV_READABLE | (c->flushing ? UV_WRITABLE : 0));
  c->state = ST_BUSY;
  c->task = fl_task_current(L);
  uv_timer_start(&c->timer, on_timeout, (uint64_t)(c->query_timeout * 1000), 0);
  return fl_task_yield(L, c->task, wait_cancel, c);
}

static int l_close(lua_State *L) {
  lpg_t *c = *(lpg_t **)luaL_checkudata(L, 1, PG_MT);
  if (c != NULL && c->state != ST_CLOSED) {
    if (c->task != NULL)
      return fl_lua_error(L, "conn:close: a task waits on this connection");
    close_all(c);
  }
  return 0;
}

/* conn:status() -> "ready" | "broken" | "closed" */
static int l_status(lua_State *L) {
  lpg_t *c = *(lpg_t **)luaL_checkudata(L, 1, PG_MT);
  static const char *const names[] = {"connecting", "ready", "busy", "broken", "closed"};
  lua_pushstring(L, c == NULL ? "closed" : names[c->state]);
  return 1;
}

static int l_gc(lua_State *L) {
  lpg_t **ud = luaL_checkudata(L, 1, PG_MT);
  lpg_t *c = *ud;
  if (c == NULL)
    return 0;
  *ud = NULL;
  c->task = NULL;
  close_all(c);
  c->freed = 1;
  maybe_free(c);
  return 0;
}

static int l_tostring(lua_State *L) {
  lpg_t *c = *(lpg_t **)luaL_checkudata(L, 1, PG_MT);
  if (c == NULL || c->pg == NULL)
    lua_pushstring(L, "pg_conn (closed)");
  else
    lua_pushfstring(L, "pg_conn (%s:%s)", PQhost(c->pg), PQport(c->pg));
  return 1;
}

static const luaL_Reg methods[] = {
    {"query", l_query},
    {"close", l_close},
    {"status", l_status},
    {NULL, NULL},
};

void fl_luaopen_pg(lua_State *L) {
  luaL_newmetatable(L, PG_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_connect);
  lua_setfield(L, -2, "pg_connect");
}
