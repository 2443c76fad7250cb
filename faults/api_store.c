/* The API's state as the endpoint files share it: the sorted lists of
 * proxies (by name, as Toxiproxy lists them), and letting go of an entry,
 * counted until its proxy has closed; the last close frees the API (see
 * fl_api_close in toxiproxy_api.c). Part of the toolbox every api_*.c file
 * may call (api_int.h); it calls none of them. */
#include <string.h>

#include "base/alloc.h"
#include "faults/api_int.h"

static const char *item_name(const void *item) {
  return *(char *const *)item; /* every entry starts with its name */
}

static size_t lower_bound(const api_list_t *l, const char *name) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (strcmp(item_name(l->items[mid]), name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void *api_list_find(const api_list_t *l, const char *name) {
  size_t i = lower_bound(l, name);
  return i < l->n && strcmp(item_name(l->items[i]), name) == 0 ? l->items[i] : NULL;
}

void api_list_insert(api_list_t *l, void *item) {
  size_t i = lower_bound(l, item_name(item));
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->items = fl_realloc(l->items, l->cap * sizeof(void *));
  }
  memmove(l->items + i + 1, l->items + i, (l->n - i) * sizeof(void *));
  l->items[i] = item;
  l->n++;
}

void api_list_remove(api_list_t *l, const void *item) {
  for (size_t i = 0; i < l->n; i++) {
    if (l->items[i] == item) {
      memmove(l->items + i, l->items + i + 1, (l->n - i - 1) * sizeof(void *));
      l->n--;
      return;
    }
  }
}

void api_list_free(api_list_t *l) {
  fl_free(l->items);
  memset(l, 0, sizeof(*l));
}

void api_part_closed(void *arg) {
  fl_api_t *api = arg;
  if (--api->closes > 0 || !api->closing)
    return;
  void (*cb)(void *) = api->close_cb;
  void *cb_arg = api->close_arg;
  api_list_free(&api->tcp);
  api_list_free(&api->udp);
  fl_free(api);
  if (cb != NULL)
    cb(cb_arg);
}

void api_proxy_free(fl_api_t *api, api_proxy_t *ap) {
  api->closes++;
  fl_proxy_close(ap->p, api_part_closed, api);
  fl_free(ap->name);
  fl_free(ap->listen);
  fl_free(ap->from);
  fl_free(ap->to);
  fl_free(ap);
}

void api_udp_free(fl_api_t *api, api_udp_t *au) {
  api->closes++;
  fl_udp_proxy_close(au->u, api_part_closed, api);
  fl_free(au->name);
  fl_free(au->from);
  fl_free(au->to);
  fl_free(au);
}
