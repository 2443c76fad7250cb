/* libFuzzer target: raw bytes as HTTP requests to the Toxiproxy-compatible
 * API (faults/api_http.c parsing, faults/toxiproxy_api.c routing and every
 * endpoint's JSON handling). Each input is fed twice, to one session whole
 * and to another in pieces of 1 to 7 bytes, on a fresh API whose proxies all
 * listen on 127.0.0.1 with an ephemeral port; everything is closed and the
 * loop run to the end after each input, so leaks show.
 *
 *   CC=clang cmake -S . -B build-fuzz -DFL_FUZZ=ON && tools/fuzz.sh */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "faults/toxiproxy_api.h"
#include "base/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(char *data, size_t len, void *arg) {
  (void)len;
  (void)arg;
  fl_free(data);
  return 0;
}

static void feed(fl_api_session_t *s, const uint8_t *data, size_t size, size_t piece) {
  size_t off = 0;
  int done = 0;
  while (off < size && !done) {
    size_t n = piece ? (size - off < piece ? size - off : piece) : size - off;
    size_t used = fl_api_session_feed(s, (const char *)data + off, n, &done);
    /* The discarding writer never asks for a pause: all is used. */
    off += used ? used : n;
    if (piece)
      piece = piece % 7 + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uv_loop_t loop;
  static int ready;
  if (!ready) {
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    ready = 1;
  }
  fl_api_opts_t opts = {0};
  opts.listen_override = "127.0.0.1:0";
  opts.seed = 1;
  opts.seed_given = 1;
  fl_api_t *api;
  fl_api_new(&api, &loop, &opts);
  fl_api_limits_t lim;
  fl_api_limits_default(&lim);
  lim.max_body = 64 * 1024;
  lim.max_header = 8 * 1024;

  fl_api_session_t *whole = fl_api_session_new(&lim, fl_api_handle, api, discard, NULL);
  feed(whole, data, size, 0);
  fl_api_session_free(whole);
  fl_api_session_t *split = fl_api_session_new(&lim, fl_api_handle, api, discard, NULL);
  feed(split, data, size, 1);
  fl_api_session_free(split);

  fl_api_close(api, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  return 0;
}
