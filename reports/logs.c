/* Reading the services' logs for the reports: the lines around a moment (for
 * the HTML's per-fault excerpts) and the last lines (for JUnit's system-out).
 * Logs can be large and are written by the services under test, so every read
 * is bounded: lines are cut, counts capped, and the file is read once. */
#include "reports/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* Parses the "[   5.012] " prefix. Returns 1 and sets *t and *rest, or 0. */
static int parse_stamp(const char *line, double *t, const char **rest) {
  const char *p = line;
  if (*p != '[')
    return 0;
  p++;
  while (*p == ' ')
    p++;
  char *end;
  double v = strtod(p, &end);
  if (end == p || *end != ']')
    return 0;
  *t = v;
  end++;
  if (*end == ' ')
    end++;
  *rest = end;
  return 1;
}

static void win_add(fl__logwin_t *w, double t, const char *text, size_t len,
                    size_t max_lines, size_t max_len) {
  if (w->n >= max_lines) {
    w->dropped++;
    return;
  }
  if (w->lines == NULL) {
    w->lines = fl_calloc(max_lines, sizeof(char *));
    w->ts = fl_calloc(max_lines, sizeof(double));
  }
  if (len > max_len) {
    /* Cut on a UTF-8 boundary; the escaper marks nothing, so say it here. */
    len = max_len;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
      len--;
    char *s = fl_malloc(len + 4);
    memcpy(s, text, len);
    memcpy(s + len, "\xE2\x80\xA6", 4);
    w->lines[w->n] = s;
  } else {
    w->lines[w->n] = fl_strndup(text, len);
  }
  w->ts[w->n++] = t;
}

int fl__log_windows(const char *path, fl__logwin_t *w, size_t nw, size_t max_lines,
                    size_t max_len) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -errno;
  double last_to = 0;
  for (size_t i = 0; i < nw; i++)
    last_to = w[i].to > last_to ? w[i].to : last_to;
  char chunk[4096];
  double t = 0;
  int at_start = 1; /* chunk begins a line */
  while (fgets(chunk, sizeof(chunk), f) != NULL) {
    size_t n = strlen(chunk);
    int whole = n > 0 && chunk[n - 1] == '\n';
    if (!at_start) {
      /* The tail of a line longer than the chunk: already cut. */
      at_start = whole;
      continue;
    }
    at_start = whole;
    while (n > 0 && (chunk[n - 1] == '\n' || chunk[n - 1] == '\r'))
      chunk[--n] = '\0';
    const char *text = chunk;
    double stamp;
    if (parse_stamp(chunk, &stamp, &text))
      t = stamp;
    /* Logs are written in time order: past the last window, nothing is left. */
    if (t > last_to + 1.0)
      break;
    for (size_t i = 0; i < nw; i++) {
      if (t >= w[i].from && t <= w[i].to)
        win_add(&w[i], t, text, n - (size_t)(text - chunk), max_lines, max_len);
    }
  }
  fclose(f);
  return 0;
}

void fl__logwin_clear(fl__logwin_t *w) {
  for (size_t i = 0; i < w->n; i++)
    fl_free(w->lines[i]);
  fl_free(w->lines);
  fl_free(w->ts);
  w->lines = NULL;
  w->ts = NULL;
  w->n = 0;
  w->dropped = 0;
}

int fl__log_tail_esc(fl_buf_t *b, const char *path, size_t max_lines) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -errno;
  const long window = 65536;
  int from_start = 1;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > window) {
      fseek(f, size - window, SEEK_SET);
      from_start = 0;
    } else {
      fseek(f, 0, SEEK_SET);
    }
  }
  char *data = fl_malloc((size_t)window + 1);
  size_t n = fread(data, 1, (size_t)window, f);
  fclose(f);
  data[n] = '\0';
  while (n > 0 && data[n - 1] == '\n')
    n--;
  /* Walk back max_lines newlines; a partial first line (we started mid-file)
   * is not shown. */
  size_t start = n, lines = 0;
  while (start > 0 && lines < max_lines) {
    start--;
    if (data[start] == '\n') {
      lines++;
      if (lines == max_lines) {
        start++;
        break;
      }
    }
  }
  if (start == 0 && !from_start) {
    char *nl = memchr(data, '\n', n);
    start = nl != NULL ? (size_t)(nl - data) + 1 : n;
  }
  int count = 0;
  for (size_t i = start; i < n;) {
    char *nl = memchr(data + i, '\n', n - i);
    size_t end = nl != NULL ? (size_t)(nl - data) : n;
    fl_buf_escn(b, data + i, end - i, 400, 0);
    fl_buf_puts(b, "\n");
    count++;
    i = end + 1;
  }
  fl_free(data);
  return count;
}
