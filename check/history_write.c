/* The history writer: one JSON line per invoke and per completion, through a
 * stdio buffer that the run engine flushes on a timer and at exit. */
#include "check/history.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"

struct fl_history_s {
  FILE *fp;
  char *path;
  int write_err; /* the first failed write or flush (negative errno); sticky */
};

/* Remembers the first failure: a history with a hole is never complete. */
static int failed(fl_history_t *h) {
  if (h->write_err == 0)
    h->write_err = errno ? -errno : -EIO;
  clearerr(h->fp);
  return h->write_err;
}

int fl_history_open(fl_history_t **out, const char *path, fl_err_t *err) {
  *out = NULL;
  FILE *fp = fopen(path, "w");
  if (fp == NULL) {
    int e = -errno;
    return fl_err_set(err, e, "%s: %s", path, strerror(-e));
  }
  /* A large buffer: a busy workload writes a few hundred thousand lines. */
  setvbuf(fp, NULL, _IOFBF, 1 << 16);
  fl_history_t *h = fl_calloc(1, sizeof(*h));
  h->fp = fp;
  h->path = fl_strdup(path);
  *out = h;
  return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* Writes s as a JSON string, quotes included. */
static void put_string(FILE *fp, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  fputc('"', fp);
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c == '"' || c == '\\') {
      fputc('\\', fp);
      fputc((int)c, fp);
      i++;
    } else if (c < 0x20) {
      switch (c) {
      case '\n':
        fputs("\\n", fp);
        break;
      case '\r':
        fputs("\\r", fp);
        break;
      case '\t':
        fputs("\\t", fp);
        break;
      default:
        fprintf(fp, "\\u%04x", c);
      }
      i++;
    } else if (c < 0x80) {
      fputc((int)c, fp);
      i++;
    } else {
      size_t len = utf8_len(p + i, n - i);
      if (len == 0) {
        fputs("\\ufffd", fp);
        i++;
      } else {
        fwrite(p + i, 1, len, fp);
        i += len;
      }
    }
  }
  fputc('"', fp);
}

static void put_value(FILE *fp, const json_t *value) {
  if (value == NULL || json_dumpf(value, fp, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
    fputs("null", fp);
}

static int put_op(fl_history_t *h, int process, const char *type, const char *f,
                  const char *key, const json_t *value, uint64_t time_ns,
                  const char *error) {
  FILE *fp = h->fp;
  if (h->write_err)
    return h->write_err;
  errno = 0;
  fprintf(fp, "{\"process\":%d,\"type\":\"%s\",\"f\":", process, type);
  put_string(fp, f != NULL ? f : "");
  if (key != NULL) {
    fputs(",\"key\":", fp);
    put_string(fp, key);
  }
  fputs(",\"value\":", fp);
  put_value(fp, value);
  fprintf(fp, ",\"time\":%" PRIu64, time_ns);
  if (error != NULL) {
    fputs(",\"error\":", fp);
    put_string(fp, error);
  }
  if (fputs("}\n", fp) == EOF || ferror(fp))
    return failed(h);
  return 0;
}

int fl_history_invoke(fl_history_t *h, int process, const char *f, const char *key,
                      const json_t *value, uint64_t time_ns) {
  return put_op(h, process, "invoke", f, key, value, time_ns, NULL);
}

int fl_history_complete(fl_history_t *h, int process, const char *type, const char *f,
                        const char *key, const json_t *value, uint64_t time_ns,
                        const char *error) {
  if (type == NULL ||
      (strcmp(type, "ok") != 0 && strcmp(type, "fail") != 0 && strcmp(type, "info") != 0))
    return -EINVAL;
  return put_op(h, process, type, f, key, value, time_ns, error);
}

int fl_history_flush(fl_history_t *h) {
  if (h == NULL)
    return 0;
  errno = 0;
  if (h->write_err == 0 && fflush(h->fp) != 0)
    failed(h);
  return h->write_err;
}

int fl_history_write_error(const fl_history_t *h, fl_err_t *err) {
  if (h == NULL || h->write_err == 0)
    return 0;
  return fl_err_set(err, h->write_err, "cannot write %s: %s", h->path,
                    strerror(-h->write_err));
}

int fl_history_close(fl_history_t *h) {
  if (h == NULL)
    return 0;
  errno = 0;
  if (fclose(h->fp) != 0 && h->write_err == 0)
    h->write_err = errno ? -errno : -EIO;
  int rc = h->write_err;
  fl_free(h->path);
  fl_free(h);
  return rc;
}
