#include "faults/clock.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

struct fl_clock_s {
  char *file;
  char *tmp;
  char *env[4];
  double offset; /* D at `since`, rate effects before it included */
  double since;  /* real time of the last change */
  double rate;
  double start; /* S: when the current process tree started (0: not yet) */
};

static const char *shm_dir = "/dev/shm";

void fl_clock_set_shm_dir(const char *dir) {
  shm_dir = dir;
}

const char *fl_clock_lib(void) {
  static const char *found;
  static int looked;
  if (looked)
    return found;
  looked = 1;
  const char *env = getenv("FL_FAKETIME_LIB");
  if (env != NULL && env[0] != '\0') {
    found = access(env, R_OK) == 0 ? env : NULL;
    return found;
  }
  static const char *const candidates[] = {
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
      "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
      "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
      "/usr/lib/faketime/libfaketimeMT.so.1",
      "/usr/lib/faketime/libfaketime.so.1",
      "/usr/local/lib/faketime/libfaketimeMT.so.1",
      "/usr/local/lib/faketime/libfaketime.so.1",
  };
  for (size_t i = 0; i < FL_ARRAY_SIZE(candidates); i++)
    if (access(candidates[i], R_OK) == 0)
      return found = candidates[i];
  return NULL;
}

void fl_clock_format(double offset, double rate, char *buf, size_t size) {
  /* libfaketime reads the fraction with the process's locale; services start
   * in the "C" locale, and one that switches to a comma locale would need
   * whole seconds. */
  snprintf(buf, size, "%+.6f x%.6f\n", offset, rate);
}

double fl_clock_skew(const fl_clock_t *c, double now) {
  return c->offset + (now - c->since) * (c->rate - 1);
}

double fl_clock_rate(const fl_clock_t *c) {
  return c->rate;
}

double fl_clock_file_offset(const fl_clock_t *c) {
  /* OFF = D(now) - (now - S)(rate - 1), which does not depend on now. */
  double s = c->start > 0 ? c->start : c->since;
  return c->offset - (c->since - s) * (c->rate - 1);
}

static int write_file(fl_clock_t *c) {
  char line[96];
  fl_clock_format(fl_clock_file_offset(c), c->rate, line, sizeof(line));
  int fd = open(c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  size_t len = strlen(line);
  ssize_t n = write(fd, line, len);
  int e = n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
  close(fd);
  if (e == 0 && rename(c->tmp, c->file) != 0)
    e = -errno;
  return e;
}

int fl_clock_new(fl_clock_t **out, const char *dir, const char *name, fl_err_t *err) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return fl_err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
  fl_clock_t *c = fl_calloc(1, sizeof(*c));
  c->file = fl_asprintf("%s/%s.faketime", dir, name);
  c->tmp = fl_asprintf("%s/.%s.faketime.tmp", dir, name);
  c->rate = 1;
  c->env[0] = fl_asprintf("FAKETIME_TIMESTAMP_FILE=%s", c->file);
  c->env[1] = fl_strdup("FAKETIME_NO_CACHE=1");
  c->env[2] = fl_strdup("FAKETIME_DONT_FAKE_MONOTONIC=1");
  c->env[3] = NULL;
  int rc = write_file(c);
  if (rc < 0) {
    fl_err_set(err, rc, "cannot write %s: %s", c->file, strerror(-rc));
    fl_clock_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void fl_clock_free(fl_clock_t *c) {
  if (c == NULL)
    return;
  for (int i = 0; c->env[i] != NULL; i++)
    fl_free(c->env[i]);
  fl_free(c->file);
  fl_free(c->tmp);
  fl_free(c);
}

const char *const *fl_clock_env(const fl_clock_t *c) {
  return (const char *const *)c->env;
}

const char *fl_clock_file(const fl_clock_t *c) {
  return c->file;
}

/* Folds what the rate added until now into offset, so a change starts from
 * the skew the service sees at that moment. */
static void settle(fl_clock_t *c, double now) {
  c->offset = fl_clock_skew(c, now);
  c->since = now;
}

int fl_clock_set_offset(fl_clock_t *c, double now, double offset) {
  settle(c, now);
  c->offset = offset;
  return write_file(c);
}

int fl_clock_set_rate(fl_clock_t *c, double now, double rate) {
  settle(c, now);
  c->rate = rate;
  return write_file(c);
}

int fl_clock_jump(fl_clock_t *c, double now, double by) {
  settle(c, now);
  c->offset += by;
  return write_file(c);
}

int fl_clock_reset(fl_clock_t *c, double now) {
  c->offset = 0;
  c->since = now;
  c->rate = 1;
  return write_file(c);
}

int fl_clock_started(fl_clock_t *c, double now) {
  settle(c, now);
  c->start = now;
  return write_file(c);
}

/* ---- libfaketime's shared memory ------------------------------------------- */

void fl_clock_release_pid(int pid) {
  char path[256];
  snprintf(path, sizeof(path), "%s/faketime_shm_%d", shm_dir, pid);
  unlink(path);
  snprintf(path, sizeof(path), "%s/sem.faketime_sem_%d", shm_dir, pid);
  unlink(path);
}

/* Is pid a live process (not a zombie)? */
static int alive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno != EPERM)
    return 0;
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 1;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return !(p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

int fl_clock_sweep_shm(void) {
  DIR *d = opendir(shm_dir);
  if (d == NULL)
    return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *num = NULL;
    if (strncmp(e->d_name, "faketime_shm_", 13) == 0)
      num = e->d_name + 13;
    else if (strncmp(e->d_name, "sem.faketime_sem_", 17) == 0)
      num = e->d_name + 17;
    if (num == NULL || *num == '\0')
      continue;
    char *end;
    long pid = strtol(num, &end, 10);
    if (*end != '\0' || pid <= 0)
      continue;
    /* The pid names the process that made it; while it lives, its tree may
     * still use the memory. A zombie is gone for this purpose. */
    if (alive((pid_t)pid))
      continue;
    char *path = fl_asprintf("%s/%s", shm_dir, e->d_name);
    if (unlink(path) == 0)
      removed++;
    fl_free(path);
  }
  closedir(d);
  return removed;
}

/* ---- can libfaketime reach a program? ---------------------------------------- */

int fl_clock_binary_check(const char *path, char *why, size_t why_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  struct stat st;
  Elf64_Ehdr eh;
  int rc = 0;
  if (fstat(fd, &st) != 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
      memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shentsize != sizeof(Elf64_Shdr)) {
    close(fd); /* a script, or not an ELF file we read: cannot tell */
    return 0;
  }
  int interp = 0;
  for (int i = 0; i < eh.e_phnum && i < 256; i++) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
        (ssize_t)sizeof(ph))
      break;
    if (ph.p_type == PT_INTERP)
      interp = 1;
  }
  /* Section names: a Go program carries .go.buildinfo (or its build id note). */
  int go = 0;
  Elf64_Shdr strsh;
  if (eh.e_shnum > 0 && eh.e_shnum < 4096 && eh.e_shstrndx < eh.e_shnum &&
      pread(fd, &strsh, sizeof(strsh),
            (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof(strsh))) ==
          (ssize_t)sizeof(strsh) &&
      strsh.sh_size > 0 && strsh.sh_size < (1u << 20) &&
      strsh.sh_offset + strsh.sh_size <= (uint64_t)st.st_size) {
    char *names = fl_malloc(strsh.sh_size + 1);
    if (pread(fd, names, strsh.sh_size, (off_t)strsh.sh_offset) ==
        (ssize_t)strsh.sh_size) {
      names[strsh.sh_size] = '\0';
      for (int i = 0; i < eh.e_shnum && !go; i++) {
        Elf64_Shdr sh;
        if (pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + (uint64_t)i * sizeof(sh))) !=
            (ssize_t)sizeof(sh))
          break;
        if (sh.sh_name < strsh.sh_size) {
          const char *n = names + sh.sh_name;
          go = strcmp(n, ".go.buildinfo") == 0 || strcmp(n, ".note.go.buildid") == 0 ||
               strcmp(n, ".gopclntab") == 0;
        }
      }
    }
    fl_free(names);
  }
  close(fd);
  if (go) {
    snprintf(
        why, why_size,
        "%s is a Go program: Go reads the clock through the vDSO, not through libc, so "
        "libfaketime (LD_PRELOAD) cannot change the time it sees",
        path);
    rc = FL_ENOSUPPORT;
  } else if (!interp && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN)) {
    snprintf(
        why, why_size,
        "%s is statically linked: libfaketime is loaded by the dynamic linker, which a "
        "static program does not use, so its clock cannot be changed",
        path);
    rc = FL_ENOSUPPORT;
  }
  return rc;
}
