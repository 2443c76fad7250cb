/* Small file-system helpers the run directories need. Blocking calls: used
 * before a scenario starts or after it ends, never while its loop runs. */
#ifndef FL_FS_H
#define FL_FS_H

/* mkdir -p. Returns 0 or a negative errno. */
int fl_mkdir_p(const char *path);
/* rm -rf of path (a file or a tree; symbolic links are removed, not
 * followed). Returns 0 or a negative errno. */
int fl_rm_tree(const char *path);
/* The names in dir, sorted, without "." and ".." (and without names
 * starting with '.' when skip_hidden). Returns a new NULL-terminated array
 * (free with fl_strv_free) or NULL when dir cannot be read. */
char **fl_list_dir(const char *dir, int skip_hidden);
void fl_strv_free(char **v);
/* A lower-case file-name-safe form of s ("Leader killed!" -> "leader-killed"),
 * at most 60 characters, never empty. Returns new. */
char *fl_slug(const char *s);

#endif
