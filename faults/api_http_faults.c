/* faultline's extension for HTTP fault rules (proxy.h, "HTTP fault rules"),
 * under the /faultline/ prefix that Toxiproxy never uses:
 *
 *   GET    /faultline/proxies/{proxy}/http_faults         the rules, with counters
 *   POST   /faultline/proxies/{proxy}/http_faults         add a rule (201)
 *   GET    /faultline/proxies/{proxy}/http_faults/{rule}  one rule
 *   POST|PATCH /faultline/proxies/{proxy}/http_faults/{rule}  update it
 *   DELETE /faultline/proxies/{proxy}/http_faults/{rule}  remove it (204)
 *
 * A rule's JSON is the table p:add_http_fault{} takes in Lua. Why not a
 * toxic type "http" sent through Toxiproxy's generic add-toxic call: a toxic
 * is a per-connection, per-direction byte stage whose attributes are flat
 * numbers and whose `toxicity` is drawn once per connection, and clients
 * decode toxics into those structs; an HTTP rule is decided per request,
 * has nested fields (match, abort ...) and counters. Listing rules among
 * toxics would break clients that read toxics back, so they live here.
 * POST /reset removes them with the toxics (api_ext_reset). */
#include <string.h>

#include "faults/api_int.h"
#include "base/alloc.h"

/* seg: "faultline" "proxies" NAME "http_faults" [RULE] */
int api_httpf_match(char **seg, int nseg, const char *method, int *method_ok) {
  if ((nseg != 4 && nseg != 5) || strcmp(seg[0], "faultline") != 0 ||
      strcmp(seg[1], "proxies") != 0 || strcmp(seg[3], "http_faults") != 0)
    return 0;
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  int patch = strcmp(method, "PATCH") == 0, del = strcmp(method, "DELETE") == 0;
  *method_ok = nseg == 4 ? get || post : get || post || patch || del;
  return 1;
}

static json_t *body_object(const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[512];
  json_t *v = api_parse(req->body, req->body_len, msg, sizeof(msg));
  if (v == NULL) {
    api_error(res, 400, "bad request body: %s", msg);
  } else if (!json_is_object(v)) {
    api_error(res, 400, "bad request body: expected a JSON object");
    json_decref(v);
    v = NULL;
  }
  return v;
}

/* An error of fl_proxy_*_http_fault as an answer: 404 for no such rule,
 * 409 for a name in use, else 400. */
static void answer_error(fl_api_res_t *res, int rc, const fl_err_t *err) {
  int status = rc == UV_ENOENT ? 404 : strstr(err->msg, "exists") ? 409 : 400;
  api_error(res, status, "%s", err->msg);
}

static void create(api_proxy_t *ap, const fl_api_req_t *req, fl_api_res_t *res) {
  json_t *spec = body_object(req, res);
  if (spec == NULL)
    return;
  fl_err_t err = {0};
  char *name = NULL;
  int rc = fl_proxy_add_http_fault(ap->p, spec, &name, &err);
  json_decref(spec);
  if (rc < 0) {
    answer_error(res, rc, &err);
    return;
  }
  api_json(res, 201, fl_proxy_http_fault_json(ap->p, name));
  fl_free(name);
}

static void update(api_proxy_t *ap, const char *rule, const fl_api_req_t *req,
                   fl_api_res_t *res) {
  json_t *spec = body_object(req, res);
  if (spec == NULL)
    return;
  fl_err_t err = {0};
  int rc = fl_proxy_update_http_fault(ap->p, rule, spec, &err);
  json_decref(spec);
  if (rc < 0)
    answer_error(res, rc, &err);
  else
    api_json(res, 200, fl_proxy_http_fault_json(ap->p, rule));
}

void api_httpf_route(fl_api_t *api, const char *method, char **seg, int nseg,
                     const fl_api_req_t *req, fl_api_res_t *res) {
  api_proxy_t *ap = api_list_find(&api->tcp, seg[2]);
  if (ap == NULL) {
    api_error(res, 404, "proxy not found");
    return;
  }
  int get = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
  if (nseg == 4) {
    if (get)
      api_json(res, 200, fl_proxy_http_faults_json(ap->p));
    else
      create(ap, req, res);
    return;
  }
  if (get) {
    json_t *j = fl_proxy_http_fault_json(ap->p, seg[4]);
    if (j == NULL)
      api_error(res, 404, "http fault not found");
    else
      api_json(res, 200, j);
  } else if (del) {
    fl_err_t err = {0};
    int rc = fl_proxy_remove_http_fault(ap->p, seg[4], &err);
    if (rc < 0)
      answer_error(res, rc, &err);
    else
      api_empty(res, 204);
  } else {
    update(ap, seg[4], req, res);
  }
}

void api_httpf_reset(fl_api_t *api) {
  for (size_t i = 0; i < api->tcp.n; i++) {
    fl_proxy_t *p = ((api_proxy_t *)api->tcp.items[i])->p;
    json_t *all = fl_proxy_http_faults_json(p);
    size_t k;
    json_t *r;
    json_array_foreach(all, k, r) {
      fl_proxy_remove_http_fault(p, json_string_value(json_object_get(r, "name")), NULL);
    }
    json_decref(all);
  }
}
