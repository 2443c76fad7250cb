#define _GNU_SOURCE
#include "harness/reaper.h"

#include "faults/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"

static int reaper_fd = -1;

const char *fl_self_exe(void) {
  static char path[4096];
  if (path[0] == '\0') {
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n < 0)
      n = 0;
    path[n] = '\0';
  }
  return path;
}

/* The reaper's commands are lines: "+PGID", "-PGID", "!KEY CMD", "?KEY". */
static void send_line(const char *line) {
  if (reaper_fd < 0)
    return;
  size_t len = strlen(line), off = 0;
  while (off < len) {
    ssize_t n = write(reaper_fd, line + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    off += (size_t)n;
  }
}

void fl_reaper_track(pid_t pgid) {
  char line[32];
  snprintf(line, sizeof(line), "+%d\n", (int)pgid);
  send_line(line);
}

void fl_reaper_untrack(pid_t pgid) {
  char line[32];
  snprintf(line, sizeof(line), "-%d\n", (int)pgid);
  send_line(line);
}

void fl_reaper_on_death(const char *key, const char *shell_cmd) {
  char *line = fl_asprintf("!%s %s\n", key, shell_cmd);
  send_line(line);
  fl_free(line);
}

void fl_reaper_forget(const char *key) {
  char *line = fl_asprintf("?%s\n", key);
  send_line(line);
  fl_free(line);
}

/* The reaper process. It owns no libuv state: a blocking read loop. */
typedef struct {
  char *key;
  char *cmd;
} death_cmd_t;

static void reaper_loop(int fd) {
  pid_t *groups = NULL;
  size_t ngroups = 0, cap = 0;
  death_cmd_t *cmds = NULL;
  size_t ncmds = 0;
  size_t bufcap = 8192, have = 0;
  char *buf = fl_malloc(bufcap);

  for (;;) {
    /* A line longer than the buffer (a long cleanup command) grows it: a
     * read of 0 bytes would look like faultline's death, and every group
     * of a live run would be killed. */
    if (have == bufcap - 1) {
      bufcap *= 2;
      buf = fl_realloc(buf, bufcap);
    }
    ssize_t n = read(fd, buf + have, bufcap - 1 - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    have += (size_t)n;
    buf[have] = '\0';
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
      *nl = '\0';
      if (line[0] == '+') {
        if (ngroups == cap) {
          cap = cap ? cap * 2 : 16;
          groups = fl_realloc(groups, cap * sizeof(*groups));
        }
        groups[ngroups++] = (pid_t)atoi(line + 1);
      } else if (line[0] == '-') {
        pid_t g = (pid_t)atoi(line + 1);
        for (size_t i = 0; i < ngroups; i++)
          if (groups[i] == g) {
            groups[i] = groups[--ngroups];
            break;
          }
      } else if (line[0] == '!') {
        char *sp = strchr(line, ' ');
        if (sp != NULL) {
          *sp = '\0';
          cmds = fl_realloc(cmds, (ncmds + 1) * sizeof(*cmds));
          cmds[ncmds].key = fl_strdup(line + 1);
          cmds[ncmds].cmd = fl_strdup(sp + 1);
          ncmds++;
        }
      } else if (line[0] == '?') {
        for (size_t i = 0; i < ncmds; i++)
          if (strcmp(cmds[i].key, line + 1) == 0) {
            fl_free(cmds[i].key);
            fl_free(cmds[i].cmd);
            cmds[i] = cmds[--ncmds];
            break;
          }
      }
      line = nl + 1;
    }
    have -= (size_t)(line - buf);
    memmove(buf, line, have);
  }

  /* faultline is gone. Whatever it did not clean up, we do. */
  for (size_t i = 0; i < ngroups; i++) {
    kill(-groups[i], SIGCONT);
    kill(-groups[i], SIGKILL);
  }
  for (size_t i = ncmds; i-- > 0;) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmds[i].cmd, (char *)NULL);
      _exit(127);
    }
    if (pid > 0)
      waitpid(pid, NULL, 0);
  }
  _exit(0);
}

int fl_reaper_start(void) {
  if (reaper_fd >= 0)
    return 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -errno;
  /* Until the child has its own session and ignores them, the signals that
   * reach faultline's whole group (a Ctrl-C just as the run starts) would
   * kill it too: they are held across the fork. */
  sigset_t held, old;
  sigemptyset(&held);
  sigaddset(&held, SIGINT);
  sigaddset(&held, SIGTERM);
  sigaddset(&held, SIGHUP);
  sigprocmask(SIG_BLOCK, &held, &old);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[0]);
    close(fds[1]);
    return -e;
  }
  if (pid == 0) {
    /* Its own session: a Ctrl-C or a kill of faultline's process group must
     * not take the reaper down before it has done its job. */
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* What arrived meanwhile is pending, and now ignored: discarded. */
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    for (int fd = 3; fd < 1024; fd++)
      if (fd != fds[0])
        close(fd);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      close(devnull);
    }
    reaper_loop(fds[0]);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(fds[0]);
  reaper_fd = fds[1];
  return 0;
}

/* Moves this process into the network namespace at path. */
static int shim_setns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    fprintf(stderr, "faultline: cannot enter the network namespace %s: %s\n", path,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* Puts lib first in LD_PRELOAD. Set here, just before exec, rather than in
 * the environment faultline spawns the shim with, so the shim (faultline
 * itself, possibly built with a sanitizer that must load first) never loads
 * it. */
static void shim_preload(const char *lib) {
  const char *old = getenv("LD_PRELOAD");
  if (old != NULL && old[0] != '\0') {
    char *v = fl_asprintf("%s:%s", lib, old);
    setenv("LD_PRELOAD", v, 1);
    fl_free(v);
  } else {
    setenv("LD_PRELOAD", lib, 1);
  }
}

/* Nothing of faultline's but stdio reaches a service: not the other
 * services' logs, not the HTTP client's kept-alive connections (a service
 * holding one would keep it open after faultline closed it: a fault nobody
 * asked for). libcurl, for one, does not mark its sockets close-on-exec. */
static void close_inherited(void) {
  if (close_range(3, ~0U, 0) == 0)
    return;
  /* Kernels before 5.9 have no close_range: the slow way. */
  long max = sysconf(_SC_OPEN_MAX);
  if (max <= 0 || max > 65536)
    max = 65536;
  for (long fd = 3; fd < max; fd++)
    close((int)fd);
}

/* rlimits, umask, then group and user (setgroups first: the supplementary
 * groups of root must not follow the service). Says what failed on stderr,
 * which is the service's log. */
static int shim_identity(int uid, int gid, int mask, long nofile) {
  if (nofile > 0) {
    struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fprintf(stderr, "faultline: cannot set open files to %ld: %s\n", nofile,
              strerror(errno));
      return -1;
    }
  }
  if (mask >= 0)
    umask((mode_t)mask);
  if (gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0)) {
    fprintf(stderr, "faultline: cannot become group %d: %s\n", gid, strerror(errno));
    return -1;
  }
  if (uid >= 0 && setuid((uid_t)uid) != 0) {
    fprintf(stderr, "faultline: cannot become user %d: %s\n", uid, strerror(errno));
    return -1;
  }
  return 0;
}

int fl_shim_main(int argc, char **argv) {
  /* argv: __exec PPID [--netns PATH] [--preload LIB] [--cgroup DIR]... -- CMD [ARGS...]
   */
  const char *netns = NULL, *preload = NULL, *cgroup[8] = {NULL};
  int ncg = 0;
  int uid = -1, gid = -1, mask = -1;
  long nofile = 0;
  int i = 2;
  while (i + 1 < argc && strcmp(argv[i], "--") != 0) {
    if (strcmp(argv[i], "--netns") == 0)
      netns = argv[i + 1];
    else if (strcmp(argv[i], "--preload") == 0)
      preload = argv[i + 1];
    else if (strcmp(argv[i], "--cgroup") == 0 && ncg < 8)
      cgroup[ncg++] = argv[i + 1]; /* containment, then v1 controllers */
    else if (strcmp(argv[i], "--uid") == 0)
      uid = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--gid") == 0)
      gid = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--umask") == 0)
      mask = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--nofile") == 0)
      nofile = atol(argv[i + 1]);
    else
      break;
    i += 2;
  }
  if (argc < 2 || i + 1 >= argc || strcmp(argv[i], "--") != 0) {
    fprintf(stderr, "faultline __exec: usage: __exec PPID [--netns PATH] [--preload LIB] "
                    "-- CMD [ARGS...]\n");
    return 127;
  }
  pid_t parent = (pid_t)atoi(argv[1]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died between fork and prctl: then nobody would ever
   * send the signal. */
  if (getppid() != parent)
    _exit(127);
  /* Into the service's cgroup before anything runs: every process the
   * service ever starts is born in it. */
  for (int c = 0; c < ncg; c++) {
    int rc = fl_cgroup_enter(cgroup[c], 0);
    if (rc != 0) {
      fprintf(stderr, "faultline: cannot enter cgroup %s: %s\n", cgroup[c],
              strerror(-rc));
      return 127;
    }
  }
  /* The namespace is entered here, in the child after fork, where nothing
   * else shares the thread: faultline's own process never moves. */
  if (netns != NULL && shim_setns(netns) != 0)
    return 127;
  if (preload != NULL)
    shim_preload(preload);
  /* Limits and the user last: entering a namespace needs the privileges
   * the user may not have. */
  if (shim_identity(uid, gid, mask, nofile) != 0)
    return 127;
  /* A service starts with default signal dispositions. */
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  close_inherited();
  execvp(argv[i + 1], argv + i + 1);
  fprintf(stderr, "faultline: cannot exec %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
