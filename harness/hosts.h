/* Remote hosts (issue 16): the hosts a run may place services on, read from
 * a hosts file (`faultline run FILE --hosts hosts.lua`) or a scenario's
 * fl.hosts{...}, and the OpenSSH command lines that reach them.
 *
 * A hosts file is Lua returning a list of hosts, each a table:
 *   name      string   required: what services say (`host = "n1"`); letters,
 *                      digits, '-', '_', at most 32
 *   address   string   required: an address or a name ssh resolves (an
 *                      alias of ~/.ssh/config works); never starts with '-'
 *   user      string   the ssh user (default: ssh's, from ~/.ssh/config)
 *   port      integer  1..65535 (default: ssh's)
 *   identity  string   a private key file (default: ssh's, an agent's)
 *   sudo      boolean  run the agent through `sudo -n` (default false)
 *   known_hosts string a known_hosts file (default: ssh's)
 *
 * Every connection goes through one OpenSSH master per host
 * (ControlMaster=auto, ControlPersist), its socket at ssh/h<i> RELATIVE to
 * the run directory, every ssh started with the run directory as its
 * working directory: a socket path must fit in 108 bytes with the 17
 * characters ssh appends while it binds, which an absolute path under a
 * deep run directory does not. */
#ifndef FL_HOSTS_H
#define FL_HOSTS_H

#include <lua.h>
#include <stddef.h>

#include "base/error.h"

typedef struct fl_host_s {
  char *name;
  char *address;
  char *user;     /* NULL: ssh's default */
  int port;       /* 0: ssh's default */
  char *identity; /* NULL: ssh's default */
  int sudo;
  char *known_hosts; /* NULL: ssh's default */
} fl_host_t;

typedef struct fl_hosts_s {
  fl_host_t *v;
  size_t n;
} fl_hosts_t;

/* Reads the list at stack index idx into *out (which it clears first).
 * where names the source in messages ("hosts.lua", "fl.hosts"). 0, or
 * FL_ECONFIG with a message naming the host and the field; *out is then
 * empty. */
int fl_hosts_from_lua(lua_State *L, int idx, const char *where, fl_hosts_t *out,
                      fl_err_t *err);
/* Runs a hosts file (in a Lua state of its own, base/string/table/math/os
 * libraries) and reads what it returns. FL_ECONFIG naming the file (and the
 * line, for a Lua error). */
int fl_hosts_load_file(const char *path, fl_hosts_t *out, fl_err_t *err);
void fl_hosts_free(fl_hosts_t *h);
/* The host of that name, or NULL. */
const fl_host_t *fl_hosts_find(const fl_hosts_t *h, const char *name);

/* The control socket of host index i, relative to the run directory
 * ("ssh/h0"). Returns new. */
char *fl_ssh_control_path(size_t i);
/* The argv (NULL-terminated, new, free with fl_ssh_argv_free) of an ssh to
 * h through the master at control_path, then cmd (NULL-terminated; NULL:
 * none). Batch mode (never a prompt), a connect timeout of connect_s,
 * ControlPersist so the master outlives no more than persist_s an idle run. */
char **fl_ssh_argv(const fl_host_t *h, const char *control_path, int connect_s,
                   int persist_s, const char *const *cmd);
/* `ssh -O exit` for the master of h: what a run ends with. Returns new. */
char **fl_ssh_exit_argv(const fl_host_t *h, const char *control_path);
/* The argv of an scp of local_path to remote_path on h through the master
 * at control_path (new, free with fl_ssh_argv_free). */
char **fl_scp_argv(const fl_host_t *h, const char *control_path, const char *local_path,
                   const char *remote_path);
void fl_ssh_argv_free(char **argv);

#endif
