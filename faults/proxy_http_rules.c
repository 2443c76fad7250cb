/* A proxy's HTTP fault rules: adding, updating, removing and listing them
 * (proxy.h). The rules are applied by proxy_http.c on connections accepted
 * while the proxy has any. */
#include <string.h>

#include "faults/proxy_int.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "base/error.h"

static fl_http_rule_t **rule_slot(const fl_proxy_t *p, const char *name) {
  fl_http_rule_t **pp = (fl_http_rule_t **)&p->http_rules;
  while (*pp != NULL && strcmp((*pp)->name, name) != 0)
    pp = &(*pp)->next;
  return pp;
}

int fl_proxy_add_http_fault(fl_proxy_t *p, const json_t *spec, char **name_out,
                            fl_err_t *err) {
  char defname[32];
  fl_http_rule_t *r;
  if (name_out != NULL)
    *name_out = NULL;
  snprintf(defname, sizeof(defname), "http-%llu", (unsigned long long)p->http_serial + 1);
  int rc = fl_http_rule_parse(&r, spec, NULL, defname, err);
  if (rc)
    return rc;
  fl_http_rule_t **slot = rule_slot(p, r->name);
  if (*slot != NULL) {
    rc = fl_err_set(err, FL_ECONFIG,
                    "http fault %s: field \"name\": a rule of that name exists", r->name);
    fl_http_rule_free(r);
    return rc;
  }
  p->http_serial++;
  /* Draws in the order requests match, from the proxy's seed (itself the
   * run's seed and the proxy's name) and the rule's name. */
  fl_prng_seed(&r->rng, fl_seed_for(p->seed, r->name));
  *slot = r;
  if (name_out != NULL)
    *name_out = fl_strdup(r->name);
  return 0;
}

int fl_proxy_update_http_fault(fl_proxy_t *p, const char *name, const json_t *spec,
                               fl_err_t *err) {
  fl_http_rule_t **slot = rule_slot(p, name);
  fl_http_rule_t *old = *slot, *r;
  if (old == NULL)
    return fl_err_set(err, UV_ENOENT, "http fault %s: no such rule", name);
  if (json_object_get(spec, "name") != NULL &&
      !json_equal(json_object_get(spec, "name"), json_object_get(old->spec, "name")))
    return fl_err_set(err, FL_ECONFIG, "http fault %s: field \"name\" cannot change",
                      name);
  int rc = fl_http_rule_parse(&r, spec, old, NULL, err);
  if (rc)
    return rc;
  /* Requests in flight copied what they need at their decision: the old
   * rule can go now. */
  r->matched = old->matched;
  r->faulted = old->faulted;
  r->rng = old->rng;
  r->next = old->next;
  *slot = r;
  fl_http_rule_free(old);
  return 0;
}

int fl_proxy_remove_http_fault(fl_proxy_t *p, const char *name, fl_err_t *err) {
  fl_http_rule_t **slot = rule_slot(p, name);
  fl_http_rule_t *r = *slot;
  if (r == NULL)
    return fl_err_set(err, UV_ENOENT, "http fault %s: no such rule", name);
  *slot = r->next;
  fl_http_rule_free(r);
  return 0;
}

json_t *fl_proxy_http_faults_json(const fl_proxy_t *p) {
  json_t *a = json_array();
  for (const fl_http_rule_t *r = p->http_rules; r != NULL; r = r->next)
    json_array_append_new(a, fl_http_rule_to_json(r));
  return a;
}

json_t *fl_proxy_http_fault_json(const fl_proxy_t *p, const char *name) {
  fl_http_rule_t *r = *rule_slot(p, name);
  return r ? fl_http_rule_to_json(r) : NULL;
}
