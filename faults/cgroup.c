/* Cgroups for containment (cgroup.h). Reads and writes of kernel
 * pseudo-files only; every function is safe on the event loop. */
#include "faults/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

static int exists(const char *dir, const char *file) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  return access(p, F_OK) == 0;
}

static int write_file(const char *dir, const char *file, const char *text) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = write(fd, text, strlen(text));
  int e = n < 0 ? -errno : 0;
  close(fd);
  return e;
}

const char *fl_cgroup_kind_name(fl_cg_kind_t kind) {
  switch (kind) {
  case FL_CG_V2:
    return "cgroup v2";
  case FL_CG_HYBRID:
    return "hybrid (v1 controllers, v2 hierarchy for containment)";
  case FL_CG_V1:
    return "cgroup v1 (freezer)";
  default:
    return "none";
  }
}

int fl_cgroup_detect(fl_cg_sys_t *sys, const char *sysfs, fl_err_t *err) {
  memset(sys, 0, sizeof(*sys));
  char p[256];
  if (exists(sysfs, "cgroup.controllers") && exists(sysfs, "cgroup.procs")) {
    sys->kind = FL_CG_V2;
    snprintf(sys->root, sizeof(sys->root), "%s", sysfs);
    return 0;
  }
  snprintf(p, sizeof(p), "%s/unified", sysfs);
  if (exists(p, "cgroup.procs")) {
    sys->kind = FL_CG_HYBRID;
    snprintf(sys->root, sizeof(sys->root), "%s", p);
    return 0;
  }
  snprintf(p, sizeof(p), "%s/freezer", sysfs);
  if (exists(p, "cgroup.procs")) {
    sys->kind = FL_CG_V1;
    snprintf(sys->root, sizeof(sys->root), "%s", p);
    return 0;
  }
  return fl_err_set(err, -ENOENT, "no cgroup v2 hierarchy or v1 freezer under %s", sysfs);
}

int fl_cgroup_make_parent(const fl_cg_sys_t *sys, int pid, const char *run_id, char *out,
                          size_t size, fl_err_t *err) {
  if (sys->kind == FL_CG_NONE)
    return fl_err_set(err, -ENOENT, "no cgroups");
  snprintf(out, size, "%s/faultline-%d-%s", sys->root, pid, run_id);
  if (mkdir(out, 0755) != 0 && errno != EEXIST)
    return fl_err_set(err, -errno, "cannot make %s: %s", out, strerror(errno));
  return 0;
}

int fl_cgroup_make(const char *parent, const char *name, char *out, size_t size,
                   fl_err_t *err) {
  snprintf(out, size, "%s/%s", parent, name);
  if (mkdir(out, 0755) != 0 && errno != EEXIST)
    return fl_err_set(err, -errno, "cannot make %s: %s", out, strerror(errno));
  return 0;
}

int fl_cgroup_enter(const char *cg, pid_t pid) {
  char text[24];
  snprintf(text, sizeof(text), "%d", pid == 0 ? (int)getpid() : (int)pid);
  return write_file(cg, "cgroup.procs", text);
}

int fl_cgroup_pids(const char *cg, pid_t *pids, size_t max) {
  char p[512];
  snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
  FILE *f = fopen(p, "re");
  if (f == NULL)
    return -errno;
  int n = 0, pid;
  while (fscanf(f, "%d", &pid) == 1) {
    if ((size_t)n < max)
      pids[n] = pid;
    n++;
  }
  fclose(f);
  return n;
}

int fl_cgroup_signal(const char *cg, int sig) {
  if (sig == SIGKILL && exists(cg, "cgroup.kill")) {
    int any = fl_cgroup_empty(cg);
    int r = write_file(cg, "cgroup.kill", "1");
    return r < 0 ? r : any == 0;
  }
  pid_t pids[4096];
  int n = fl_cgroup_pids(cg, pids, 4096);
  if (n < 0)
    return n;
  int sent = 0;
  for (int i = 0; i < n && i < 4096; i++)
    sent += kill(pids[i], sig) == 0;
  return sent;
}

int fl_cgroup_freeze(const fl_cg_sys_t *sys, const char *cg, int frozen) {
  if (exists(cg, "cgroup.freeze"))
    return write_file(cg, "cgroup.freeze", frozen ? "1" : "0");
  if (sys != NULL && sys->kind == FL_CG_V1 && exists(cg, "freezer.state"))
    return write_file(cg, "freezer.state", frozen ? "FROZEN" : "THAWED");
  return -ENOTSUP;
}

int fl_cgroup_empty(const char *cg) {
  pid_t one;
  int n = fl_cgroup_pids(cg, &one, 1);
  return n < 0 ? n : n == 0;
}

int fl_cgroup_remove(const char *cg) {
  return rmdir(cg) == 0 || errno == ENOENT ? 0 : -errno;
}

char *fl_cgroup_reaper_cmd(const char *parent) {
  /* every service cgroup: thaw, kill (cgroup.kill, or pid by pid), wait
   * until empty, remove; then the parent. Quotes: the path is ours. */
  return fl_asprintf(
      "P='%s'; for c in \"$P\"/*/; do [ -d \"$c\" ] || continue; "
      "[ -e \"${c}cgroup.freeze\" ] && echo 0 > \"${c}cgroup.freeze\"; "
      "[ -e \"${c}freezer.state\" ] && echo THAWED > \"${c}freezer.state\"; "
      "[ -e \"${c}cgroup.kill\" ] && echo 1 > \"${c}cgroup.kill\"; "
      "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
      "p=$(cat \"${c}cgroup.procs\" 2>/dev/null); [ -z \"$p\" ] && break; "
      "kill -9 $p 2>/dev/null; sleep 0.05; done; rmdir \"$c\"; done; rmdir \"$P\"",
      parent);
}

int fl_cgroup_remove_tree(const fl_cg_sys_t *sys, const char *dir, int wait) {
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' || e->d_type != DT_DIR)
        continue;
      char c[1024];
      snprintf(c, sizeof(c), "%s/%s", dir, e->d_name);
      fl_cgroup_freeze(sys, c, 0);
      fl_cgroup_signal(c, SIGKILL);
      for (int i = 0; wait && i < 40 && fl_cgroup_empty(c) == 0; i++) {
        usleep(25000); /* only where blocking is allowed: commands, exit */
        fl_cgroup_signal(c, SIGKILL);
      }
      fl_cgroup_remove(c);
    }
    closedir(d);
  }
  return fl_cgroup_remove(dir);
}

/* Whether pid runs: a zombie nobody reaped (PID 1 of a container may not)
 * is gone for this purpose. */
static int alive(int pid) {
  if (kill(pid, 0) != 0 && errno != EPERM)
    return 0;
  char p[64], buf[256];
  snprintf(p, sizeof(p), "/proc/%d/stat", pid);
  FILE *f = fopen(p, "re");
  if (f == NULL)
    return 1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *close = strrchr(buf, ')'); /* the name may hold spaces */
  return close == NULL || close[1] == '\0' || close[2] != 'Z';
}

int fl_cgroup_cleanup(const fl_cg_sys_t *sys, unsigned flags,
                      void (*cb)(const char *path, void *arg), void *arg) {
  if (sys->kind == FL_CG_NONE)
    return 0;
  DIR *d = opendir(sys->root);
  if (d == NULL)
    return -errno;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int pid;
    if (sscanf(e->d_name, "faultline-%d-", &pid) != 1)
      continue;
    if (!(flags & FL_CG_ALL) && pid > 0 && alive(pid))
      continue; /* its faultline is still running */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", sys->root, e->d_name);
    found++;
    if (!(flags & FL_CG_DRY_RUN))
      fl_cgroup_remove_tree(sys, dir, !(flags & FL_CG_NO_WAIT));
    if (cb != NULL)
      cb(dir, arg);
  }
  closedir(d);
  return found;
}
