/* A growable string buffer with a hard size cap (curl's dynbuf does the same),
 * and the escaping every writer needs: HTML/XML text and attributes, with
 * bytes that are not valid UTF-8 or not allowed in XML 1.0 replaced. */
#ifndef FL_REPORT_BUF_H
#define FL_REPORT_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/error.h"

typedef struct fl_buf_s {
  char *data;   /* NUL-terminated once anything was added; NULL before */
  size_t len;   /* bytes in data, without the NUL */
  size_t alloc; /* bytes allocated */
  size_t max;   /* hard cap on len */
  int full;     /* set when an append would have passed max; later ones are dropped */
} fl_buf_t;

/* Escaping flags. */
enum {
  FL_ESC_ATTR = 1,    /* an attribute value: newlines and tabs as character references */
  FL_ESC_ONELINE = 2, /* newlines and tabs become spaces */
};

void fl_buf_init(fl_buf_t *b, size_t max);
/* Frees the data; b can be initialised again. Accepts a zeroed buffer. */
void fl_buf_free(fl_buf_t *b);
/* Empties b (keeps its memory and cap, clears full). */
void fl_buf_reset(fl_buf_t *b);
/* Returns the text, borrowed: "" when nothing was added. */
const char *fl_buf_str(const fl_buf_t *b);

/* Appends. Each returns 0, or UV_ENOBUFS when it would pass the cap: then
 * nothing is added, b->full is set and every later append is dropped too, so
 * a writer can append freely and check b->full once at the end. */
int fl_buf_add(fl_buf_t *b, const void *p, size_t n);
int fl_buf_puts(fl_buf_t *b, const char *s);
int fl_buf_printf(fl_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int fl_buf_vprintf(fl_buf_t *b, const char *fmt, va_list ap);

/* Appends arg as one word for a POSIX shell: as it is when it is non-empty
 * and made only of letters, digits and _@%+=:,./- (Python's shlex.quote
 * keeps the same set), else in single quotes with each ' written as '\''.
 * Returns 0 or UV_ENOBUFS (see above). */
int fl_buf_shell_quote(fl_buf_t *b, const char *arg);

/* Appends s (may be NULL: nothing) escaped for HTML and XML text or
 * attributes: & < > " ' as references, invalid UTF-8 and characters XML 1.0
 * forbids (C0 controls but tab/newline/CR, U+FFFE, U+FFFF) as U+FFFD. When s
 * is longer than max_bytes (0: no limit) it is cut at a character boundary
 * and "…" is appended. flags: FL_ESC_*. */
int fl_buf_esc(fl_buf_t *b, const char *s, size_t max_bytes, int flags);
/* The same for n bytes of s (which need not be NUL-terminated). */
int fl_buf_escn(fl_buf_t *b, const char *s, size_t n, size_t max_bytes, int flags);

/* Writes b to "<path>.tmp" and renames it over path. Returns 0, or a
 * negative errno with the file named in err. Fails with UV_ENOBUFS when b
 * is full (what it holds is incomplete). */
int fl_buf_write_file(const fl_buf_t *b, const char *path, fl_err_t *err);

/* Decodes one UTF-8 character at s (n bytes available). Returns its length
 * (1-4) and stores the code point in *cp, or returns 1 with *cp = 0xFFFD for
 * a byte that starts no valid sequence. n must be > 0. */
size_t fl_utf8_next(const unsigned char *s, size_t n, unsigned *cp);

#endif
