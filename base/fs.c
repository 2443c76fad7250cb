#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

int fl_mkdir_p(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
    return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST)
    return -errno;
  return 0;
}

int fl_rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode))
    return unlink(path) == 0 ? 0 : -errno;
  char **names = fl_list_dir(path, 0);
  for (char **n = names; n != NULL && *n != NULL; n++) {
    char *sub = fl_asprintf("%s/%s", path, *n);
    fl_rm_tree(sub);
    fl_free(sub);
  }
  fl_strv_free(names);
  return rmdir(path) == 0 ? 0 : -errno;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char **fl_list_dir(const char *dir, int skip_hidden) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return NULL;
  size_t n = 0, cap = 16;
  char **v = fl_malloc(cap * sizeof(char *));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (skip_hidden && e->d_name[0] == '.')
      continue;
    if (n + 1 >= cap) {
      cap *= 2;
      v = fl_realloc(v, cap * sizeof(char *));
    }
    v[n++] = fl_strdup(e->d_name);
  }
  closedir(d);
  qsort(v, n, sizeof(char *), cmp_str);
  v[n] = NULL;
  return v;
}

void fl_strv_free(char **v) {
  for (char **p = v; p != NULL && *p != NULL; p++)
    fl_free(*p);
  fl_free(v);
}

char *fl_slug(const char *s) {
  char *out = fl_malloc(strlen(s) + 2);
  size_t n = 0;
  int dash = 0;
  for (; *s && n < 60; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out[n++] = (char)c;
      dash = 0;
    } else if (c >= 'A' && c <= 'Z') {
      out[n++] = (char)(c - 'A' + 'a');
      dash = 0;
    } else if (!dash && n > 0) {
      out[n++] = '-';
      dash = 1;
    }
  }
  while (n > 0 && out[n - 1] == '-')
    n--;
  if (n == 0)
    out[n++] = 's';
  out[n] = '\0';
  return out;
}
