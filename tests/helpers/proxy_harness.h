/* Test harness for the proxy tests (tests/unit/test_proxy*.c, test_udp*.c):
 * the proxy's libuv loop runs on a thread of its own, and the test drives
 * real sockets on 127.0.0.1 with plain blocking calls, holding both ends
 * (the client, and the server side the proxy connected to). Calls into the
 * proxy are run on the loop's thread with pt_call, since a proxy is not
 * thread-safe. Header-only: everything is static inline. */
#ifndef FL_TEST_PROXY_HARNESS_H
#define FL_TEST_PROXY_HARNESS_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

typedef struct pt_loop_s {
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t async;
  uv_mutex_t mu;
  uv_cond_t cv;
  void (*fn)(void *);
  void *arg;
  int done;
} pt_loop_t;

static inline void pt_on_async(uv_async_t *a) {
  pt_loop_t *pt = a->data;
  uv_mutex_lock(&pt->mu);
  void (*fn)(void *) = pt->fn;
  void *arg = pt->arg;
  pt->fn = NULL;
  uv_mutex_unlock(&pt->mu);
  if (fn == NULL)
    return;
  fn(arg);
  uv_mutex_lock(&pt->mu);
  pt->done = 1;
  uv_cond_signal(&pt->cv);
  uv_mutex_unlock(&pt->mu);
}

static inline void pt_thread(void *arg) {
  pt_loop_t *pt = arg;
  uv_run(&pt->loop, UV_RUN_DEFAULT);
}

/* Starts a loop on a new thread. */
static inline void pt_start(pt_loop_t *pt) {
  memset(pt, 0, sizeof(*pt));
  uv_loop_init(&pt->loop);
  uv_mutex_init(&pt->mu);
  uv_cond_init(&pt->cv);
  uv_async_init(&pt->loop, &pt->async, pt_on_async);
  pt->async.data = pt;
  uv_thread_create(&pt->thread, pt_thread, pt);
}

/* Runs fn(arg) on the loop's thread and waits until it returned. */
static inline void pt_call(pt_loop_t *pt, void (*fn)(void *), void *arg) {
  uv_mutex_lock(&pt->mu);
  pt->fn = fn;
  pt->arg = arg;
  pt->done = 0;
  uv_mutex_unlock(&pt->mu);
  uv_async_send(&pt->async);
  uv_mutex_lock(&pt->mu);
  while (!pt->done)
    uv_cond_wait(&pt->cv, &pt->mu);
  uv_mutex_unlock(&pt->mu);
}

static inline void pt_close_async(void *arg) {
  pt_loop_t *pt = arg;
  uv_close((uv_handle_t *)&pt->async, NULL);
}

/* Stops the loop once every handle is closed (the caller closed its own
 * handles first, e.g. with fl_proxy_close through pt_call) and returns
 * uv_loop_close's result, which a test expects to be 0. */
static inline int pt_stop(pt_loop_t *pt) {
  uv_mutex_lock(&pt->mu);
  pt->fn = pt_close_async;
  pt->arg = pt;
  pt->done = 0;
  uv_mutex_unlock(&pt->mu);
  uv_async_send(&pt->async);
  uv_thread_join(&pt->thread);
  uv_mutex_destroy(&pt->mu);
  uv_cond_destroy(&pt->cv);
  return uv_loop_close(&pt->loop);
}

static inline double pt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void pt_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Number of open descriptors of this process. */
static inline int pt_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (d == NULL)
    return -1;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* A listening socket on 127.0.0.1 with an ephemeral port; *port set. */
static inline int pt_listen(int *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int one = 1;
  *port = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1024) != 0) {
    close(fd);
    return -1;
  }
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

/* A free port nothing listens on (bound once, then released). */
static inline int pt_free_port(void) {
  int port = 0;
  int fd = pt_listen(&port);
  close(fd);
  return port;
}

/* Connects to "127.0.0.1:PORT" (any "host:port" with a numeric IPv4 host).
 * Returns the socket, or -errno. */
static inline int pt_connect(const char *hostport) {
  char host[64];
  const char *colon = strrchr(hostport, ':');
  struct sockaddr_in a;
  if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
    return -EINVAL;
  memcpy(host, hostport, (size_t)(colon - hostport));
  host[colon - hostport] = '\0';
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(colon + 1));
  inet_pton(AF_INET, host, &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/* Waits up to ms for fd to be readable. 1 readable, 0 timeout. */
static inline int pt_wait_readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int rc;
  do
    rc = poll(&p, 1, ms);
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

/* accept() with a timeout; -1 on timeout. */
static inline int pt_accept(int lfd, int ms) {
  if (!pt_wait_readable(lfd, ms))
    return -1;
  int fd = accept(lfd, NULL, NULL);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

/* recv() with a timeout. Returns bytes, 0 at EOF, -errno on error, or
 * -ETIMEDOUT when nothing came within ms. */
static inline ssize_t pt_recv(int fd, void *buf, size_t n, int ms) {
  if (!pt_wait_readable(fd, ms))
    return -ETIMEDOUT;
  ssize_t r = recv(fd, buf, n, 0);
  return r < 0 ? -errno : r;
}

/* Reads exactly n bytes unless EOF/error/timeout (ms for the whole read).
 * Returns the bytes read, or -errno when an error came first. */
static inline ssize_t pt_recv_all(int fd, void *buf, size_t n, int ms) {
  size_t got = 0;
  double end = pt_now_ms() + ms;
  while (got < n) {
    int left = (int)(end - pt_now_ms());
    if (left <= 0)
      break;
    ssize_t r = pt_recv(fd, (char *)buf + got, n - got, left);
    if (r == -ETIMEDOUT)
      break;
    if (r < 0)
      return got > 0 ? (ssize_t)got : r;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static inline int pt_send_all(int fd, const void *buf, size_t n) {
  size_t sent = 0;
  while (sent < n) {
    ssize_t w = send(fd, (const char *)buf + sent, n - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    sent += (size_t)w;
  }
  return 0;
}

/* Sends a to the peer of wfd while reading n bytes from rfd into out, both at
 * once (so neither side's buffers fill up and deadlock), for at most ms.
 * Returns the bytes received. */
static inline size_t pt_xfer(int wfd, const char *a, size_t n, int rfd, char *out,
                             size_t want, int ms) {
  size_t sent = 0, got = 0;
  double end = pt_now_ms() + ms;
  while ((sent < n || got < want) && pt_now_ms() < end) {
    struct pollfd p[2] = {{rfd, POLLIN, 0}, {wfd, sent < n ? POLLOUT : 0, 0}};
    if (poll(p, 2, 50) <= 0)
      continue;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = recv(rfd, out + got, want - got, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        break;
      if (r > 0)
        got += (size_t)r;
    }
    if (sent < n && (p[1].revents & POLLOUT)) {
      size_t chunk = n - sent < 65536 ? n - sent : 65536;
      ssize_t w = send(wfd, a + sent, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0)
        sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR)
        break;
    }
  }
  return got;
}

/* Fills buf with pseudo-random bytes from seed. */
static inline void pt_random(char *buf, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = (char)(x >> 24);
  }
}

/* FNV-1a of n bytes, to compare payloads. */
static inline uint64_t pt_sum(const char *buf, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
  return h;
}

/* Closes fd with an RST (SO_LINGER 0). */
static inline void pt_close_reset(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

#endif
