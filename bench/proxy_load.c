/* proxy_load: the small clients and servers of bench/proxy_bench.sh.
 *
 *   proxy_load port                   prints a free port
 *   proxy_load wait PORT              waits until something listens on PORT
 *   proxy_load echo PORT              echo server on 127.0.0.1:PORT (libuv)
 *   proxy_load rtt ADDR CONNS ROUNDS [BASE_MS]
 *       CONNS connections, each doing ROUNDS sequential 1-byte round trips;
 *       prints median, p99 and max of (round trip - BASE_MS) in ms
 *   proxy_load idle ADDR N            opens N connections, checks each with one
 *       echoed byte, prints "ready" and holds them until stdin closes
 *   proxy_load churn ADDR N PAR       N short connections, PAR at a time: each
 *       connects, echoes 1 KiB, closes; prints how many echoed in full
 *   proxy_load soak ADDR CONNS SECONDS SIZE
 *       CONNS clients for SECONDS, each in a closed loop (send SIZE bytes, wait
 *       for the echo) on a connection it replaces every 100 round trips; the
 *       load is bounded by the round trip; prints round trips and reconnects
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* echo */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char slab[65536];
  (void)h;
  (void)hint;
  buf->base = slab;
  buf->len = sizeof(slab);
}

typedef struct {
  uv_write_t req;
  char data[];
} wreq_t;

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n < 0) {
    uv_close((uv_handle_t *)s, (uv_close_cb)free);
    return;
  }
  if (n == 0)
    return;
  wreq_t *w = malloc(sizeof(*w) + (size_t)n);
  memcpy(w->data, buf->base, (size_t)n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  uv_write(&w->req, s, &b, 1, on_written);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  uv_tcp_t *c = malloc(sizeof(*c));
  uv_tcp_init(server->loop, c);
  if (uv_accept(server, (uv_stream_t *)c) == 0) {
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
  } else {
    uv_close((uv_handle_t *)c, (uv_close_cb)free);
  }
}

static int run_echo(int port) {
  uv_tcp_t server;
  struct sockaddr_in a;
  uv_loop_t *loop = uv_default_loop();
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_init(loop, &server);
  if (uv_tcp_bind(&server, (struct sockaddr *)&a, 0) != 0 ||
      uv_listen((uv_stream_t *)&server, 4096, on_conn) != 0) {
    fprintf(stderr, "proxy_load echo: cannot listen on %d\n", port);
    return 1;
  }
  return uv_run(loop, UV_RUN_DEFAULT);
}

/* clients */

static int dial(const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(colon + 1));
  inet_pton(AF_INET, host, &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int ping(int fd) {
  char b = 'x';
  if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
    return -1;
  return recv(fd, &b, 1, MSG_WAITALL) == 1 ? 0 : -1;
}

typedef struct {
  const char *addr;
  int rounds;
  double *out;
} rtt_job_t;

static void *rtt_thread(void *arg) {
  rtt_job_t *j = arg;
  int fd = dial(j->addr);
  ping(fd); /* warm up: connect upstream, fill caches */
  for (int i = 0; i < j->rounds; i++) {
    double t0 = now_ms();
    if (ping(fd) != 0) {
      fprintf(stderr, "proxy_load rtt: connection lost\n");
      exit(1);
    }
    j->out[i] = now_ms() - t0;
  }
  close(fd);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int run_rtt(const char *addr, int conns, int rounds, double base) {
  pthread_t th[256];
  rtt_job_t jobs[256];
  int n = conns * rounds;
  double *v = calloc((size_t)n, sizeof(double));
  if (conns > 256)
    conns = 256;
  for (int i = 0; i < conns; i++) {
    jobs[i] = (rtt_job_t){addr, rounds, v + (size_t)i * rounds};
    pthread_create(&th[i], NULL, rtt_thread, &jobs[i]);
  }
  for (int i = 0; i < conns; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < n; i++)
    v[i] -= base;
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  printf("n=%d median=%.3f p99=%.3f max=%.3f\n", n, v[n / 2], v[(n * 99) / 100],
         v[n - 1]);
  free(v);
  return 0;
}

static int run_idle(const char *addr, int n) {
  int *fds = calloc((size_t)n, sizeof(int));
  for (int i = 0; i < n; i++) {
    fds[i] = dial(addr);
    if (ping(fds[i]) != 0) {
      fprintf(stderr, "proxy_load idle: connection %d got no echo\n", i);
      return 1;
    }
  }
  printf("ready\n");
  fflush(stdout);
  char b;
  while (read(0, &b, 1) > 0)
    ;
  for (int i = 0; i < n; i++)
    close(fds[i]);
  return 0;
}

/* Sends n bytes and reads the n echoed back; 0 when all came. */
static int echo_n(int fd, size_t n) {
  static __thread char buf[65536];
  if (n > sizeof(buf))
    n = sizeof(buf);
  memset(buf, 'y', n);
  if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
    return -1;
  return recv(fd, buf, n, MSG_WAITALL) == (ssize_t)n ? 0 : -1;
}

typedef struct {
  const char *addr;
  int count, size, seconds;
  long ok, rounds, reconnects;
} job_t;

static void *churn_thread(void *arg) {
  job_t *j = arg;
  for (int i = 0; i < j->count; i++) {
    int fd = dial(j->addr);
    if (echo_n(fd, 1024) == 0)
      j->ok++;
    close(fd);
  }
  return NULL;
}

static void *soak_thread(void *arg) {
  job_t *j = arg;
  double end = now_ms() + j->seconds * 1e3;
  while (now_ms() < end) {
    int fd = dial(j->addr);
    j->reconnects++;
    for (int i = 0; i < 100 && now_ms() < end; i++) {
      if (echo_n(fd, (size_t)j->size) != 0) {
        fprintf(stderr, "proxy_load soak: an echo was lost\n");
        exit(1);
      }
      j->rounds++;
    }
    close(fd);
  }
  return NULL;
}

static int run_jobs(const char *addr, int par, int count, int seconds, int size,
                    void *(*fn)(void *)) {
  pthread_t th[256];
  job_t jobs[256];
  long ok = 0, rounds = 0, reconnects = 0;
  if (par < 1 || par > 256)
    par = par < 1 ? 1 : 256;
  for (int i = 0; i < par; i++) {
    jobs[i] = (job_t){addr, count / par + (i < count % par), size, seconds, 0, 0, 0};
    pthread_create(&th[i], NULL, fn, &jobs[i]);
  }
  for (int i = 0; i < par; i++) {
    pthread_join(th[i], NULL);
    ok += jobs[i].ok;
    rounds += jobs[i].rounds;
    reconnects += jobs[i].reconnects;
  }
  if (fn == churn_thread)
    printf("connections=%d echoed=%ld\n", count, ok);
  else
    printf("round_trips=%ld connections=%ld\n", rounds, reconnects);
  return fn == churn_thread && ok != count;
}

/* Prints a port nothing listens on now (bound once, then released). */
static int run_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
    return 1;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("%d\n", ntohs(a.sin_port));
  close(fd);
  return 0;
}

/* Is something listening on port? Read from /proc/net/tcp{,6} so that the
 * check opens no connection (an iperf3 server counts every one). */
static int listening(int port) {
  static const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  char line[512];
  for (int f = 0; f < 2; f++) {
    FILE *fp = fopen(files[f], "r");
    if (fp == NULL)
      continue;
    while (fgets(line, sizeof(line), fp) != NULL) {
      char local[128];
      unsigned st;
      if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2)
        continue;
      char *colon = strrchr(local, ':');
      if (colon != NULL && st == 0x0A && (int)strtol(colon + 1, NULL, 16) == port) {
        fclose(fp);
        return 1;
      }
    }
    fclose(fp);
  }
  return 0;
}

/* Waits up to 10 s until something listens on port. */
static int run_wait(int port) {
  for (int i = 0; i < 200; i++) {
    if (listening(port))
      return 0;
    usleep(50000);
  }
  fprintf(stderr, "proxy_load wait: nothing listens on %d\n", port);
  return 1;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "port") == 0)
    return run_port();
  if (argc >= 3 && strcmp(argv[1], "wait") == 0)
    return run_wait(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "echo") == 0)
    return run_echo(atoi(argv[2]));
  if (argc >= 5 && strcmp(argv[1], "rtt") == 0)
    return run_rtt(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 ? atof(argv[5]) : 0);
  if (argc >= 4 && strcmp(argv[1], "idle") == 0)
    return run_idle(argv[2], atoi(argv[3]));
  if (argc >= 5 && strcmp(argv[1], "churn") == 0)
    return run_jobs(argv[2], atoi(argv[4]), atoi(argv[3]), 0, 0, churn_thread);
  if (argc >= 6 && strcmp(argv[1], "soak") == 0)
    return run_jobs(argv[2], atoi(argv[3]), 0, atoi(argv[4]), atoi(argv[5]), soak_thread);
  fprintf(stderr, "usage: proxy_load echo PORT | rtt ADDR CONNS ROUNDS [BASE_MS] | "
                  "idle ADDR N | churn ADDR N PAR | soak ADDR CONNS SECONDS SIZE\n");
  return 2;
}
