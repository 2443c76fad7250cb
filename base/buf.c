/* The report writers' string buffer: grows by doubling up to a hard cap, so a
 * report can never grow without bound however large the run was. */
#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"

void fl_buf_init(fl_buf_t *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
}

void fl_buf_free(fl_buf_t *b) {
  fl_free(b->data);
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->full = 0;
}

void fl_buf_reset(fl_buf_t *b) {
  b->len = 0;
  b->full = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

const char *fl_buf_str(const fl_buf_t *b) {
  return b->data != NULL ? b->data : "";
}

int fl_buf_add(fl_buf_t *b, const void *p, size_t n) {
  if (b->full)
    return UV_ENOBUFS;
  if (n > b->max || b->len > b->max - n) {
    b->full = 1;
    return UV_ENOBUFS;
  }
  if (b->len + n + 1 > b->alloc) {
    size_t want = b->alloc != 0 ? b->alloc : 256;
    while (want < b->len + n + 1)
      want *= 2;
    if (want - 1 > b->max) /* not want > max + 1: max may be SIZE_MAX */
      want = b->max + 1;
    b->data = fl_realloc(b->data, want);
    b->alloc = want;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int fl_buf_puts(fl_buf_t *b, const char *s) {
  return fl_buf_add(b, s, strlen(s));
}

int fl_buf_shell_quote(fl_buf_t *b, const char *arg) {
  static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789_@%+=:,./-";
  size_t n = strlen(arg);
  if (n > 0 && strspn(arg, safe) == n)
    return fl_buf_add(b, arg, n);
  fl_buf_puts(b, "'");
  for (const char *p = arg; *p != '\0';) {
    size_t run = strcspn(p, "'");
    fl_buf_add(b, p, run);
    p += run;
    if (*p == '\'') {
      fl_buf_puts(b, "'\\''");
      p++;
    }
  }
  fl_buf_puts(b, "'");
  return b->full ? UV_ENOBUFS : 0;
}

int fl_buf_vprintf(fl_buf_t *b, const char *fmt, va_list ap) {
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof(small), fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return UV_EINVAL;
  if ((size_t)n < sizeof(small))
    return fl_buf_add(b, small, (size_t)n);
  char *big = fl_malloc((size_t)n + 1);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  int rc = fl_buf_add(b, big, (size_t)n);
  fl_free(big);
  return rc;
}

int fl_buf_printf(fl_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = fl_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

size_t fl_utf8_next(const unsigned char *s, size_t n, unsigned *cp) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, min = 0x80, c &= 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, min = 0x800, c &= 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, min = 0x10000, c &= 0x07;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  if (n < len) {
    *cp = 0xFFFD;
    return 1;
  }
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    c = (c << 6) | (s[i] & 0x3F);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = c;
  return len;
}

/* Whether XML 1.0 allows code point cp in a document at all. */
static int xml_char_ok(unsigned cp) {
  if (cp < 0x20)
    return cp == '\t' || cp == '\n' || cp == '\r';
  return cp != 0xFFFE && cp != 0xFFFF && !(cp >= 0x7F && cp <= 0x9F);
}

int fl_buf_escn(fl_buf_t *b, const char *s, size_t n, size_t max_bytes, int flags) {
  if (s == NULL)
    return 0;
  const unsigned char *p = (const unsigned char *)s;
  int cut = 0;
  if (max_bytes != 0 && n > max_bytes) {
    n = max_bytes;
    /* Back up to a character boundary so the cut never splits one. */
    while (n > 0 && (p[n] & 0xC0) == 0x80)
      n--;
    cut = 1;
  }
  size_t run = 0; /* start of the pending run of bytes that need no escaping */
  size_t i = 0;
  while (i < n) {
    unsigned cp;
    size_t len = fl_utf8_next(p + i, n - i, &cp);
    const char *rep = NULL;
    switch (cp) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    case '\n':
      rep = (flags & FL_ESC_ONELINE) ? " " : (flags & FL_ESC_ATTR) ? "&#10;" : NULL;
      break;
    case '\t':
      rep = (flags & FL_ESC_ONELINE) ? " " : (flags & FL_ESC_ATTR) ? "&#9;" : NULL;
      break;
    case '\r':
      rep = (flags & FL_ESC_ONELINE) ? "" : "&#13;";
      break;
    default:
      if (cp == 0xFFFD || !xml_char_ok(cp))
        rep = "\xEF\xBF\xBD";
      break;
    }
    if (rep != NULL) {
      fl_buf_add(b, p + run, i - run);
      fl_buf_puts(b, rep);
      run = i + len;
    }
    i += len;
  }
  fl_buf_add(b, p + run, n - run);
  if (cut)
    fl_buf_puts(b, "\xE2\x80\xA6");
  return b->full ? UV_ENOBUFS : 0;
}

int fl_buf_esc(fl_buf_t *b, const char *s, size_t max_bytes, int flags) {
  if (s == NULL)
    return 0;
  return fl_buf_escn(b, s, strlen(s), max_bytes, flags);
}

int fl_buf_write_file(const fl_buf_t *b, const char *path, fl_err_t *err) {
  if (b->full)
    return fl_err_set(err, UV_ENOBUFS, "%s: the report would exceed %zu bytes", path,
                      b->max);
  char *tmp = fl_asprintf("%s.tmp", path);
  int rc = 0;
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    rc = fl_err_set(err, -errno, "%s: %s", tmp, strerror(errno));
    goto out;
  }
  size_t wrote = fwrite(fl_buf_str(b), 1, b->len, f);
  int werr = wrote != b->len ? errno : 0;
  if (fclose(f) != 0 && werr == 0)
    werr = errno;
  if (werr != 0) {
    rc = fl_err_set(err, -(werr ? werr : EIO), "%s: %s", tmp, strerror(werr));
    remove(tmp);
    goto out;
  }
  if (rename(tmp, path) != 0) {
    rc = fl_err_set(err, -errno, "%s: %s", path, strerror(errno));
    remove(tmp);
  }
out:
  fl_free(tmp);
  return rc;
}
