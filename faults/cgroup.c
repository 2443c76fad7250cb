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
#include "base/fs.h"

static int exists(const char *dir, const char *file) {
  char p[600];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  return access(p, F_OK) == 0;
}

static int write_file(const char *dir, const char *file, const char *text) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
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

/* Whether the v2 tree at root offers controller name (cgroup.controllers
 * is a space-separated list). */
static int v2_has(const char *root, const char *name) {
  char p[512], buf[512];
  snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
  FILE *f = fopen(p, "re");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  size_t k = strlen(name);
  for (char *w = strstr(buf, name); w != NULL; w = strstr(w + 1, name))
    if ((w == buf || w[-1] == ' ') && (w[k] == '\0' || w[k] == ' ' || w[k] == '\n'))
      return 1;
  return 0;
}

/* The v1 controller hierarchies of a hybrid or v1 machine. */
static void detect_v1_ctl(fl_cg_sys_t *sys, const char *sysfs) {
  static const char *const dirs[FL_CG_NCTL] = {"cpu", "cpuacct", "memory"};
  static const char *const probe[FL_CG_NCTL] = {"cpu.cfs_quota_us", "cpuacct.usage",
                                                "memory.limit_in_bytes"};
  for (int c = 0; c < FL_CG_NCTL; c++) {
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", sysfs, dirs[c]);
    if (exists(p, probe[c]))
      snprintf(sys->ctl[c], sizeof(sys->ctl[c]), "%s", p);
  }
}

int fl_cgroup_detect(fl_cg_sys_t *sys, const char *sysfs, fl_err_t *err) {
  memset(sys, 0, sizeof(*sys));
  char p[256];
  if (exists(sysfs, "cgroup.controllers") && exists(sysfs, "cgroup.procs")) {
    sys->kind = FL_CG_V2;
    snprintf(sys->root, sizeof(sys->root), "%s", sysfs);
    if (v2_has(sysfs, "cpu"))
      snprintf(sys->ctl[FL_CG_CTL_CPU], sizeof(sys->ctl[0]), "%s", sysfs);
    if (v2_has(sysfs, "memory"))
      snprintf(sys->ctl[FL_CG_CTL_MEMORY], sizeof(sys->ctl[0]), "%s", sysfs);
    return 0; /* cpu.stat (usage_usec) needs no controller on v2 */
  }
  detect_v1_ctl(sys, sysfs);
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
  memset(sys, 0, sizeof(*sys));
  return fl_err_set(err, -ENOENT, "no cgroup v2 hierarchy or v1 freezer under %s", sysfs);
}

int fl_cgroup_make_parent(const fl_cg_sys_t *sys, int pid, const char *run_id, char *out,
                          size_t size, fl_err_t *err) {
  if (sys->kind == FL_CG_NONE)
    return fl_err_set(err, -ENOENT, "no cgroups");
  snprintf(out, size, "%s/faultline-%d-%s", sys->root, pid, run_id);
  if (mkdir(out, 0755) != 0 && errno != EEXIST)
    return fl_err_set(err, -errno, "cannot make %s: %s", out, strerror(errno));
  /* On v2 a child gets a controller only when every ancestor enables it
   * for its children: the root (usually done by systemd) and the parent. */
  if (sys->kind == FL_CG_V2 && sys->ctl[FL_CG_CTL_CPU][0])
    write_file(sys->root, "cgroup.subtree_control", "+cpu");
  if (sys->kind == FL_CG_V2 && sys->ctl[FL_CG_CTL_MEMORY][0])
    write_file(sys->root, "cgroup.subtree_control", "+memory");
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

/* The run parents under one hierarchy's root whose faultline is gone. */
static int sweep_root(const fl_cg_sys_t *sys, const char *root, unsigned flags,
                      void (*cb)(const char *path, void *arg), void *arg) {
  DIR *d = opendir(root);
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
    snprintf(dir, sizeof(dir), "%s/%s", root, e->d_name);
    found++;
    if (!(flags & FL_CG_DRY_RUN))
      fl_cgroup_remove_tree(sys, dir, !(flags & FL_CG_NO_WAIT));
    if (cb != NULL)
      cb(dir, arg);
  }
  closedir(d);
  return found;
}

int fl_cgroup_cleanup(const fl_cg_sys_t *sys, unsigned flags,
                      void (*cb)(const char *path, void *arg), void *arg) {
  if (sys->kind == FL_CG_NONE)
    return 0;
  int found = sweep_root(sys, sys->root, flags, cb, arg);
  if (found < 0)
    return found;
  /* The v1 controllers' counterparts, after the containment cgroups: their
   * processes are gone by then. A hierarchy mounted twice (cpu and cpuacct
   * co-mounted) is swept once. */
  for (int c = 0; c < FL_CG_NCTL; c++) {
    if (!sys->ctl[c][0] || strcmp(sys->ctl[c], sys->root) == 0)
      continue;
    int dup = 0;
    for (int k = 0; k < c; k++)
      dup |= strcmp(sys->ctl[k], sys->ctl[c]) == 0;
    int n = dup ? 0 : sweep_root(sys, sys->ctl[c], flags, cb, arg);
    found += n > 0 ? n : 0;
  }
  return found;
}

/* ---- Resource limits and stats -------------------------------------------- */

int fl_cgroup_ctl_path(const fl_cg_sys_t *sys, const char *cg, int ctl, char *out,
                       size_t size) {
  size_t n = strlen(sys->root);
  if (ctl < 0 || ctl >= FL_CG_NCTL || !sys->ctl[ctl][0] ||
      strncmp(cg, sys->root, n) != 0 || (cg[n] != '/' && cg[n] != '\0'))
    return -ENOENT;
  snprintf(out, size, "%s%s", sys->ctl[ctl], cg + n);
  return 0;
}

/* Whether controller ctl has its own hierarchy (v1), apart from sys->root. */
static int ctl_apart(const fl_cg_sys_t *sys, int ctl) {
  return sys->ctl[ctl][0] && strcmp(sys->ctl[ctl], sys->root) != 0;
}

int fl_cgroup_make_ctl(const fl_cg_sys_t *sys, const char *cg) {
  int made = 0;
  char p[512];
  if (sys->kind == FL_CG_V2) {
    /* cg's parent enables the controllers for its children (cg). */
    snprintf(p, sizeof(p), "%s", cg);
    char *slash = strrchr(p, '/');
    if (slash != NULL)
      *slash = '\0';
    if (sys->ctl[FL_CG_CTL_CPU][0])
      made += write_file(p, "cgroup.subtree_control", "+cpu") == 0;
    if (sys->ctl[FL_CG_CTL_MEMORY][0])
      made += write_file(p, "cgroup.subtree_control", "+memory") == 0;
    return made;
  }
  for (int c = 0; c < FL_CG_NCTL; c++)
    if (ctl_apart(sys, c) && fl_cgroup_ctl_path(sys, cg, c, p, sizeof(p)) == 0)
      made += fl_mkdir_p(p) == 0;
  return made;
}

int fl_cgroup_enter_dirs(const fl_cg_sys_t *sys, const char *cg, char (*dirs)[512],
                         int max) {
  int n = 0;
  if (n < max)
    snprintf(dirs[n++], 512, "%s", cg);
  for (int c = 0; c < FL_CG_NCTL && n < max; c++) {
    char p[512];
    if (!ctl_apart(sys, c) || fl_cgroup_ctl_path(sys, cg, c, p, sizeof(p)) != 0 ||
        access(p, F_OK) != 0)
      continue;
    int dup = 0;
    for (int k = 0; k < n; k++)
      dup |= strcmp(dirs[k], p) == 0;
    if (!dup)
      snprintf(dirs[n++], 512, "%s", p);
  }
  return n;
}

int fl_cgroup_remove_ctl(const fl_cg_sys_t *sys, const char *cg) {
  int rc = 0;
  for (int c = 0; c < FL_CG_NCTL; c++) {
    char p[512];
    if (!ctl_apart(sys, c) || fl_cgroup_ctl_path(sys, cg, c, p, sizeof(p)) != 0)
      continue;
    int r = fl_cgroup_remove(p);
    if (r < 0 && rc == 0)
      rc = r;
  }
  return rc;
}

/* The controller directory for cg, or an error naming what is missing. */
static int ctl_dir(const fl_cg_sys_t *sys, const char *cg, int ctl, char *out,
                   size_t size, fl_err_t *err) {
  static const char *const what[FL_CG_NCTL] = {"cpu", "cpuacct", "memory"};
  if (fl_cgroup_ctl_path(sys, cg, ctl, out, size) != 0)
    return fl_err_set(err, -ENOENT, "this machine has no %s cgroup controller (%s)",
                      what[ctl],
                      sys->kind == FL_CG_V2 ? "not in cgroup.controllers"
                                            : "no v1 hierarchy with it mounted");
  return 0;
}

int fl_cgroup_cpu_quota(const fl_cg_sys_t *sys, const char *cg, double cpus,
                        fl_err_t *err) {
  const long period = 100000; /* µs: the kernel's default period */
  char dir[512], text[64];
  int rc = ctl_dir(sys, cg, FL_CG_CTL_CPU, dir, sizeof(dir), err);
  if (rc < 0)
    return rc;
  long quota = cpus > 0 ? (long)(cpus * period + 0.5) : -1;
  if (cpus > 0 && quota < 1000)
    quota = 1000; /* the kernel's smallest quota: 1 ms */
  const char *file;
  if (sys->kind == FL_CG_V2) {
    file = "cpu.max";
    if (quota > 0)
      snprintf(text, sizeof(text), "%ld %ld", quota, period);
    else
      snprintf(text, sizeof(text), "max %ld", period);
    rc = write_file(dir, file, text);
  } else {
    file = "cpu.cfs_period_us";
    snprintf(text, sizeof(text), "%ld", period);
    rc = write_file(dir, file, text);
    if (rc == 0) {
      file = "cpu.cfs_quota_us";
      snprintf(text, sizeof(text), "%ld", quota);
      rc = write_file(dir, file, text);
    }
  }
  if (rc < 0)
    return fl_err_set(err, rc, "cannot write %s to %s/%s: %s", text, dir, file,
                      strerror(-rc));
  return 0;
}

static ssize_t read_small(const char *dir, const char *file, char *buf, size_t size);

int fl_cgroup_memory_max(const fl_cg_sys_t *sys, const char *cg, int64_t bytes,
                         fl_err_t *err) {
  char dir[512], text[32];
  int rc = ctl_dir(sys, cg, FL_CG_CTL_MEMORY, dir, sizeof(dir), err);
  if (rc < 0)
    return rc;
  const char *file;
  if (sys->kind == FL_CG_V2) {
    snprintf(text, sizeof(text), bytes > 0 ? "%lld" : "max", (long long)bytes);
    file = "memory.max";
    rc = write_file(dir, file, text);
    /* Without swap accounting a limit would page out instead of OOM. */
    if (rc == 0 && exists(dir, "memory.swap.max"))
      write_file(dir, "memory.swap.max", bytes > 0 ? "0" : "max");
  } else {
    snprintf(text, sizeof(text), "%lld", bytes > 0 ? (long long)bytes : -1LL);
    /* memsw (memory + swap) may never be below the memory limit: raise it
     * first when lifting, lower it after when limiting. */
    int memsw = exists(dir, "memory.memsw.limit_in_bytes");
    if (memsw && bytes <= 0)
      write_file(dir, "memory.memsw.limit_in_bytes", "-1");
    file = "memory.limit_in_bytes";
    rc = write_file(dir, file, text);
    if (rc == 0 && memsw && bytes > 0)
      write_file(dir, "memory.memsw.limit_in_bytes", text);
    if (rc == -EBUSY) {
      /* v1 refuses a limit below what it cannot reclaim (v2 OOM-kills) */
      char used[32] = "?";
      if (read_small(dir, "memory.usage_in_bytes", used, sizeof(used)) > 0)
        used[strcspn(used, "\n")] = '\0';
      return fl_err_set(err, rc,
                        "a memory limit of %s bytes is below what it uses and the kernel "
                        "cannot reclaim (%s bytes): cgroup v1 refuses it (v2 would "
                        "OOM-kill); set the limit before it grows, or above its use",
                        text, used);
    }
  }
  if (rc < 0)
    return fl_err_set(err, rc, "cannot write %s to %s/%s: %s", text, dir, file,
                      strerror(-rc));
  return 0;
}

/* Reads dir/file (up to size - 1 bytes) into buf. Returns the length, or
 * -1 when it cannot be read or is empty. */
static ssize_t read_small(const char *dir, const char *file, char *buf, size_t size) {
  char p[600];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* The integer after "key " on a line of dir/file; -1 when missing. */
static int64_t keyed(const char *dir, const char *file, const char *key) {
  char buf[8192];
  if (read_small(dir, file, buf, sizeof(buf)) < 0)
    return -1;
  size_t kl = strlen(key);
  for (char *line = buf; line != NULL && *line != '\0';) {
    if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
      return strtoll(line + kl + 1, NULL, 10);
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  return -1;
}

/* The one integer in dir/file; -1 when missing. */
static int64_t single(const char *dir, const char *file) {
  char buf[64], *end;
  if (read_small(dir, file, buf, sizeof(buf)) < 0)
    return -1;
  long long v = strtoll(buf, &end, 10);
  return end == buf ? -1 : v;
}

int fl_cgroup_stats(const fl_cg_sys_t *sys, const char *cg, fl_cg_stats_t *out) {
  char dir[512];
  out->cpu_ns = out->rss_bytes = out->mem_bytes = out->oom_kills = -1;
  if (ctl_apart(sys, FL_CG_CTL_CPUACCT) &&
      fl_cgroup_ctl_path(sys, cg, FL_CG_CTL_CPUACCT, dir, sizeof(dir)) == 0)
    out->cpu_ns = single(dir, "cpuacct.usage");
  if (out->cpu_ns < 0) { /* v2, and a hybrid machine's v2 tree */
    int64_t us = keyed(cg, "cpu.stat", "usage_usec");
    out->cpu_ns = us < 0 ? -1 : us * 1000;
  }
  if (fl_cgroup_ctl_path(sys, cg, FL_CG_CTL_MEMORY, dir, sizeof(dir)) == 0) {
    if (sys->kind == FL_CG_V2) {
      out->mem_bytes = single(dir, "memory.current");
      out->rss_bytes = keyed(dir, "memory.stat", "anon");
      out->oom_kills = keyed(dir, "memory.events", "oom_kill");
    } else {
      out->mem_bytes = single(dir, "memory.usage_in_bytes");
      out->rss_bytes = keyed(dir, "memory.stat", "total_rss");
      out->oom_kills = keyed(dir, "memory.oom_control", "oom_kill");
    }
  }
  return out->cpu_ns >= 0 || out->mem_bytes >= 0 ? 0 : -ENOENT;
}

int fl_cgroup_parse_bytes(const char *text, int64_t *out) {
  if (text == NULL)
    return -EINVAL;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || errno != 0 || !(v >= 0))
    return -EINVAL;
  double mult = 1;
  switch (*end) {
  case 'k':
  case 'K':
    mult = 1024.0;
    end++;
    break;
  case 'm':
  case 'M':
    mult = 1024.0 * 1024;
    end++;
    break;
  case 'g':
  case 'G':
    mult = 1024.0 * 1024 * 1024;
    end++;
    break;
  case 't':
  case 'T':
    mult = 1024.0 * 1024 * 1024 * 1024;
    end++;
    break;
  default:
    break;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || v * mult > 9.0e18)
    return -EINVAL;
  *out = (int64_t)(v * mult);
  return 0;
}
