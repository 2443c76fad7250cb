/* Allocation that aborts on out-of-memory, so OOM is never an error path
 * (Redis's zmalloc does the same), and a few macros every file uses. */
#ifndef FL_ALLOC_H
#define FL_ALLOC_H

#include <stddef.h>

void *fl_malloc(size_t n);
void *fl_calloc(size_t count, size_t n);
void *fl_realloc(void *p, size_t n);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);
/* Returns new: a string formatted as printf would. */
char *fl_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fl_free(void *p);

#define FL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define fl_container_of(ptr, type, member)                                               \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
