/* The proxy's clock for toxic deadlines: one min-heap of connections by
 * their next deadline and one timer per proxy (not one per connection).
 *
 * Why not uv_timer: libuv's timers count whole milliseconds of loop time,
 * and a deadline then fires up to 1 ms late, which a request/response
 * exchange locks onto (it always lands just after a millisecond boundary),
 * so "100 ms of latency" became 101.3. On Linux the timer is a timerfd armed
 * at the absolute deadline on CLOCK_MONOTONIC, the clock of uv_hrtime(), and
 * watched by a uv_poll: deadlines are met within tens of microseconds.
 * Elsewhere a uv_timer does it at millisecond precision. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include "faults/proxy_int.h"
#include "base/alloc.h"
#include "base/log.h"

/* The heap: 1-based slots in p->heap, c->heap_idx 0 = not queued. */

static int earlier(const fl_conn_t *a, const fl_conn_t *b) {
  return a->timer_due < b->timer_due;
}

static void heap_place(fl_proxy_t *p, size_t i, fl_conn_t *c) {
  p->heap[i] = c;
  c->heap_idx = i;
}

static void sift_up(fl_proxy_t *p, size_t i) {
  fl_conn_t *c = p->heap[i];
  while (i > 1 && earlier(c, p->heap[i / 2])) {
    heap_place(p, i, p->heap[i / 2]);
    i /= 2;
  }
  heap_place(p, i, c);
}

static void sift_down(fl_proxy_t *p, size_t i) {
  fl_conn_t *c = p->heap[i];
  for (;;) {
    size_t k = 2 * i;
    if (k > p->heap_len)
      break;
    if (k + 1 <= p->heap_len && earlier(p->heap[k + 1], p->heap[k]))
      k++;
    if (!earlier(p->heap[k], c))
      break;
    heap_place(p, i, p->heap[k]);
    i = k;
  }
  heap_place(p, i, c);
}

static void heap_remove(fl_proxy_t *p, fl_conn_t *c) {
  size_t i = c->heap_idx;
  fl_conn_t *last = p->heap[p->heap_len--];
  c->heap_idx = 0;
  if (last == c)
    return;
  heap_place(p, i, last);
  sift_up(p, i);
  sift_down(p, last->heap_idx);
}

static void on_uv_timer(uv_timer_t *t);

/* Arms the OS timer for the heap's top, if it changed. */
static void rearm(fl_proxy_t *p) {
  uint64_t due = p->heap_len > 0 ? p->heap[1]->timer_due : 0;
  if (due == p->timer_armed || p->timer_closed)
    return;
  p->timer_armed = due;
#ifdef __linux__
  if (p->timer_fd >= 0) {
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(due / 1000000000u);
    its.it_value.tv_nsec = (long)(due % 1000000000u);
    /* it_value 0 disarms; a deadline of exactly 0 never occurs. */
    timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    return;
  }
#endif
  if (due == 0) {
    uv_timer_stop(&p->timer.uv);
    return;
  }
  /* Loop time is uv_hrtime() in whole ms: aim at the first loop time at or
   * after the deadline so it never fires early. */
  uint64_t at_ms = (due + 999999u) / 1000000u;
  uint64_t now_ms = uv_now(p->loop);
  uv_timer_start(&p->timer.uv, on_uv_timer, at_ms > now_ms ? at_ms - now_ms : 1, 0);
}

static void fire(fl_proxy_t *p) {
  uint64_t now = uv_hrtime();
  /* Connections are pumped one at a time from the top; a pump may queue the
   * same connection again (later) or close others, which leaves the heap. */
  while (p->heap_len > 0 && p->heap[1]->timer_due <= now) {
    fl_conn_t *c = p->heap[1];
    heap_remove(p, c);
    c->timer_due = 0;
    fl_link_pump(&c->link[FL_LINK_UP]);
    fl_link_pump(&c->link[FL_LINK_DOWN]);
    fl_conn_update(c);
  }
  p->timer_armed = (uint64_t)-1; /* the OS timer fired: arm it again */
  rearm(p);
}

#ifdef __linux__
static void on_timerfd(uv_poll_t *h, int status, int events) {
  fl_proxy_t *p = h->data;
  uint64_t ticks;
  (void)status;
  (void)events;
  while (read(p->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EINTR)
    ;
  fire(p);
}
#endif

static void on_uv_timer(uv_timer_t *t) {
  fire(t->data);
}

void fl_ptimer_set(fl_proxy_t *p, fl_conn_t *c, uint64_t due) {
  if (p->timer_closed)
    return;
  if (due == c->timer_due && (due == 0) == (c->heap_idx == 0))
    return;
  if (c->heap_idx != 0) {
    if (due == 0) {
      heap_remove(p, c);
      c->timer_due = 0;
    } else {
      int up = due < c->timer_due;
      c->timer_due = due;
      if (up)
        sift_up(p, c->heap_idx);
      else
        sift_down(p, c->heap_idx);
    }
  } else if (due != 0) {
    if (p->heap_len + 1 >= p->heap_cap) {
      p->heap_cap = p->heap_cap ? p->heap_cap * 2 : 64;
      p->heap = fl_realloc(p->heap, p->heap_cap * sizeof(*p->heap));
    }
    c->timer_due = due;
    p->heap[++p->heap_len] = c;
    c->heap_idx = p->heap_len;
    sift_up(p, p->heap_len);
  }
  rearm(p);
}

int fl_ptimer_init(fl_proxy_t *p) {
  p->timer_fd = -1;
#ifdef __linux__
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd >= 0 && uv_poll_init(p->loop, &p->timer.poll, fd) == 0) {
    p->timer_fd = fd;
    p->timer.poll.data = p;
    uv_poll_start(&p->timer.poll, UV_READABLE, on_timerfd);
    return 0;
  }
  if (fd >= 0)
    close(fd);
  FL_LOG(FL_LOG_INFO, "proxy", "timerfd unavailable; toxic deadlines at 1 ms precision");
#endif
  uv_timer_init(p->loop, &p->timer.uv);
  p->timer.uv.data = p;
  return 0;
}

void fl_ptimer_close(fl_proxy_t *p, uv_close_cb cb) {
  p->heap_len = 0;
  fl_free(p->heap);
  p->heap = NULL;
  p->heap_cap = 0;
  if (p->timer_fd >= 0) {
    uv_close((uv_handle_t *)&p->timer.poll, cb);
    close(p->timer_fd);
  } else {
    uv_close((uv_handle_t *)&p->timer.uv, cb);
  }
  p->timer_closed = 1;
}
