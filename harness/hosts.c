#include "harness/hosts.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void fl_hosts_free(fl_hosts_t *h) {
  for (size_t i = 0; h != NULL && i < h->n; i++) {
    fl_free(h->v[i].name);
    fl_free(h->v[i].address);
    fl_free(h->v[i].user);
    fl_free(h->v[i].identity);
    fl_free(h->v[i].known_hosts);
  }
  if (h != NULL) {
    fl_free(h->v);
    h->v = NULL;
    h->n = 0;
  }
}

const fl_host_t *fl_hosts_find(const fl_hosts_t *h, const char *name) {
  for (size_t i = 0; i < h->n; i++)
    if (strcmp(h->v[i].name, name) == 0)
      return &h->v[i];
  return NULL;
}

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32)
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
      return 0;
  return 1;
}

/* A word for ssh's command line: no option look-alike, no blank, no
 * control character. */
static int word_ok(const char *s) {
  if (*s == '\0' || *s == '-')
    return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return 0;
  return 1;
}

/* The string field key of the table on top, new or NULL; -1 when it is
 * there but not a string. */
static int opt_string(lua_State *L, const char *key, char **out) {
  lua_getfield(L, -1, key);
  int t = lua_type(L, -1);
  *out = t == LUA_TSTRING ? fl_strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return t == LUA_TSTRING || t == LUA_TNIL ? 0 : -1;
}

/* Reads the host table on top of the stack into h; label says which host. */
static int read_host(lua_State *L, const char *where, const char *label, fl_host_t *h,
                     fl_err_t *err) {
  static const char *const known[] = {"name",     "address", "user",        "port",
                                      "identity", "sudo",    "known_hosts", NULL};
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    size_t i = 0;
    while (k != NULL && known[i] != NULL && strcmp(known[i], k) != 0)
      i++;
    if (k == NULL || known[i] == NULL) {
      int rc = fl_err_set(err, FL_ECONFIG,
                          "%s: %s: unknown field %s%s%s (known: name, address, user, "
                          "port, identity, sudo, known_hosts)",
                          where, label, k ? "\"" : "", k ? k : "a non-string key",
                          k ? "\"" : "");
      lua_pop(L, 2);
      return rc;
    }
    lua_pop(L, 1);
  }
  if (opt_string(L, "name", &h->name) < 0 || h->name == NULL || !name_ok(h->name))
    return fl_err_set(err, FL_ECONFIG,
                      "%s: %s: `name` wants a string of letters, digits, '-' and '_' "
                      "(at most 32)",
                      where, label);
  if (opt_string(L, "address", &h->address) < 0 || h->address == NULL ||
      !word_ok(h->address))
    return fl_err_set(err, FL_ECONFIG,
                      "%s: host \"%s\": `address` wants an address or host name (no "
                      "blanks, not starting with '-')",
                      where, h->name);
  if (opt_string(L, "user", &h->user) < 0 || (h->user != NULL && !word_ok(h->user)))
    return fl_err_set(err, FL_ECONFIG,
                      "%s: host \"%s\": `user` wants a user name (no blanks, not "
                      "starting with '-')",
                      where, h->name);
  if (opt_string(L, "identity", &h->identity) < 0 ||
      (h->identity != NULL && h->identity[0] == '\0'))
    return fl_err_set(err, FL_ECONFIG, "%s: host \"%s\": `identity` wants a key file",
                      where, h->name);
  if (opt_string(L, "known_hosts", &h->known_hosts) < 0 ||
      (h->known_hosts != NULL && h->known_hosts[0] == '\0'))
    return fl_err_set(err, FL_ECONFIG, "%s: host \"%s\": `known_hosts` wants a file",
                      where, h->name);
  lua_getfield(L, -1, "port");
  int isnum = 0;
  lua_Integer port = lua_tointegerx(L, -1, &isnum);
  int nil = lua_isnil(L, -1);
  int number = lua_type(L, -1) == LUA_TNUMBER; /* not "22": a string is a mistake */
  lua_pop(L, 1);
  if (!nil && (!isnum || !number || port < 1 || port > 65535))
    return fl_err_set(err, FL_ECONFIG,
                      "%s: host \"%s\": `port` wants an integer from 1 to 65535", where,
                      h->name);
  h->port = nil ? 0 : (int)port;
  lua_getfield(L, -1, "sudo");
  int t = lua_type(L, -1);
  h->sudo = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    return fl_err_set(err, FL_ECONFIG, "%s: host \"%s\": `sudo` wants true or false",
                      where, h->name);
  return 0;
}

int fl_hosts_from_lua(lua_State *L, int idx, const char *where, fl_hosts_t *out,
                      fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    return fl_err_set(err, FL_ECONFIG,
                      "%s: want a list of hosts ({ { name = \"n1\", "
                      "address = \"10.0.0.1\" }, ... })",
                      where);
  size_t n = (size_t)lua_rawlen(L, idx);
  if (n == 0)
    return fl_err_set(err, FL_ECONFIG, "%s: the list of hosts is empty", where);
  out->v = fl_calloc(n, sizeof(fl_host_t));
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    char label[32];
    snprintf(label, sizeof(label), "host %zu", i + 1);
    if (lua_rawgeti(L, idx, (lua_Integer)(i + 1)) != LUA_TTABLE)
      rc = fl_err_set(err, FL_ECONFIG, "%s: %s: want a table", where, label);
    else
      rc = read_host(L, where, label, &out->v[i], err);
    lua_pop(L, 1);
    out->n = i + 1;
    for (size_t k = 0; rc == 0 && k < i; k++)
      if (strcmp(out->v[k].name, out->v[i].name) == 0)
        rc = fl_err_set(err, FL_ECONFIG, "%s: two hosts are named \"%s\"", where,
                        out->v[i].name);
  }
  if (rc < 0)
    fl_hosts_free(out);
  return rc;
}

int fl_hosts_load_file(const char *path, fl_hosts_t *out, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  lua_State *L = luaL_newstate();
  if (L == NULL)
    return fl_err_set(err, FL_ECONFIG, "%s: out of memory", path);
  static const luaL_Reg libs[] = {
      {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
      {LUA_OSLIBNAME, luaopen_os},     {NULL, NULL}};
  for (const luaL_Reg *l = libs; l->name != NULL; l++) {
    luaL_requiref(L, l->name, l->func, 1);
    lua_pop(L, 1);
  }
  int rc = 0;
  if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    rc = fl_err_set(err, FL_ECONFIG, "hosts file: %s", lua_tostring(L, -1));
  else
    rc = fl_hosts_from_lua(L, -1, path, out, err);
  lua_close(L);
  return rc;
}

char *fl_ssh_control_path(size_t i) {
  return fl_asprintf("ssh/h%zu", i);
}

typedef struct {
  char **v;
  size_t n, cap;
} argv_t;

static void add(argv_t *a, const char *s) {
  if (a->n + 2 > a->cap) {
    a->cap = a->cap ? 2 * a->cap : 32;
    char **v = fl_calloc(a->cap, sizeof(char *));
    if (a->n > 0)
      memcpy(v, a->v, a->n * sizeof(char *));
    fl_free(a->v);
    a->v = v;
  }
  a->v[a->n++] = fl_strdup(s);
  a->v[a->n] = NULL;
}

static void addf_opt(argv_t *a, const char *fmt, const char *value) {
  char *s = fl_asprintf(fmt, value);
  add(a, "-o");
  add(a, s);
  fl_free(s);
}

/* ssh, the options every connection to h shares, then "--" and the address:
 * the address can never be read as an option. */
static void common(argv_t *a, const fl_host_t *h, const char *control_path) {
  add(a, "ssh");
  addf_opt(a, "ControlPath=%s", control_path);
  add(a, "-o");
  add(a, "BatchMode=yes");
  if (h->port > 0) {
    char port[16];
    snprintf(port, sizeof(port), "%d", h->port);
    add(a, "-p");
    add(a, port);
  }
  if (h->user != NULL) {
    add(a, "-l");
    add(a, h->user);
  }
  if (h->identity != NULL) {
    add(a, "-i");
    add(a, h->identity);
    add(a, "-o");
    add(a, "IdentitiesOnly=yes");
  }
  if (h->known_hosts != NULL)
    addf_opt(a, "UserKnownHostsFile=%s", h->known_hosts);
}

char **fl_ssh_argv(const fl_host_t *h, const char *control_path, int connect_s,
                   int persist_s, const char *const *cmd) {
  argv_t a = {0};
  common(&a, h, control_path);
  char num[16];
  add(&a, "-o");
  add(&a, "ControlMaster=auto");
  snprintf(num, sizeof(num), "%d", persist_s);
  addf_opt(&a, "ControlPersist=%s", num);
  snprintf(num, sizeof(num), "%d", connect_s);
  addf_opt(&a, "ConnectTimeout=%s", num);
  add(&a, "--");
  add(&a, h->address);
  for (size_t i = 0; cmd != NULL && cmd[i] != NULL; i++)
    add(&a, cmd[i]);
  return a.v;
}

char **fl_ssh_exit_argv(const fl_host_t *h, const char *control_path) {
  argv_t a = {0};
  common(&a, h, control_path);
  add(&a, "-O");
  add(&a, "exit");
  add(&a, "--");
  add(&a, h->address);
  return a.v;
}

char **fl_scp_argv(const fl_host_t *h, const char *control_path, const char *local_path,
                   const char *remote_path) {
  argv_t a = {0};
  add(&a, "scp");
  add(&a, "-q");
  addf_opt(&a, "ControlPath=%s", control_path);
  add(&a, "-o");
  add(&a, "BatchMode=yes");
  if (h->port > 0) {
    char port[16];
    snprintf(port, sizeof(port), "%d", h->port);
    add(&a, "-P");
    add(&a, port);
  }
  if (h->user != NULL)
    addf_opt(&a, "User=%s", h->user);
  if (h->identity != NULL) {
    add(&a, "-i");
    add(&a, h->identity);
    add(&a, "-o");
    add(&a, "IdentitiesOnly=yes");
  }
  if (h->known_hosts != NULL)
    addf_opt(&a, "UserKnownHostsFile=%s", h->known_hosts);
  add(&a, "--");
  add(&a, local_path);
  /* An IPv6 address goes in brackets: host:path would be ambiguous. */
  char *dest =
      fl_asprintf(strchr(h->address, ':') ? "[%s]:%s" : "%s:%s", h->address, remote_path);
  add(&a, dest);
  fl_free(dest);
  return a.v;
}

void fl_ssh_argv_free(char **argv) {
  for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
    fl_free(argv[i]);
  fl_free(argv);
}
