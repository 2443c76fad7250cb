/* Buffers of the TCP proxy: chunks of bytes in three size classes kept on
 * per-proxy freelists (no malloc per chunk once the proxy is warm), FIFO
 * queues of chunks, and a pool of pipes for the splice path.
 * Internal to faults/. */
#ifndef FL_PROXY_BUF_H
#define FL_PROXY_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A chunk's total size (header included) is one of these classes. */
#define FL_CHUNK_SMALL 2048
#define FL_CHUNK_MEDIUM 16384
#define FL_CHUNK_BIG 65536
#define FL_CHUNK_CLASSES 3

/* Send this chunk with a write of its own (slicer), not merged with others. */
#define FL_CHUNK_ALONE 1u

typedef struct fl_chunk_s {
  struct fl_chunk_s *next;
  uint64_t t;   /* uv_hrtime() when it entered the stage that holds it */
  uint64_t due; /* scratch for the holding stage (a release time); 0 on entry */
  uint32_t off; /* first byte still to pass */
  uint32_t len; /* bytes still to pass, from off */
  uint32_t cap; /* bytes of data[] */
  uint16_t flags;
  uint8_t cls; /* size class */
  char data[];
} fl_chunk_t;

typedef struct fl_chunkq_s {
  fl_chunk_t *head;
  fl_chunk_t *tail;
  size_t bytes; /* sum of len */
  size_t count;
} fl_chunkq_t;

typedef struct fl_pipe_s {
  struct fl_pipe_s *next;
  int rfd;
  int wfd;
  size_t cap; /* bytes it holds, as the kernel says */
} fl_pipe_t;

typedef struct fl_pool_s {
  fl_chunk_t *free[FL_CHUNK_CLASSES];
  size_t nfree[FL_CHUNK_CLASSES];
  fl_pipe_t *pipes;
  size_t npipes;
  size_t pipe_size; /* capacity asked with F_SETPIPE_SZ */
} fl_pool_t;

/* Largest payload a chunk can carry. */
#define FL_CHUNK_MAX (FL_CHUNK_BIG - sizeof(fl_chunk_t))

void fl_pool_init(fl_pool_t *pool);
/* Frees every cached chunk and closes every cached pipe. */
void fl_pool_clear(fl_pool_t *pool);
/* Closes every cached pipe (when no connection is open, so that an idle
 * proxy holds no descriptor beyond its listener). */
void fl_pool_clear_pipes(fl_pool_t *pool);

/* Returns new: an empty chunk (off = len = 0) of the smallest class holding
 * `need` bytes (need <= FL_CHUNK_MAX). Free with fl_chunk_free. */
fl_chunk_t *fl_chunk_new(fl_pool_t *pool, size_t need);
void fl_chunk_free(fl_pool_t *pool, fl_chunk_t *c);
/* Returns new: a chunk holding a copy of n bytes (n <= FL_CHUNK_MAX). */
fl_chunk_t *fl_chunk_copy(fl_pool_t *pool, const char *p, size_t n);
/* Returns new: a chunk with a copy of c's first n bytes (n < c->len), which
 * c no longer holds. Flags and times are copied. */
fl_chunk_t *fl_chunk_split(fl_pool_t *pool, fl_chunk_t *c, size_t n);

void fl_chunkq_push(fl_chunkq_t *q, fl_chunk_t *c);
/* Returns the head (taken out of q) or NULL. */
fl_chunk_t *fl_chunkq_pop(fl_chunkq_t *q);
/* Bytes were consumed from the head in place (head->len already lowered). */
void fl_chunkq_consumed(fl_chunkq_t *q, size_t n);
/* Frees every chunk of q. */
void fl_chunkq_clear(fl_chunkq_t *q, fl_pool_t *pool);
/* Moves every chunk of src to the end of dst. */
void fl_chunkq_append(fl_chunkq_t *dst, fl_chunkq_t *src);

/* Returns a pipe from the pool or a new one (NULL if pipes are unavailable:
 * out of descriptors). Give it back empty with fl_pipe_put; a pipe that may
 * still hold bytes must be closed with fl_pipe_close. */
fl_pipe_t *fl_pipe_get(fl_pool_t *pool);
void fl_pipe_put(fl_pool_t *pool, fl_pipe_t *pp);
void fl_pipe_close(fl_pipe_t *pp);

#endif
