/* Chunks, chunk queues and the pipe pool of the TCP proxy. */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#include "faults/proxy_buf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

static const uint32_t class_size[FL_CHUNK_CLASSES] = {FL_CHUNK_SMALL, FL_CHUNK_MEDIUM,
                                                      FL_CHUNK_BIG};
/* How many free chunks of each class a proxy keeps for reuse: enough for a
 * few busy connections, without holding on to a burst's worth forever. */
static const size_t class_keep[FL_CHUNK_CLASSES] = {512, 128, 64};
#define PIPE_KEEP 16

void fl_pool_init(fl_pool_t *pool) {
  memset(pool, 0, sizeof(*pool));
  pool->pipe_size = 256 * 1024;
}

void fl_pool_clear(fl_pool_t *pool) {
  for (int i = 0; i < FL_CHUNK_CLASSES; i++) {
    while (pool->free[i] != NULL) {
      fl_chunk_t *c = pool->free[i];
      pool->free[i] = c->next;
      fl_free(c);
    }
    pool->nfree[i] = 0;
  }
  fl_pool_clear_pipes(pool);
}

void fl_pool_clear_pipes(fl_pool_t *pool) {
  while (pool->pipes != NULL) {
    fl_pipe_t *pp = pool->pipes;
    pool->pipes = pp->next;
    fl_pipe_close(pp);
  }
  pool->npipes = 0;
}

fl_chunk_t *fl_chunk_new(fl_pool_t *pool, size_t need) {
  int cls = 0;
  while (cls < FL_CHUNK_CLASSES - 1 && need > class_size[cls] - sizeof(fl_chunk_t))
    cls++;
  assert(need <= class_size[cls] - sizeof(fl_chunk_t));
  fl_chunk_t *c = pool->free[cls];
  if (c != NULL) {
    pool->free[cls] = c->next;
    pool->nfree[cls]--;
  } else {
    c = fl_malloc(class_size[cls]);
  }
  c->next = NULL;
  c->t = 0;
  c->due = 0;
  c->off = 0;
  c->len = 0;
  c->cap = (uint32_t)(class_size[cls] - sizeof(fl_chunk_t));
  c->flags = 0;
  c->cls = (uint8_t)cls;
  return c;
}

void fl_chunk_free(fl_pool_t *pool, fl_chunk_t *c) {
  if (c == NULL)
    return;
  if (pool->nfree[c->cls] >= class_keep[c->cls]) {
    fl_free(c);
    return;
  }
  c->next = pool->free[c->cls];
  pool->free[c->cls] = c;
  pool->nfree[c->cls]++;
}

fl_chunk_t *fl_chunk_copy(fl_pool_t *pool, const char *p, size_t n) {
  fl_chunk_t *c = fl_chunk_new(pool, n);
  memcpy(c->data, p, n);
  c->len = (uint32_t)n;
  return c;
}

fl_chunk_t *fl_chunk_split(fl_pool_t *pool, fl_chunk_t *c, size_t n) {
  assert(n < c->len);
  fl_chunk_t *head = fl_chunk_copy(pool, c->data + c->off, n);
  head->t = c->t;
  head->due = c->due;
  head->flags = c->flags;
  c->off += (uint32_t)n;
  c->len -= (uint32_t)n;
  return head;
}

void fl_chunkq_push(fl_chunkq_t *q, fl_chunk_t *c) {
  c->next = NULL;
  if (q->tail != NULL)
    q->tail->next = c;
  else
    q->head = c;
  q->tail = c;
  q->bytes += c->len;
  q->count++;
}

fl_chunk_t *fl_chunkq_pop(fl_chunkq_t *q) {
  fl_chunk_t *c = q->head;
  if (c == NULL)
    return NULL;
  q->head = c->next;
  if (q->head == NULL)
    q->tail = NULL;
  q->bytes -= c->len;
  q->count--;
  c->next = NULL;
  return c;
}

void fl_chunkq_consumed(fl_chunkq_t *q, size_t n) {
  assert(q->bytes >= n);
  q->bytes -= n;
}

void fl_chunkq_clear(fl_chunkq_t *q, fl_pool_t *pool) {
  fl_chunk_t *c;
  while ((c = fl_chunkq_pop(q)) != NULL)
    fl_chunk_free(pool, c);
}

void fl_chunkq_append(fl_chunkq_t *dst, fl_chunkq_t *src) {
  if (src->head == NULL)
    return;
  if (dst->tail != NULL)
    dst->tail->next = src->head;
  else
    dst->head = src->head;
  dst->tail = src->tail;
  dst->bytes += src->bytes;
  dst->count += src->count;
  memset(src, 0, sizeof(*src));
}

fl_pipe_t *fl_pipe_get(fl_pool_t *pool) {
  fl_pipe_t *pp = pool->pipes;
  if (pp != NULL) {
    pool->pipes = pp->next;
    pool->npipes--;
    pp->next = NULL;
    return pp;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return NULL;
  /* A larger pipe moves more per splice call. The kernel may refuse (a
   * user's pipe quota); the default 64 KiB still works. */
  if (pool->pipe_size > 0)
    (void)fcntl(fds[1], F_SETPIPE_SZ, (int)pool->pipe_size);
  pp = fl_malloc(sizeof(*pp));
  pp->next = NULL;
  pp->rfd = fds[0];
  pp->wfd = fds[1];
  int cap = fcntl(fds[1], F_GETPIPE_SZ);
  pp->cap = cap > 0 ? (size_t)cap : 65536;
  return pp;
}

void fl_pipe_put(fl_pool_t *pool, fl_pipe_t *pp) {
  if (pp == NULL)
    return;
  if (pool->npipes >= PIPE_KEEP) {
    fl_pipe_close(pp);
    return;
  }
  pp->next = pool->pipes;
  pool->pipes = pp;
  pool->npipes++;
}

void fl_pipe_close(fl_pipe_t *pp) {
  if (pp == NULL)
    return;
  close(pp->rfd);
  close(pp->wfd);
  fl_free(pp);
}
