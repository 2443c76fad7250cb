/* Internals of the TCP proxy shared by proxy.c (the API and the listener),
 * proxy_conn.c (a connection's sockets) and proxy_link.c (one direction of a
 * connection: toxic chain, queues, splice). Not for use outside faults/.
 *
 * Why uv_poll and not uv_tcp: the zero-copy path splices between the raw
 * sockets, and libuv forbids a uv_poll and a uv_tcp on the same descriptor.
 * Rather than switching one socket between two kinds of handle while bytes
 * are in flight, every socket of the proxy is a plain non-blocking socket
 * driven by one uv_poll, and each direction picks, read by read, between
 * splice(2) through a pipe (no toxic, nothing queued) and read(2) into the
 * toxic chain. The switch is then just a branch, and order is kept by one
 * rule: bytes in the pipe are written before anything queued behind them,
 * and the pipe is only filled while nothing is queued. */
#ifndef FL_PROXY_INT_H
#define FL_PROXY_INT_H

#include <sys/socket.h>
#include <uv.h>

#include "faults/proxy.h"
#include "faults/proxy_buf.h"
#include "faults/toxic.h"
#include "faults/http_rule.h"

struct fl_phttp_s;

/* Stop reading a source while this much waits for its destination socket. */
#define FL_PROXY_WRITE_HWM (256 * 1024)
/* ... or while this much is held by its toxics (latency, bandwidth). */
#define FL_PROXY_HOLD_CAP (1024 * 1024)
/* Most chunks a stage passes on before the writer catches up (slicer). */
#define FL_PROXY_QUEUE_CHUNKS 256
/* A splice that moves less than this goes back to recv/send. */
#define FL_PROXY_SPLICE_MIN (16 * 1024)
/* Bytes read from one socket per readiness callback, for fairness. */
#define FL_PROXY_READ_BUDGET (512 * 1024)

enum { FL_SIDE_CLIENT = 0, FL_SIDE_SERVER = 1 };
/* Index of a link in conn->link: upstream reads the client. */
enum { FL_LINK_UP = 0, FL_LINK_DOWN = 1 };

enum {
  FL_CONN_HELD = 1,   /* came during a partition: the upstream waits for heal */
  FL_CONN_RESOLVING,  /* looking up the upstream's name */
  FL_CONN_CONNECTING, /* connect(2) in progress */
  FL_CONN_OPEN,
  FL_CONN_CLOSING /* handles closing; freed in the last close callback */
};

typedef struct fl_link_s {
  struct fl_conn_s *conn;
  int index;          /* FL_LINK_UP or FL_LINK_DOWN */
  fl_stage_t *stages; /* the toxic chain, in the order the toxics were added */
  int nactive;        /* stages whose toxic this connection drew */
  fl_chunkq_t out;    /* through every stage, waiting for the destination */
  int out_end;        /* FL_END_*: what follows out */
  fl_pipe_t *pipe;    /* splice path; its bytes go before out */
  size_t pipe_bytes;
  uint64_t deadline;    /* earliest stage deadline, ns; 0 none */
  unsigned src_eof : 1; /* EOF read from the source */
  unsigned shut : 1;    /* the destination got shutdown(SHUT_WR) */
  unsigned blocked : 1; /* the destination said EAGAIN: wait until writable */
  unsigned starved : 1; /* a stage waits for room in the queue after it */
  unsigned bulk : 1;    /* reads fill the buffer: splice pays off */
} fl_link_t;

typedef struct fl_conn_s {
  struct fl_conn_s *prev, *next; /* the proxy's connections */
  struct fl_proxy_s *proxy;
  uint64_t serial;
  uint64_t seed; /* the proxy's seed when the connection came */
  int state;
  int fd[2]; /* by FL_SIDE_*; -1 when none */
  uv_poll_t poll[2];
  int mask[2];        /* events asked of poll[i]; -1: poll[i] not initialized */
  uint64_t timer_due; /* ns of the next toxic deadline; 0 none */
  size_t heap_idx;    /* slot in the proxy's deadline heap; 0 none */
  fl_link_t link[2];
  int reset_req;           /* a stage asked for a reset */
  struct fl_phttp_s *http; /* the HTTP layer (proxy_http.c); NULL: bytes only */
  int http_kick;           /* the HTTP layer has an answer for the client */
  int handles;             /* handles still to close */
  struct fl_resolve_s *resolve;
} fl_conn_t;

typedef struct fl_listener_s {
  uv_poll_t poll;
  int fd;
  struct fl_proxy_s *proxy; /* NULL once closed */
} fl_listener_t;

struct fl_proxy_s {
  uv_loop_t *loop;
  char *name;
  char *upstream;
  char listen[80];
  struct sockaddr_storage listen_addr; /* with the bound port */
  struct sockaddr_storage up_addr;     /* when up_numeric */
  int up_numeric;
  char *up_host; /* otherwise, resolved per connection */
  char *up_port;
  fl_listener_t *listener; /* NULL when disabled */
  uv_timer_t retry;        /* accept paused after EMFILE */
  union {
    uv_poll_t poll; /* on timer_fd (Linux) */
    uv_timer_t uv;  /* elsewhere */
  } timer;
  int timer_fd;
  int timer_closed;
  uint64_t timer_armed;
  fl_conn_t **heap; /* connections by timer_due, 1-based */
  size_t heap_len;
  size_t heap_cap;
  int enabled;
  int partition; /* FL_UPSTREAM | FL_DOWNSTREAM cut */
  int splice;
  fl_toxic_t *toxics;
  uint64_t toxic_serial;
  fl_http_rule_t *http_rules; /* HTTP fault rules, in the order added */
  uint64_t http_serial;       /* rules ever added, for default names */
  fl_conn_t *conns;
  uint64_t conn_serial;
  uint64_t seed;
  fl_pool_t pool;
  fl_chunk_t *rbuf; /* spare big chunk that reads land in */
  fl_proxy_stats_t stats;
  fl_timeline_t *tl;
  int fault_partition;
  int fault_down;
  int closing;
  int handles; /* the proxy's own handles still open (retry timer) */
  void (*close_cb)(void *arg);
  void *close_arg;
};

/* proxy_conn.c */
/* Takes fd (accepted, non-blocking): proxies it to the upstream. */
void fl_conn_start(fl_proxy_t *p, int fd);
/* A connection held by a partition goes on to its upstream. */
void fl_conn_proceed(fl_conn_t *c);
/* Closes c: FL_END_CLOSE with a FIN to both peers, or reset != 0 with RST. */
void fl_conn_close(fl_conn_t *c, int reset);
/* Recomputes what c's polls wait for and when its timer fires. */
void fl_conn_update(fl_conn_t *c);
/* Called by the proxy when the last connection is freed. */
void fl_proxy_conn_gone(fl_proxy_t *p);

/* proxy_link.c: the HTTP layer of c, when its proxy has HTTP rules. */
void fl_link_http_start(fl_conn_t *c);

/* proxy_timer.c */
/* Sets up the proxy's deadline timer: one handle, which the caller counts in
 * p->handles. Always succeeds (falls back to a uv_timer). */
int fl_ptimer_init(fl_proxy_t *p);
/* c's next deadline is due (uv_hrtime ns; 0 = none). */
void fl_ptimer_set(fl_proxy_t *p, fl_conn_t *c, uint64_t due);
void fl_ptimer_close(fl_proxy_t *p, uv_close_cb cb);

/* proxy_link.c */
void fl_link_init(fl_link_t *l, fl_conn_t *c, int index);
/* Frees everything the link holds (stages, chunks, pipe). */
void fl_link_clear(fl_link_t *l);
/* Adds a stage for toxic t at the end of the chain. */
void fl_link_add_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now);
/* Removes the stage of t (its data passed on, or as its kind says). */
void fl_link_remove_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now);
/* t's attributes (and maybe toxicity) changed. */
void fl_link_update_stage(fl_link_t *l, const fl_toxic_t *t, uint64_t now);
/* The source is readable: read or splice up to the budget. */
void fl_link_on_readable(fl_link_t *l);
/* The destination is writable again. */
void fl_link_on_writable(fl_link_t *l);
/* Runs the chain and writes what it can. May close the connection. */
void fl_link_pump(fl_link_t *l);
/* Should the source be read now? */
int fl_link_want_read(const fl_link_t *l);
/* Is the link cut by a partition? */
int fl_link_cut(const fl_link_t *l);

/* proxy_addr.c */
/* Parses "host:port" / "[v6]:port". host may be empty (any address) or
 * "localhost"; name_ok allows other names (then *numeric = 0 and host/port
 * are returned new). Returns 0 or FL_ECONFIG naming `field`. */
int fl_addr_parse(const char *s, const char *field, int name_ok,
                  struct sockaddr_storage *out, int *numeric, char **host, char **port,
                  fl_err_t *err);
/* Writes "a.b.c.d:port" or "[v6]:port" into buf. */
void fl_addr_format(const struct sockaddr *sa, char *buf, size_t size);
socklen_t fl_addr_len(const struct sockaddr *sa);

#endif
