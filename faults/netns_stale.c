/* Runs, alive and dead: the state files that say a run is alive, and finding
 * (and removing) what runs that are gone left behind, for `faultline cleanup`
 * and for the start of every namespace run. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "faults/netns.h"
#include "base/alloc.h"

static fl_netns_paths_t paths = {
    .state_dir = "/run/faultline",
    .netns_dir = "/run/netns",
    .sys_net = "/sys/class/net",
};

const fl_netns_paths_t *fl_netns_paths(void) {
  return &paths;
}

void fl_netns_set_paths(const fl_netns_paths_t *p) {
  paths = *p;
}

/* The start time of pid in clock ticks since boot (field 22 of its stat), 0
 * when it does not exist. With the pid it tells a process from a later one
 * that reused its pid. */
static unsigned long long start_time(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: count from the last ')'. */
  char *p = strrchr(buf, ')');
  if (p == NULL)
    return 0;
  p++;
  /* p is at the space before field 3; walk to the one before field 22. */
  for (int field = 3; field < 22 && p != NULL; field++)
    p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int mkdir_state(void) {
  if (mkdir(paths.state_dir, 0755) != 0 && errno != EEXIST)
    return -errno;
  return 0;
}

int fl_netns_run_mark(const char *run_id, fl_err_t *err) {
  int rc = mkdir_state();
  if (rc < 0)
    return fl_err_set(err, rc, "cannot create %s: %s", paths.state_dir, strerror(-rc));
  char *path = fl_asprintf("%s/run-%s", paths.state_dir, run_id);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    rc = -errno;
    fl_err_set(err, rc, "cannot write %s: %s", path, strerror(errno));
    fl_free(path);
    return rc;
  }
  long pid = (long)getpid();
  fprintf(f, "%ld %llu\n", pid, start_time(pid));
  fclose(f);
  fl_free(path);
  return 0;
}

void fl_netns_run_unmark(const char *run_id) {
  char *path = fl_asprintf("%s/run-%s", paths.state_dir, run_id);
  unlink(path);
  fl_free(path);
}

int fl_netns_run_alive(const char *run_id) {
  char *path = fl_asprintf("%s/run-%s", paths.state_dir, run_id);
  FILE *f = fopen(path, "r");
  fl_free(path);
  if (f == NULL)
    return 0;
  long pid = 0;
  unsigned long long st = 0;
  int n = fscanf(f, "%ld %llu", &pid, &st);
  fclose(f);
  if (n != 2 || pid <= 0)
    return 0;
  unsigned long long now = start_time(pid);
  return now != 0 && now == st;
}

/* A subnet is held by holding an flock(2) on its file for the whole run:
 * the kernel lets go when the holder dies, however it dies, so a stale
 * holder never blocks anyone and no "is it alive?" guess is needed. The file
 * also names the holder's run id, for `faultline cleanup`. Whoever unlinks
 * the file does so while holding the lock, and a taker checks, once it has
 * the lock, that the path still names the inode it locked: otherwise it
 * locked a file that was just unlinked, and tries again. */
static struct {
  char *path;
  int fd;
} held[8];

int fl_netns_subnet_take(const fl_subnet_t *subnet, const char *run_id, char **out_path) {
  int rc = mkdir_state();
  if (rc < 0)
    return rc;
  char net[16];
  fl_ip4_format(subnet->net, net, sizeof(net));
  char *path = fl_asprintf("%s/net-%s-%d", paths.state_dir, net, subnet->len);
  for (int attempt = 0; attempt < 8; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = -errno;
      fl_free(path);
      return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      fl_free(path);
      return UV_EEXIST; /* a live run holds it */
    }
    struct stat a, b;
    if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev) {
      close(fd); /* locked an unlinked file: try the path again */
      continue;
    }
    size_t i;
    for (i = 0; i < FL_ARRAY_SIZE(held) && held[i].path != NULL; i++)
      ;
    if (i == FL_ARRAY_SIZE(held) || ftruncate(fd, 0) != 0 ||
        pwrite(fd, run_id, strlen(run_id), 0) != (ssize_t)strlen(run_id)) {
      close(fd);
      fl_free(path);
      return UV_EIO;
    }
    held[i].path = fl_strdup(path);
    held[i].fd = fd;
    *out_path = path;
    return 0;
  }
  fl_free(path);
  return UV_EEXIST;
}

void fl_netns_subnet_release(const char *path) {
  if (path == NULL)
    return;
  for (size_t i = 0; i < FL_ARRAY_SIZE(held); i++) {
    if (held[i].path == NULL || strcmp(held[i].path, path) != 0)
      continue;
    unlink(held[i].path); /* still locked: see above */
    close(held[i].fd);
    fl_free(held[i].path);
    held[i].path = NULL;
    return;
  }
}

int fl_netns_name_run(const char *name, char id[9]) {
  if (strncmp(name, "fl", 2) != 0)
    return 0;
  for (int i = 0; i < 8; i++) {
    unsigned char c = (unsigned char)name[2 + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return 0;
  }
  char next = name[10];
  if (next != '\0' && next != '-' && next != 'v')
    return 0;
  if (next == 'v') {
    const char *d = name + 11;
    if (*d == '\0')
      return 0;
    for (; *d; d++)
      if (!isdigit((unsigned char)*d))
        return 0;
  }
  memcpy(id, name + 2, 8);
  id[8] = '\0';
  return 1;
}

typedef struct {
  char **v;
  size_t n, cap;
} ids_t;

static void ids_add(ids_t *ids, const char *id) {
  for (size_t i = 0; i < ids->n; i++)
    if (strcmp(ids->v[i], id) == 0)
      return;
  if (ids->n + 1 >= ids->cap) {
    ids->cap = ids->cap ? ids->cap * 2 : 8;
    ids->v = fl_realloc(ids->v, ids->cap * sizeof(char *));
  }
  ids->v[ids->n++] = fl_strdup(id);
  ids->v[ids->n] = NULL;
}

/* Is the link ours: named like it and carrying our alias? */
static int our_link(const char *name) {
  char *path = fl_asprintf("%s/%s/ifalias", paths.sys_net, name);
  char buf[64] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  fl_free(path);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n >= 9 && strncmp(buf, "faultline", 9) == 0;
}

static void scan_dir(ids_t *ids, const char *dir, int links) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  char id[9];
  while ((e = readdir(d)) != NULL) {
    if (!fl_netns_name_run(e->d_name, id))
      continue;
    if (links && !our_link(e->d_name))
      continue;
    if (!links && strchr(e->d_name, '-') == NULL)
      continue;
    ids_add(ids, id);
  }
  closedir(d);
}

static void scan_state(ids_t *ids) {
  DIR *d = opendir(paths.state_dir);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char id[16] = {0};
    if (strncmp(e->d_name, "run-", 4) == 0 && strlen(e->d_name) == 12) {
      memcpy(id, e->d_name + 4, 8);
    } else if (strncmp(e->d_name, "net-", 4) == 0) {
      char *path = fl_asprintf("%s/%s", paths.state_dir, e->d_name);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      fl_free(path);
      if (fd < 0)
        continue;
      ssize_t n = read(fd, id, 8);
      close(fd);
      if (n != 8)
        continue;
    } else {
      continue;
    }
    char name[24], parsed[9];
    snprintf(name, sizeof(name), "fl%.8s", id);
    if (fl_netns_name_run(name, parsed))
      ids_add(ids, parsed);
  }
  closedir(d);
}

static void scan_tables(ids_t *ids, const char *tables) {
  for (const char *line = tables; line != NULL && *line;) {
    const char *nl = strchr(line, '\n');
    char buf[128];
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n < sizeof(buf)) {
      memcpy(buf, line, n);
      buf[n] = '\0';
      char family[32], name[64], id[9];
      if (sscanf(buf, "table %31s %63s", family, name) == 2 &&
          strcmp(family, "bridge") == 0 && fl_netns_name_run(name, id) &&
          name[10] == '\0')
        ids_add(ids, id);
    }
    line = nl ? nl + 1 : NULL;
  }
}

char **fl_netns_stale_runs(const char *tables) {
  ids_t all = {0};
  scan_dir(&all, paths.netns_dir, 0);
  scan_dir(&all, paths.sys_net, 1);
  scan_state(&all);
  if (tables != NULL)
    scan_tables(&all, tables);
  char **out = fl_calloc(all.n + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < all.n; i++) {
    if (fl_netns_run_alive(all.v[i]))
      fl_free(all.v[i]);
    else
      out[k++] = all.v[i];
  }
  fl_free(all.v);
  return out;
}

void fl_netns_ids_free(char **ids) {
  for (size_t i = 0; ids != NULL && ids[i] != NULL; i++)
    fl_free(ids[i]);
  fl_free(ids);
}

/* Appends one step per entry of dir named like prefix...; links: ip link del,
 * otherwise ip netns del. */
static void remove_by_prefix(fl_script_t *s, const char *dir, const char *prefix,
                             int links) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  size_t plen = strlen(prefix);
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, prefix, plen) != 0)
      continue;
    if (links && !our_link(e->d_name))
      continue;
    if (links)
      fl_script_addl(s, FL_STEP_IGNORE_FAIL, "ip", "link", "del", e->d_name, NULL);
    else
      fl_script_addl(s, FL_STEP_IGNORE_FAIL, "ip", "netns", "del", e->d_name, NULL);
  }
  closedir(d);
}

void fl_netns_script_remove_run(fl_script_t *s, const char *run_id) {
  char name[16], prefix[16];
  snprintf(name, sizeof(name), "fl%s", run_id);
  fl_script_addl(s, FL_STEP_IGNORE_FAIL, "nft", "delete", "table", "bridge", name, NULL);
  snprintf(prefix, sizeof(prefix), "fl%sv", run_id);
  remove_by_prefix(s, paths.sys_net, prefix, 1);
  char *bridge = fl_asprintf("%s/%s", paths.sys_net, name);
  struct stat st;
  if (stat(bridge, &st) == 0 && our_link(name))
    fl_script_addl(s, FL_STEP_IGNORE_FAIL, "ip", "link", "del", name, NULL);
  fl_free(bridge);
  snprintf(prefix, sizeof(prefix), "fl%s-", run_id);
  remove_by_prefix(s, paths.netns_dir, prefix, 0);

  /* The state files go last, once the rest is gone. */
  const char *argv[16];
  char *files[14];
  size_t nf = 0;
  files[nf++] = fl_asprintf("%s/run-%s", paths.state_dir, run_id);
  DIR *d = opendir(paths.state_dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nf < FL_ARRAY_SIZE(files)) {
      if (strncmp(e->d_name, "net-", 4) != 0)
        continue;
      char *path = fl_asprintf("%s/%s", paths.state_dir, e->d_name);
      char holder[9] = {0};
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t n = fd >= 0 ? read(fd, holder, 8) : -1;
      if (fd >= 0)
        close(fd);
      if (n == 8 && strcmp(holder, run_id) == 0)
        files[nf++] = path;
      else
        fl_free(path);
    }
    closedir(d);
  }
  /* The run marker goes as it is; a subnet file only under its lock, which
   * a live run that took the subnet meanwhile would hold (see above). */
  argv[0] = "rm";
  argv[1] = "-f";
  argv[2] = files[0];
  argv[3] = NULL;
  fl_script_add(s, FL_STEP_IGNORE_FAIL, NULL, argv);
  for (size_t i = 1; i < nf; i++) {
    const char *locked[] = {"flock", "-n", files[i], "rm", "-f", files[i], NULL};
    fl_script_add(s, FL_STEP_IGNORE_FAIL, NULL, locked);
  }
  for (size_t i = 0; i < nf; i++)
    fl_free(files[i]);
}

size_t fl_netns_busy(const char *const *ns_paths, size_t n) {
  if (n == 0)
    return 0;
  ino_t *inos = fl_calloc(n, sizeof(*inos));
  int *busy = fl_calloc(n, sizeof(*busy));
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(ns_paths[i], &st) == 0)
      inos[i] = st.st_ino;
  }
  DIR *d = opendir("/proc");
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!isdigit((unsigned char)e->d_name[0]))
        continue;
      char path[300], link[64];
      snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
      ssize_t len = readlink(path, link, sizeof(link) - 1);
      if (len <= 0)
        continue;
      link[len] = '\0';
      unsigned long long ino;
      if (sscanf(link, "net:[%llu]", &ino) != 1)
        continue;
      for (size_t i = 0; i < n; i++)
        if (inos[i] != 0 && (unsigned long long)inos[i] == ino)
          busy[i] = 1;
    }
    closedir(d);
  }
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += (size_t)busy[i];
  fl_free(inos);
  fl_free(busy);
  return count;
}
